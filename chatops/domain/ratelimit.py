"""How many commands one person may send: a token bucket per person.

Each person may send `burst` requests at once, then `per_second` more each
second. Refusals come in bursts: the first refusal of a burst is the one worth
recording; the burst ends once the person has been quiet long enough for the
bucket to fill up again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Bucket", "Rate", "Verdict", "take"]


@dataclass(frozen=True, slots=True)
class Rate:
    burst: int
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_second <= 0:
            raise ValueError("a rate needs a burst of at least 1 and a positive refill")


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: float  # when `tokens` was counted, in seconds on the caller's clock
    limited: bool = False  # refused since the bucket was last full


class Verdict(enum.Enum):
    ADMIT = "admit"
    REFUSE_FIRST = "refuse_first"  # the first refusal of a burst
    REFUSE = "refuse"


def take(bucket: Bucket | None, rate: Rate, now: float) -> tuple[Bucket, Verdict]:
    """Spend one token of `bucket` (a full one when None) at `now`; the bucket after, and why."""
    if bucket is None:
        bucket = Bucket(float(rate.burst), now)
    tokens = min(float(rate.burst), bucket.tokens + max(0.0, now - bucket.at) * rate.per_second)
    limited = bucket.limited and tokens < rate.burst
    if tokens >= 1:
        return Bucket(tokens - 1, now, limited), Verdict.ADMIT
    return Bucket(tokens, now, True), Verdict.REFUSE if limited else Verdict.REFUSE_FIRST
