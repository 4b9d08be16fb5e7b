"""Read-only use cases: releases, status, one deployment's view, logs (one façade, `Queries`)."""

from __future__ import annotations

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Catalog
from chatops.domain.deployment import Deployment
from chatops.errors import NotFound
from chatops.services.channel import Links
from chatops.services.context import Actor
from chatops.services.history import ReleaseHistory
from chatops.services.logs import LogReader
from chatops.services.ports import Clock, Directory, SourceControl, UnitOfWorkFactory
from chatops.services.status import Status
from chatops.services.viewfacts import ViewFacts
from chatops.services.viewing import MAX_CHANGES, build_view
from chatops.services.views import DeploymentView, ReleaseRow, StatusRow

__all__ = ["MAX_CHANGES", "Queries", "ReleaseHistory", "Status", "Views"]


class Views:
    """Reads one deployment, and builds its view: everything a message about it shows."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        directory: Directory,
        source: SourceControl,
        links: Links,
    ) -> None:
        self._catalog = catalog
        self._uow = uow
        self._clock = clock
        self._directory = directory
        self._source = source
        self._links = links
        self._facts = ViewFacts()  # what the views of one deployment reuse, once read

    def deployment(self, deployment_id: int) -> Deployment:
        """Raises NotFound for an unknown id."""
        with self._uow() as uow:
            deployment = uow.deployments.get(deployment_id)
        if deployment is None:
            raise NotFound(f"there is no deployment #{deployment_id}")
        return deployment

    def view(self, deployment_id: int, *, saved: Deployment | None = None) -> DeploymentView:
        """Everything a message about one deployment shows (see `viewing.build_view`).

        Args:
            saved: the deployment as its writer has just saved it: not read again
                (unless it is live).

        Raises:
            NotFound: there is no deployment `deployment_id`.
        """
        return build_view(
            deployment_id,
            saved=saved,
            catalog=self._catalog,
            uow=self._uow,
            clock=self._clock,
            directory=self._directory,
            source=self._source,
            page_url=self._links.page_url,
            facts=self._facts,
        )


class Queries:
    """The read side, as the entry points ask it: releases, status, a deployment and its
    view, logs."""

    def __init__(
        self, *, history: ReleaseHistory, status: Status, views: Views, logs: LogReader
    ) -> None:
        self._history = history
        self._status = status
        self._views = views
        self._logs = logs

    def releases(self, bot: str, env: str | None = None, *, limit: int = 20) -> list[ReleaseRow]:
        """See `ReleaseHistory.releases`."""
        return self._history.releases(bot, env, limit=limit)

    def status(self, bot: str | None = None, *, probe: bool = True) -> list[StatusRow]:
        """See `Status.status`."""
        return self._status.status(bot, probe=probe)

    def deployment(self, deployment_id: int) -> Deployment:
        """Raises NotFound for an unknown id."""
        return self._views.deployment(deployment_id)

    def view(self, deployment_id: int, *, saved: Deployment | None = None) -> DeploymentView:
        """See `Views.view`."""
        return self._views.view(deployment_id, saved=saved)

    def logs(self, actor: Actor, bot: str, env: str, *, lines: int = 50) -> str:
        """See `LogReader.logs`."""
        return self._logs.logs(actor, bot, env, lines=lines)

    def alert_logs(self, actor: Actor, alert_id: int, *, lines: int = 50) -> tuple[Alert, str]:
        """See `LogReader.alert_logs`."""
        return self._logs.alert_logs(actor, alert_id, lines=lines)
