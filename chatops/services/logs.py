"""Reading what a bot writes: the last lines of its output, masked, for its viewers."""

from __future__ import annotations

from chatops.domain.alerts import Alert
from chatops.domain.audit import Outcome
from chatops.domain.catalog import Catalog
from chatops.domain.names import validate_name
from chatops.domain.redact import Redactor
from chatops.domain.viewers import check_viewer, viewers_of
from chatops.errors import NotAllowed, NotFound
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.engines import Engines
from chatops.services.masking import Masker
from chatops.services.ports import Directory, UnitOfWorkFactory

__all__ = ["LogReader"]


class LogReader:
    """Answers `logs`: audited, for the environment's viewers, every secret masked."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        directory: Directory,
        engines: Engines,
        masker: Masker,
        auditor: Auditor,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._directory = directory
        self._engines = engines
        self._masker = masker
        self._auditor = auditor

    def logs(self, actor: Actor, bot: str, env: str, *, lines: int = 50) -> str:
        """The last lines of what runs, with every secret value masked, for the env's viewers.

        Reading logs is audited, and so is a refusal.

        Raises:
            NotFound: unknown bot or environment, or nothing runs there.
            NotAllowed: `actor` is not among the environment's viewers nor an admin.
            ConfigError: the secrets to mask cannot be read, or one is too short to mask.
        """
        with self._auditor.refusals(actor, "logs", bot=bot, env=env):
            _, environment, _ = self._catalog.target(
                validate_name("bot", bot), validate_name("environment", env)
            )
            check_viewer(
                environment,
                actor.user,
                viewers=self._directory.expand(viewers_of(environment)),
                admins=self._catalog.admins,
            )
        lines = max(1, min(lines, 1000))
        try:
            raw = self._engines.runtime(env).logs(bot, env, lines)
        except NotFound as exc:
            # the way there is the one policy allows: a promotion where env takes only those
            way = f"/promote {bot} {env}" if environment.promote_from else f"/deploy {bot} {env}"
            raise NotFound(exc.message, hint=f"`{way}` puts it there") from None
        text = self._masker.redactor(bot, env)(raw)
        self._auditor.alone(actor, "logs", Outcome.OK, bot=bot, env=env, detail=f"{lines} lines")
        return text

    def alert_logs(self, actor: Actor, alert_id: int, *, lines: int = 50) -> tuple[Alert, str]:
        """The alert, and the last lines of what runs where it fired (as `logs`).

        Raises:
            NotFound: there is no alert `alert_id`, or nothing runs there now.
            NotAllowed: as for `logs`.
        """
        with self._uow() as uow:
            alert = uow.alerts.get(alert_id)
        if alert is None:
            raise NotFound(f"there is no alert #{alert_id}")
        return alert, self.logs(actor, alert.bot, alert.env, lines=lines)

    def may_read(self, user: str, env: str) -> bool:
        """Whether `user` is among the viewers of `env` (or an admin)."""
        environment = self._catalog.environments.get(env)
        if environment is None:
            return False
        try:
            check_viewer(
                environment,
                user,
                viewers=self._directory.expand(viewers_of(environment)),
                admins=self._catalog.admins,
            )
        except NotAllowed:
            return False
        return True

    def redactor(self, bot: str, env: str) -> Redactor:
        """Masks every secret of `bot` in `env` (see `Masker.redactor`).

        Raises:
            ConfigError: the secrets cannot be read, or one is too short to mask.
        """
        return self._masker.redactor(bot, env)
