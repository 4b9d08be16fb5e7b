"""Builds the object graph from the configuration: the only place that picks adapters.

`build(config, for_=...)` (application.py) wires one entry point; adapters.py
chooses each port's adapter and makes it on first use; wiring.py, running.py and
services.py make each service on first use, naming what it uses (the tests wire
their fakes through the same classes); monitoring.py wires the monitor's
services; slack.py and serving.py hold what only Slack and `serve` need;
tools.py is what the operator commands (`db`, `backup`, `config check
--online`, `demo`) reach in the adapters.
"""

from chatops.bootstrap.application import Application, Target, build

__all__ = ["Application", "Target", "build"]
