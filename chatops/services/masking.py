"""Masks a bot's secrets in any text that leaves chatops."""

from __future__ import annotations

import logging

from chatops.domain.catalog import Catalog
from chatops.domain.redact import Redactor
from chatops.errors import ChatOpsError
from chatops.services.ports import Secrets

__all__ = ["Masker"]

log = logging.getLogger(__name__)


class Masker:
    """Knows every secret value of a bot in an environment, and hides it."""

    def __init__(self, catalog: Catalog, secrets: Secrets) -> None:
        self._catalog = catalog
        self._secrets = secrets

    def redactor(self, bot: str, env: str) -> Redactor:
        """A redactor that knows every secret value of `bot` in `env`.

        Raises:
            ConfigError: the secrets cannot be read, or one is too short to be masked.
        """
        the_bot = self._catalog.bots.get(bot)
        target = the_bot.targets.get(env) if the_bot else None
        if the_bot is None or target is None:
            return Redactor()
        return Redactor.for_secrets(self._secrets.resolve(the_bot, target))

    def masked(self, bot: str, env: str, text: str) -> str:
        """`text` with the secrets of `bot` in `env` masked; withheld when they cannot be read."""
        try:
            return self.redactor(bot, env)(text)
        except ChatOpsError as exc:
            log.warning("withholding text about %s in %s: %s", bot, env, exc)
            return "(withheld: the secrets to mask in it could not be read)"
