"""chatops: deploy bots from git through staging to production, from Slack."""

__version__ = "0.1.0"
