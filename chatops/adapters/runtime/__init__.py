"""Runtimes that run releases: one Docker Engine, or a Docker Swarm."""
