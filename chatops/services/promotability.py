"""Whether a release may be promoted from its source environment now (DESIGN §2).

Asked when a promotion is requested and again at every approval: the release is
still live, healthy and soaked in the source, with no open alert and its
verification passed (or excused by an approver).
"""

from __future__ import annotations

import logging
from datetime import datetime

from chatops.domain.alerts import Alert
from chatops.domain.catalog import Catalog, Environment
from chatops.domain.deployment import Deployment
from chatops.domain.health import Health
from chatops.domain.policy import check_promotable
from chatops.domain.verification import Assessment
from chatops.errors import ChatOpsError
from chatops.services.observing import HealthObserver
from chatops.services.ports import UnitOfWork
from chatops.services.runs import verification_of

__all__ = ["Promotability", "SourceState"]

log = logging.getLogger(__name__)

SourceState = tuple[Deployment | None, list[Alert], Assessment | None]


class Promotability:
    """Reads what a promotion rests on in its source environment, and checks it."""

    def __init__(self, catalog: Catalog, *, observer: HealthObserver) -> None:
        self._catalog = catalog
        self._observer = observer

    def source_state(
        self, uow: UnitOfWork, bot: str, source: str, *, target: Environment, now: datetime
    ) -> SourceState:
        """What is live in `source`, its open alerts there, and its verification."""
        live = uow.deployments.live(bot, source)
        alerts = [a for a in uow.alerts.open_alerts(bot) if a.env == source]
        verified = verification_of(
            uow, self._catalog.environment(source).verify, live, soak=target.soak, now=now
        )
        return live, alerts, verified

    def check(
        self,
        state: SourceState,
        *,
        bot: str,
        source: str,
        target: Environment,
        health: Health,
        now: datetime,
    ) -> None:
        """Raises NotPromotable when the source does not allow the promotion (see the domain)."""
        live, alerts, verified = state
        check_promotable(
            source=source,
            target=target.name,
            live=live,
            health=health,
            soak=target.soak,
            now=now,
            bot=bot,
            open_alerts=alerts,
            verification=verified,
        )

    def health(self, bot: str, env: str) -> Health:
        """How what runs there looks now; unknown when it cannot be observed."""
        try:
            observation = self._observer.observe(bot, env)
        except ChatOpsError as exc:
            log.warning("cannot observe %s in %s: %s", bot, env, exc)
            return Health.UNKNOWN
        return observation.overall
