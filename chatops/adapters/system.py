"""The real clock and the process table of this host."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["HostProcesses", "SystemClock"]


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "noboot"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, unique on this boot."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; fields after the closing paren are fixed
    return stat.rsplit(")", 1)[1].split()[19]


class HostProcesses:
    """Owner tokens `host:boot:pid:start`; liveness is known for processes of this host and boot."""

    def __init__(self) -> None:
        self._host = socket.gethostname()
        self._boot = _boot_id()
        self._me = f"{self._host}:{self._boot}:{os.getpid()}:{_start_time(os.getpid()) or 0}"

    def me(self) -> str:
        return self._me

    def alive(self, owner: str) -> bool | None:
        parts = owner.rsplit(":", 3)
        if len(parts) != 4:
            return None
        host, boot, pid, start = parts
        if host != self._host:
            return None
        if boot != self._boot:
            return False  # this host rebooted since: that process is gone
        try:
            return _start_time(int(pid)) == start
        except ValueError:
            return None
