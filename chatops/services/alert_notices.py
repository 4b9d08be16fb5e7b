"""Messages about alerts: what one shows (its view), and telling the channel."""

from __future__ import annotations

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Catalog
from chatops.domain.rollbacks import HISTORY, previous_healthy
from chatops.services.channel import Channel, Links
from chatops.services.ports import UnitOfWorkFactory
from chatops.services.views import AlertView

__all__ = ["AlertNotices"]


class AlertNotices:
    """Builds the view of an alert and tells the channel about it; a chat outage is logged."""

    def __init__(
        self, uow: UnitOfWorkFactory, catalog: Catalog, *, links: Links, channel: Channel
    ) -> None:
        self._uow = uow
        self._catalog = catalog
        self._links = links
        self._channel = channel

    def view(self, alert: Alert) -> AlertView:
        """Everything a message about `alert` shows; an open one offers a rollback target."""
        with self._uow() as uow:
            deployment = uow.deployments.get(alert.deployment_id) if alert.deployment_id else None
            version = alert.version or (deployment.version if deployment else None)
            release = uow.releases.get(alert.bot, version) if version else None
            rollback_to = None
            if alert.open:
                history = uow.deployments.history(alert.bot, alert.env, limit=HISTORY)
                rollback_to = previous_healthy(
                    history, current=uow.deployments.live(alert.bot, alert.env)
                )
        return AlertView(
            alert=alert,
            channel=self._catalog.channel_for(alert.env),
            release=release,
            deployed_by=deployment.requested_by if deployment else None,
            rollback_to=rollback_to,
            page_url=self._links.page_url(alert.deployment_id),
        )

    def tell(self, alert: Alert) -> None:
        """Tell the channel how `alert` stands now."""
        self._channel.tell_alert(self.view(alert))
