"""Bots' bare mirrors under `workdir/git/`: one at a time per bot, made whole or not at all."""

from __future__ import annotations

import fcntl
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chatops.adapters.git_command import GitCommand
from chatops.domain.catalog import Bot
from chatops.domain.names import validate_name
from chatops.errors import SourceControlError

__all__ = ["Mirrors"]


class Mirrors:
    """The bare mirrors of bots' remotes, each at `root/<bot>.git`.

    Every use of one bot's mirror holds that bot's thread lock and an exclusive `flock`
    on `root/<bot>.lock`, so threads and processes sharing the workdir take turns. A
    mirror appears by rename once its first fetch succeeded, so a half-made mirror is
    never seen.
    """

    def __init__(self, root: Path, git: GitCommand) -> None:
        self._root = root
        self._git = git
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @contextmanager
    def locked(self, bot: Bot) -> Iterator[Path]:
        """Hold the bot's mirror for this thread and process; yield its path."""
        name = validate_name("bot", bot.name)
        with self._locks_guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            try:
                self._root.mkdir(parents=True, exist_ok=True)
                with (self._root / f"{name}.lock").open("a") as lock_file:
                    fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
                    yield self._root / f"{name}.git"
            except OSError as exc:
                raise SourceControlError(f"the git mirror of {name} failed: {exc}") from exc

    def ensure(self, bot: Bot, mirror: Path) -> None:
        """Make the mirror when it does not exist yet."""
        if not mirror.exists():
            self.create(bot, mirror)

    def create(self, bot: Bot, mirror: Path) -> None:
        """Make the mirror by a first fetch into a temporary folder, renamed once whole."""
        if bot.repo.startswith("-"):
            raise SourceControlError(f"the repo of {bot.name} must not start with '-'")
        for stale in self._root.glob(f".{bot.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{bot.name}.tmp-", dir=self._root))
        try:
            self._git.run(bot, tmp, "init", "--quiet", "--bare", doing="create a mirror")
            for key, value in (
                ("remote.origin.url", bot.repo),
                ("remote.origin.fetch", "+refs/heads/*:refs/heads/*"),
                ("remote.origin.fetch", "+refs/tags/*:refs/tags/*"),
            ):
                self._git.run(bot, tmp, "config", "--add", key, value, doing="configure the mirror")
            self._git.run(bot, tmp, "fetch", "--quiet", "origin", doing="fetch")
            tmp.rename(mirror)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def remote_url(self, bot: Bot, mirror: Path) -> str | None:
        """The remote the mirror was made for; None when git cannot tell."""
        return self._git.probe(
            bot, mirror, "config", "--get", "remote.origin.url", doing="read the mirror"
        )
