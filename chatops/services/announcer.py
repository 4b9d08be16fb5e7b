"""Tells the channel how a deployment stands, from its view built once per change."""

from __future__ import annotations

import logging
from typing import Protocol

from chatops.domain.deployment import Deployment
from chatops.errors import ChatOpsError
from chatops.services.channel import Channel
from chatops.services.views import DeploymentView

__all__ = ["Announcer", "ViewSource"]

log = logging.getLogger(__name__)


class ViewSource(Protocol):
    """Builds the view of one deployment (`queries.Views`)."""

    def view(self, deployment_id: int, *, saved: Deployment | None = None) -> DeploymentView: ...


class Announcer:
    """Builds a deployment's view and tells the channel; never raises (a chat outage,
    or a view that cannot be built, never stops a deployment)."""

    def __init__(self, views: ViewSource, channel: Channel) -> None:
        self._views = views
        self._channel = channel

    def announce(self, deployment: Deployment) -> None:
        """Tell the channel how `deployment`, as its caller has just saved it, stands now
        (the view does not read it again)."""
        if deployment.id is None:
            return
        try:
            view = self._views.view(deployment.id, saved=deployment)
        except ChatOpsError:
            log.exception("cannot build the view of #%s", deployment.id)
            return
        self._channel.tell(view)
