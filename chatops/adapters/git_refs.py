"""Reading and writing refs in a bot's mirror: commits, and tags local or on the remote."""

from __future__ import annotations

import re
from pathlib import Path

from chatops.adapters.git_command import GitCommand
from chatops.domain.catalog import Bot
from chatops.domain.deployment import Commit
from chatops.errors import SourceControlError

__all__ = [
    "COMMIT_FORMAT",
    "FULL_SHA",
    "SHA",
    "known_commit",
    "local_tag",
    "parse_commit",
    "peel",
    "read_commit",
    "remote_tag",
    "write_tag",
]

SHA = re.compile(r"[0-9a-fA-F]{7,40}")
FULL_SHA = re.compile(r"[0-9a-f]{40}")
COMMIT_FORMAT = "--format=%H%x00%an <%ae>%x00%s"


def peel(git: GitCommand, bot: Bot, mirror: Path, rev: str) -> str | None:
    """The commit `rev` names, or None."""
    return git.probe(
        bot,
        mirror,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{rev}^{{commit}}",
        doing="resolve",
    )


def known_commit(git: GitCommand, bot: Bot, mirror: Path, commit: str) -> None:
    if not FULL_SHA.fullmatch(commit) or peel(git, bot, mirror, commit) != commit:
        raise SourceControlError(
            f"{commit!r} is not a commit of {bot.name}",
            hint="give the full 40-digit sha of a fetched commit",
        )


def read_commit(git: GitCommand, bot: Bot, mirror: Path, sha: str) -> Commit:
    out = git.run(
        bot, mirror, "log", "-1", COMMIT_FORMAT, "--end-of-options", sha, "--", doing="read"
    )
    return parse_commit(out)


def local_tag(git: GitCommand, bot: Bot, mirror: Path, tag: str) -> str | None:
    """The commit the mirror's `tag` points to, or None when it has no such tag."""
    found = git.probe(
        bot,
        mirror,
        "rev-parse",
        "--verify",
        "--quiet",
        f"refs/tags/{tag}^{{commit}}",
        doing=f"look up {tag}",
    )
    return (found or "").strip() or None


def remote_tag(git: GitCommand, bot: Bot, mirror: Path, tag: str) -> str | None:
    """The commit the remote's `tag` points to, or None when the remote has no such tag."""
    ref = f"refs/tags/{tag}"
    peeled = f"{ref}^{{}}"  # an annotated tag's commit; git lists it only when asked
    out = git.run(
        bot, mirror, "ls-remote", "origin", ref, peeled, doing=f"look up {tag} on the remote"
    )
    found: dict[str, str] = {}
    for line in out.splitlines():
        oid, _, name = line.partition("\t")
        found[name] = oid
    return found.get(peeled, found.get(ref))


def write_tag(
    git: GitCommand, bot: Bot, mirror: Path, tag: str, *, commit: str, message: str
) -> None:
    """Make the annotated `tag` point at `commit`, moving it when it exists."""
    git.run(
        bot,
        mirror,
        "tag",
        "--annotate",
        "--force",
        "--cleanup=whitespace",  # keep lines starting with '#'
        f"--message={message}",
        "--end-of-options",
        tag,
        commit,
        doing=f"tag {tag}",
    )


def parse_commit(line: str) -> Commit:
    sha, author, subject = line.split("\x00", 2)
    return Commit(sha=sha, subject=subject, author=author)
