"""The git adapter: each bot's remote through a local bare mirror, driven by GitPython.

Here: the port's operations. Beside it: `git_mirror` (making and locking the mirrors),
`git_refs` (reading commits, reading and writing tags) and `git_command` (running git
with a clean environment and a timeout).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath

from chatops.adapters.git_command import GitCommand
from chatops.adapters.git_mirror import Mirrors
from chatops.adapters.git_refs import (
    COMMIT_FORMAT,
    FULL_SHA,
    SHA,
    known_commit,
    local_tag,
    parse_commit,
    peel,
    read_commit,
    remote_tag,
    write_tag,
)
from chatops.domain.catalog import Bot
from chatops.domain.deployment import Commit
from chatops.domain.names import (
    DEFAULT_INSTANCE,
    env_tag,
    release_tag,
    release_tag_prefix,
    validate_name,
    validate_ref,
)
from chatops.domain.repos import remote_location
from chatops.errors import NotFound, SourceControlError

__all__ = ["GitSourceControl"]

_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")
_FORGES = {"github.com": "compare", "gitlab.com": "-/compare"}
_MAX_HINT_BRANCHES = 10
_LOG_CACHE = 512  # commit ranges remembered, so each message update reads no git


class GitSourceControl:
    """Bots' git remotes, each through a bare mirror under `workdir/git/<bot>.git`.

    Every operation on one bot's mirror holds that bot's thread lock and an
    exclusive `flock` on `workdir/git/<bot>.lock`, so threads and processes
    sharing the workdir take turns. A mirror appears by rename once its first
    fetch succeeded, so a half-made mirror is never seen.

    Args:
        workdir: chatops' working directory; mirrors live in its `git/` folder.
        author_name: the tagger of the tags chatops creates.
        author_email: the tagger's email.
        timeout: seconds after which any git command is killed.
        instance: the chatops instance; a non-default one prefixes every tag it makes
            (`<instance>/<bot>/v<N>`), so installations sharing a remote never collide.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        author_name: str = "chatops",
        author_email: str = "chatops@localhost",
        timeout: float = 120.0,
        instance: str = DEFAULT_INSTANCE,
    ) -> None:
        self._instance = validate_name("instance", instance)
        self._git = GitCommand(author_name=author_name, author_email=author_email, timeout=timeout)
        self._mirrors = Mirrors(workdir / "git", self._git)
        self._logs: dict[tuple[str, str | None, str, int], tuple[list[Commit], int]] = {}

    # ── the port ─────────────────────────────────────────────────────────

    def fetch(self, bot: Bot) -> None:
        """Bring the bot's mirror up to date: heads and tags, force-updated and pruned.

        The mirror is made on first use, and made afresh when the bot's `repo` changed.

        Raises:
            SourceControlError: the remote cannot be reached or read.
        """
        with self._mirrors.locked(bot) as mirror:
            if mirror.exists() and self._mirrors.remote_url(bot, mirror) != bot.repo:
                shutil.rmtree(mirror)
            if mirror.exists() and bot.push_tags:
                self._git.run(bot, mirror, "fetch", "--quiet", "--prune", "origin", doing="fetch")
            elif mirror.exists():
                # the tags chatops made live only here: prune branches, never tags
                heads = "+refs/heads/*:refs/heads/*"
                self._git.run(
                    bot, mirror, "fetch", "--quiet", "--prune", "origin", heads, doing="fetch"
                )
                tags = "+refs/tags/*:refs/tags/*"
                self._git.run(bot, mirror, "fetch", "--quiet", "origin", tags, doing="fetch tags")
            else:
                self._mirrors.create(bot, mirror)

    def resolve(self, bot: Bot, ref: str) -> Commit:
        """The commit that a branch, a tag or a (7+ digit) sha names in the mirror.

        Branches win over tags, and tags over shas.

        Raises:
            BadInput: `ref` is not a valid ref name.
            NotFound: no branch, tag or commit has that name.
            SourceControlError: git failed.
        """
        validate_ref(ref)
        candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}"]
        if ref.startswith(("refs/heads/", "refs/tags/")):
            candidates.insert(0, ref)
        if SHA.fullmatch(ref):
            candidates.append(ref.lower())
        with self._mirrors.locked(bot) as mirror:
            self._mirrors.ensure(bot, mirror)
            for candidate in candidates:
                sha = peel(self._git, bot, mirror, candidate)
                if sha is not None:
                    return read_commit(self._git, bot, mirror, sha)
            branches = self._git.run(
                bot,
                mirror,
                "for-each-ref",
                "--sort=-committerdate",
                f"--count={_MAX_HINT_BRANCHES}",
                "--format=%(refname:strip=2)",
                "refs/heads/",
                doing="list branches",
            ).split()
        hint = f"its branches include {', '.join(branches)}" if branches else "it has no branches"
        raise NotFound(
            f"{ref!r} is not a branch, tag or commit of {bot.name}",
            hint=f"{hint}; a new branch or tag must be pushed first",
        )

    def highest_release(self, bot: Bot) -> int:
        """The highest N among the mirror's `[<instance>/]<bot>/v<N>` tags, 0 when there is none.

        Raises:
            SourceControlError: git failed.
        """
        prefix = "refs/tags/" + release_tag_prefix(bot.name, self._instance)
        pattern = re.compile(rf"{re.escape(prefix)}([1-9][0-9]*)")
        with self._mirrors.locked(bot) as mirror:
            self._mirrors.ensure(bot, mirror)
            refs = self._git.run(
                bot,
                mirror,
                "for-each-ref",
                "--format=%(refname)",
                prefix.removesuffix("v"),
                doing="list release tags",
            )
        versions = [int(m.group(1)) for m in map(pattern.fullmatch, refs.split()) if m]
        return max(versions, default=0)

    def archive(self, bot: Bot, commit: str, subdir: str, dest: Path) -> None:
        """Write the tree of `commit` below `subdir` (`.` for all of it) to `dest` as a tar.

        Raises:
            SourceControlError: the commit or the subdir does not exist, or git failed.
        """
        inner = _inner_path(subdir)
        with self._mirrors.locked(bot) as mirror:
            self._mirrors.ensure(bot, mirror)
            known_commit(self._git, bot, mirror, commit)
            tree = f"{commit}:{inner}"
            kind = self._git.probe(
                bot, mirror, "cat-file", "-t", "--end-of-options", tree, doing="read"
            )
            if kind != "tree":
                raise SourceControlError(
                    f"the directory {subdir!r} does not exist in commit {commit[:8]} of {bot.name}",
                    hint="check the bot's `context` setting",
                )
            self._git.run(
                bot,
                mirror,
                "archive",
                "--format=tar",
                f"--output={dest.absolute()}",
                "--end-of-options",
                tree,
                doing=f"archive {commit[:8]}",
            )

    def tag_release(self, bot: Bot, *, version: int, commit: str, message: str) -> None:
        """Create the annotated tag `[<instance>/]<bot>/v<N>` on `commit` and push it
        (unless `push_tags` is off: then it stays in the mirror).

        A tag already on the remote at the same commit is left as it is.

        Raises:
            SourceControlError: the tag exists on another commit (release tags never
                move), or the push failed (the local tag is removed again).
        """
        tag = release_tag(validate_name("bot", bot.name), version, self._instance)
        with self._mirrors.locked(bot) as mirror:
            self._mirrors.ensure(bot, mirror)
            known_commit(self._git, bot, mirror, commit)
            if bot.push_tags:
                existing = remote_tag(self._git, bot, mirror, tag)
            else:
                existing = local_tag(self._git, bot, mirror, tag)
            if existing == commit:
                return
            if existing is not None:
                raise SourceControlError(
                    f"the release tag {tag} already exists on commit {existing[:8]}, "
                    f"not {commit[:8]}",
                    hint="release tags are never moved; deploy again to get a new version",
                )
            write_tag(self._git, bot, mirror, tag, commit=commit, message=message)
            if not bot.push_tags:
                return
            try:
                self._git.run(
                    bot,
                    mirror,
                    "push",
                    "--quiet",
                    "origin",
                    f"refs/tags/{tag}:refs/tags/{tag}",
                    doing=f"push {tag}",
                )
            except SourceControlError:
                self._git.probe(bot, mirror, "tag", "-d", "--end-of-options", tag, doing="untag")
                raise

    def move_env_tag(self, bot: Bot, *, env: str, commit: str, message: str) -> None:
        """Force-move the annotated tag `[<instance>/]<bot>/<env>` to `commit` and force-push it.

        Raises:
            SourceControlError: `env` looks like a release version, or git failed.
        """
        tag = env_tag(
            validate_name("bot", bot.name), validate_name("environment", env), self._instance
        )
        if re.fullmatch(r"v[0-9]+", env):
            raise SourceControlError(
                f"the environment name {env!r} would move the release tag {tag}",
                hint="rename the environment",
            )
        with self._mirrors.locked(bot) as mirror:
            self._mirrors.ensure(bot, mirror)
            known_commit(self._git, bot, mirror, commit)
            write_tag(self._git, bot, mirror, tag, commit=commit, message=message)
            if not bot.push_tags:
                return
            self._git.run(
                bot,
                mirror,
                "push",
                "--quiet",
                "origin",
                f"+refs/tags/{tag}:refs/tags/{tag}",
                doing=f"push {tag}",
            )

    def log(
        self, bot: Bot, *, since: str | None, until: str, limit: int
    ) -> tuple[list[Commit], int]:
        """Commits reachable from `until` and not from `since`, newest first.

        Returns:
            At most `limit` commits, and how many there are in all.

        Raises:
            BadInput: `since` or `until` is not a valid ref name.
            SourceControlError: a commit is unknown, or git failed.
        """
        key = (bot.name, since, until, limit)
        # a range between two commits never changes (one between branch names may)
        fixed = all(FULL_SHA.fullmatch(rev) for rev in (until, since or until))
        if fixed and key in self._logs:
            return self._logs[key]
        revs = [validate_ref(until)]
        if since is not None:
            revs.append(f"^{validate_ref(since)}")
        with self._mirrors.locked(bot) as mirror:
            self._mirrors.ensure(bot, mirror)
            total = self._git.run(
                bot, mirror, "rev-list", "--count", "--end-of-options", *revs, "--", doing="count"
            )
            out = self._git.run(
                bot,
                mirror,
                "log",
                COMMIT_FORMAT,
                f"--max-count={max(limit, 0)}",
                "--end-of-options",
                *revs,
                "--",
                doing="read the log",
            )
        # split on newlines only: a subject may hold other line separators (\u2028, \x1c…)
        found = [parse_commit(line) for line in out.split("\n") if line], int(total)
        if fixed:
            if len(self._logs) >= _LOG_CACHE:
                self._logs.clear()
            self._logs[key] = found
        return found

    def compare_url(self, bot: Bot, *, base: str, head: str) -> str | None:
        """The compare page of `base...head` when the remote is on github.com or gitlab.com."""
        repo = _forge_repo(bot.repo)
        if repo is None:
            return None
        host, path = repo
        return f"https://{host}/{path}/{_FORGES[host]}/{base}...{head}"

    def is_ancestor(self, bot: Bot, ancestor: str, commit: str) -> bool:
        """Whether `ancestor` is `commit` or an ancestor of it; False when either is unknown.

        Raises:
            SourceControlError: git could not be run.
        """
        if not (FULL_SHA.fullmatch(ancestor) and FULL_SHA.fullmatch(commit)):
            return False
        with self._mirrors.locked(bot) as mirror:
            self._mirrors.ensure(bot, mirror)
            found = self._git.probe(
                bot, mirror, "merge-base", "--is-ancestor", ancestor, commit, doing="compare"
            )
        return found is not None


def _inner_path(subdir: str) -> str:
    """`subdir` as a path inside the tree ('' for the root)."""
    path = PurePosixPath(subdir)
    if path.is_absolute() or ".." in path.parts:
        raise SourceControlError(
            f"the directory {subdir!r} is not inside the repository",
            hint="give the bot's `context` relative to the repository's root",
        )
    return "" if str(path) == "." else str(path)


def _forge_repo(url: str) -> tuple[str, str] | None:
    """(host, owner/repo) of a github.com or gitlab.com remote, else None."""
    location = remote_location(url)
    if location is None:
        return None
    host, path = location
    segments = path.split("/")
    if host not in _FORGES or len(segments) < 2 or (host == "github.com" and len(segments) != 2):
        return None
    if not all(_PATH_SEGMENT.fullmatch(s) and s not in {".", ".."} for s in segments):
        return None
    return host, "/".join(segments)
