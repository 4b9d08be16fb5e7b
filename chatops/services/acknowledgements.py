"""A person acknowledges an alert: they are on it, so its repeats stop telling the channel."""

from __future__ import annotations

from chatops.domain.alerts import Alert, AlertState
from chatops.domain.audit import Outcome
from chatops.domain.catalog import Catalog
from chatops.domain.policy import check_acknowledger
from chatops.errors import AlreadyDecided, NotFound
from chatops.services.alert_notices import AlertNotices
from chatops.services.alerts import audit_alert
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import Clock, Directory, UnitOfWorkFactory

__all__ = ["Acknowledgements"]


class Acknowledgements:
    """Who may acknowledge an alert, and recording that they did."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        catalog: Catalog,
        *,
        directory: Directory,
        clock: Clock,
        auditor: Auditor,
        notices: AlertNotices,
    ) -> None:
        self._uow = uow
        self._catalog = catalog
        self._directory = directory
        self._clock = clock
        self._auditor = auditor
        self._notices = notices

    def acknowledge(self, actor: Actor, alert_id: int) -> Alert:
        """Record that `actor` is on it: repeats stop notifying, the count goes on.

        Acknowledging an acknowledged alert changes nothing and returns it.

        Raises:
            NotFound: there is no alert `alert_id`.
            NotAllowed: `actor` is neither a deployer nor an approver of the alert's
                environment, nor an admin.
            AlreadyDecided: the alert is resolved already.
        """
        with self._auditor.refusals(actor, "ack_alert"), self._uow() as uow:
            alert = uow.alerts.get(alert_id)
            if alert is None:
                raise NotFound(f"there is no alert #{alert_id}")
            # who may is read from the stored alert's environment, not from the click
            environment = self._catalog.environments.get(alert.env)
            check_acknowledger(
                alert.env,
                actor.user,
                deployers=self._directory.expand(environment.deployers if environment else ()),
                approvers=self._directory.expand(environment.approvers if environment else ()),
                admins=self._catalog.admins,
            )
            if alert.state is AlertState.RESOLVED:
                raise AlreadyDecided(f"alert #{alert_id} is resolved already")
            if alert.state is AlertState.ACKNOWLEDGED:
                return alert
            alert = uow.alerts.save(alert.acknowledge(by=actor.user, at=self._clock.now()))
            audit_alert(
                self._auditor,
                uow,
                actor=actor,
                action="ack_alert",
                outcome=Outcome.OK,
                alert=alert,
            )
            uow.commit()
        self._notices.tell(alert)
        return alert
