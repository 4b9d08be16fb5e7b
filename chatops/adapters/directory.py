"""Who is who: user ids as given, with Slack user groups expanded when Slack is reachable."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["StaticDirectory"]


class StaticDirectory:
    """Takes every entry as a user id; groups (`S…`) match nobody."""

    def expand(self, entries: Iterable[str]) -> frozenset[str]:
        return frozenset(entries)
