"""Test infrastructure for the real slack-bolt app: a Slack Web API stand-in and signed requests."""
