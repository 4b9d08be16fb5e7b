"""Ports from a ref to an image: the bot's git remote, and the engine that builds and pushes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from chatops.domain.catalog import Bot
from chatops.domain.deployment import Commit

__all__ = ["BuildRequest", "ImageBuilder", "SourceControl"]


class SourceControl(Protocol):
    """The bot's git remote, through a local mirror."""

    def fetch(self, bot: Bot) -> None:
        """Bring the mirror up to date with the remote.

        Raises:
            SourceControlError: the remote cannot be reached or read.
        """
        ...

    def resolve(self, bot: Bot, ref: str) -> Commit:
        """The commit a branch, tag or sha names on the remote (after `fetch`).

        Raises:
            NotFound: no such ref.
        """
        ...

    def highest_release(self, bot: Bot) -> int:
        """The highest N among the remote's `<bot>/v<N>` tags, 0 when none."""
        ...

    def archive(self, bot: Bot, commit: str, subdir: str, dest: Path) -> None:
        """Write the tree of `commit` (below `subdir`) as a tar file.

        Raises:
            SourceControlError: the commit or subdir does not exist.
        """
        ...

    def tag_release(self, bot: Bot, *, version: int, commit: str, message: str) -> None:
        """Create the annotated tag `<bot>/v<N>` and push it; never moves an existing one.

        Raises:
            SourceControlError: the tag exists on another commit, or the push failed
                (the local tag is removed again).
        """
        ...

    def move_env_tag(self, bot: Bot, *, env: str, commit: str, message: str) -> None:
        """Force-move `<bot>/<env>` to `commit` and push it."""
        ...

    def log(
        self, bot: Bot, *, since: str | None, until: str, limit: int
    ) -> tuple[list[Commit], int]:
        """Commits in `since..until` (newest first, at most `limit`) and how many there are."""
        ...

    def compare_url(self, bot: Bot, *, base: str, head: str) -> str | None:
        """A web page comparing two commits, when the remote is on a known forge."""
        ...

    def is_ancestor(self, bot: Bot, ancestor: str, commit: str) -> bool:
        """Whether `ancestor` is `commit` or one of its ancestors (False when either is unknown).

        Raises:
            SourceControlError: git failed.
        """
        ...


def _as_is(line: str) -> str:
    return line


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """What to build. The builder keeps the context and the log: the service names them."""

    image: str  # <registry>/<bot>:v<N>
    context: Callable[[Path], None]  # writes the build context, a tar, at the path given
    dockerfile: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    log: Path | None = None  # where the output is kept, line by line, as it comes
    mask: Callable[[str], str] = _as_is  # hides secrets in each line before it goes anywhere


class ImageBuilder(Protocol):
    def build(
        self,
        request: BuildRequest,
        *,
        output: Callable[[str], None],
        stop: Callable[[], str | None] | None = None,
    ) -> str:
        """Build the image; stream its output lines; return the image id.

        The builder has `request.context` write the context where it likes (and removes
        it after), passes each line of output through `request.mask`, keeps it in
        `request.log` (written as it comes: the web view streams it) and hands it to
        `output`.

        `stop` is asked every few seconds, from another thread, whether to end the
        build early: when it answers with a reason, the build is ended on the engine
        (no step of it keeps running there) and BuildError is raised with that reason.

        Raises:
            BuildError: the build failed or was stopped (with the tail of its output).
            SourceControlError: the context could not be written.
        """
        ...

    def push(self, image: str) -> str:
        """Push to the registry; return the repository digest (`sha256:…`).

        Raises:
            RegistryError: the registry refused or cannot be reached.
        """
        ...

    def remove(self, image: str) -> None:
        """Drop the local tag `image` (the layers stay while a release uses them)."""
        ...
