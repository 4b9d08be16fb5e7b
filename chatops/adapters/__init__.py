"""Outbound adapters: git, docker, databases, secrets, Slack; each implements a port."""
