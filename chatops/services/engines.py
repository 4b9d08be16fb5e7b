"""Which engine runs, and which builds, for each environment."""

from __future__ import annotations

from collections.abc import Mapping

from chatops.errors import ConfigError
from chatops.services.ports import ImageBuilder, Runtime

__all__ = ["Engines"]


class Engines:
    """The runtime and the image builder of every environment."""

    def __init__(
        self, runtimes: Mapping[str, Runtime], builders: Mapping[str, ImageBuilder]
    ) -> None:
        self.runtimes = runtimes
        self.builders = builders

    def runtime(self, env: str) -> Runtime:
        try:
            return self.runtimes[env]
        except KeyError:
            raise ConfigError(f"no runtime is configured for environment {env!r}") from None

    def builder(self, env: str) -> ImageBuilder:
        try:
            return self.builders[env]
        except KeyError:
            raise ConfigError(f"no image builder is configured for environment {env!r}") from None
