"""Durations as people read them."""

from __future__ import annotations

from datetime import timedelta

__all__ = ["format_duration"]


def format_duration(delta: timedelta) -> str:
    """`3725 s` → `1h 2m 5s`; for messages."""
    seconds = max(0, int(delta.total_seconds() + 0.999))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return " ".join(p for p in parts if p) or "0s"
