"""A per-person limit on chat commands and button presses, kept in this process's memory.

Each replica counts on its own (behind a load balancer a person may get up to
one burst per replica); that is enough to stop a flood from one account. A
refusal is audited once per burst, not once per request.
"""

from __future__ import annotations

import threading

from chatops.domain.audit import Outcome
from chatops.domain.ratelimit import Bucket, Rate, Verdict, take
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import Clock

__all__ = ["DEFAULT_RATE", "Throttle"]

DEFAULT_RATE = Rate(burst=20, per_second=0.5)  # 20 at once, then one every 2 s
_MAX_PEOPLE = 10_000  # buckets kept before full ones are forgotten


class Throttle:
    """Admits or refuses one person's request; thread-safe."""

    def __init__(self, *, clock: Clock, auditor: Auditor, rate: Rate = DEFAULT_RATE) -> None:
        self._clock = clock
        self._auditor = auditor
        self._rate = rate
        self._buckets: dict[str, Bucket] = {}
        self._guard = threading.Lock()

    @property
    def rate(self) -> Rate:
        return self._rate

    def admit(self, actor: Actor, what: str) -> bool:
        """Whether `actor` may go on with `what` (a command or button) now.

        The first refusal of a burst is audited (`rate_limit`, refused).

        Raises:
            StoreError: the refusal could not be audited (the request is refused anyway).
        """
        now = self._clock.now().timestamp()
        with self._guard:
            bucket, verdict = take(self._buckets.get(actor.user), self._rate, now)
            self._buckets[actor.user] = bucket
            if len(self._buckets) > _MAX_PEOPLE:
                self._forget_full(now)
        if verdict is Verdict.REFUSE_FIRST:
            self._auditor.alone(
                actor,
                "rate_limit",
                Outcome.REFUSED,
                detail=f"{what}: more than {self._rate.burst} requests in a burst; "
                f"further ones are refused until the rate drops "
                f"(one every {1 / self._rate.per_second:g} s)",
            )
        return verdict is Verdict.ADMIT

    def _forget_full(self, now: float) -> None:
        for user, bucket in list(self._buckets.items()):
            refilled = bucket.tokens + (now - bucket.at) * self._rate.per_second
            if refilled >= self._rate.burst:
                del self._buckets[user]
