"""Inbound: the CLI, the console, the HTTP server, Slack handlers and scheduled jobs."""
