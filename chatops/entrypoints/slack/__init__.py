"""Slack: the bolt app, its listeners and Block Kit rendering."""
