"""Freeze windows from cron expressions, with APScheduler's cron trigger."""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from chatops.domain.catalog import Environment
from chatops.domain.policy import FreezeWindow

__all__ = ["CronFreezeCalendar"]


class CronFreezeCalendar:
    """A freeze is open when a cron start lies within `duration` before now."""

    def __init__(self) -> None:
        self._triggers: dict[tuple[str, str], CronTrigger] = {}

    def open_window(self, env: Environment, now: datetime) -> FreezeWindow | None:
        latest: FreezeWindow | None = None
        for rule in env.freeze:
            trigger = self._trigger(rule.cron, env.timezone)
            start = trigger.get_next_fire_time(None, now - rule.duration)
            if start is None or start > now:
                continue
            window = FreezeWindow(cron=rule.cron, starts_at=start, ends_at=start + rule.duration)
            if latest is None or window.ends_at > latest.ends_at:
                latest = window
        return latest

    def _trigger(self, cron: str, timezone: str) -> CronTrigger:
        key = (cron, timezone)
        if key not in self._triggers:
            self._triggers[key] = CronTrigger.from_crontab(cron, timezone=timezone)
        return self._triggers[key]
