"""Tells the channel: a chat outage is logged and never stops a deployment."""

from __future__ import annotations

import logging

from chatops.services.ports import Notifier
from chatops.services.views import AlertView, DeploymentView

__all__ = ["Channel", "Links"]

log = logging.getLogger(__name__)


class Links:
    """Addresses of the web view's pages, once `public_url` is set."""

    def __init__(self, public_url: str | None) -> None:
        self.public_url = public_url

    def page_url(self, deployment_id: int | None) -> str | None:
        if self.public_url is None or deployment_id is None:
            return None
        return f"{self.public_url}/ui/deployments/{deployment_id}"


class Channel:
    """The one place notifier failures are caught and logged."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def tell(self, view: DeploymentView) -> None:
        try:
            self._notifier.deployment_changed(view)
        except Exception:  # a chat outage never stops a deployment
            log.exception("could not tell the channel about deployment #%s", view.deployment.id)

    def tell_soaked(self, view: DeploymentView) -> None:
        try:
            self._notifier.deployment_soaked(view)
        except Exception:
            log.exception("could not tell the channel that #%s soaked", view.deployment.id)

    def tell_alert(self, view: AlertView) -> None:
        try:
            self._notifier.alert_changed(view)
        except Exception:
            log.exception("could not tell the channel about alert #%s", view.alert.id)
