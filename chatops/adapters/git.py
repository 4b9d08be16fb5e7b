"""The git adapter: each bot's remote through a local bare mirror, driven by GitPython."""

from __future__ import annotations

import fcntl
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from git.cmd import Git
from git.exc import CommandError

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
from chatops.domain.redact import Redactor
from chatops.domain.repos import remote_location
from chatops.errors import NotFound, SourceControlError

__all__ = ["GitSourceControl"]

_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_SCP_LIKE = re.compile(r"(?:[^@/:]+@)?(?P<host>[^@/:]+):(?P<path>[^/].*)")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_.-]+")
_FORGES = {"github.com": "compare", "gitlab.com": "-/compare"}
_COMMIT_FORMAT = "--format=%H%x00%an <%ae>%x00%s"
_MAX_HINT_BRANCHES = 10
_MAX_DETAIL = 500
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
        self._root = workdir / "git"
        self._instance = validate_name("instance", instance)
        self._timeout = timeout
        self._env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",  # empty: git runs no askpass program (nor SSH_ASKPASS)
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=30",
            "GIT_AUTHOR_NAME": author_name,
            "GIT_AUTHOR_EMAIL": author_email,
            "GIT_COMMITTER_NAME": author_name,  # the tagger of annotated tags
            "GIT_COMMITTER_EMAIL": author_email,
        }
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._logs: dict[tuple[str, str | None, str, int], tuple[list[Commit], int]] = {}

    # ── the port ─────────────────────────────────────────────────────────

    def fetch(self, bot: Bot) -> None:
        """Bring the bot's mirror up to date: heads and tags, force-updated and pruned.

        The mirror is made on first use, and made afresh when the bot's `repo` changed.

        Raises:
            SourceControlError: the remote cannot be reached or read.
        """
        with self._locked(bot) as mirror:
            if mirror.exists() and self._remote_url(bot, mirror) != bot.repo:
                shutil.rmtree(mirror)
            if mirror.exists() and bot.push_tags:
                self._run(bot, mirror, "fetch", "--quiet", "--prune", "origin", doing="fetch")
            elif mirror.exists():
                # the tags chatops made live only here: prune branches, never tags
                heads = "+refs/heads/*:refs/heads/*"
                self._run(
                    bot, mirror, "fetch", "--quiet", "--prune", "origin", heads, doing="fetch"
                )
                tags = "+refs/tags/*:refs/tags/*"
                self._run(bot, mirror, "fetch", "--quiet", "origin", tags, doing="fetch tags")
            else:
                self._create(bot, mirror)

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
        if _SHA.fullmatch(ref):
            candidates.append(ref.lower())
        with self._locked(bot) as mirror:
            self._ensure(bot, mirror)
            for candidate in candidates:
                sha = self._peel(bot, mirror, candidate)
                if sha is not None:
                    return self._commit(bot, mirror, sha)
            branches = self._run(
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
        with self._locked(bot) as mirror:
            self._ensure(bot, mirror)
            refs = self._run(
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
        with self._locked(bot) as mirror:
            self._ensure(bot, mirror)
            self._known_commit(bot, mirror, commit)
            tree = f"{commit}:{inner}"
            kind = self._try(bot, mirror, "cat-file", "-t", "--end-of-options", tree, doing="read")
            if kind != "tree":
                raise SourceControlError(
                    f"the directory {subdir!r} does not exist in commit {commit[:8]} of {bot.name}",
                    hint="check the bot's `context` setting",
                )
            self._run(
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
        with self._locked(bot) as mirror:
            self._ensure(bot, mirror)
            self._known_commit(bot, mirror, commit)
            if bot.push_tags:
                existing = self._remote_tag(bot, mirror, tag)
            else:
                existing = self._local_tag(bot, mirror, tag)
            if existing == commit:
                return
            if existing is not None:
                raise SourceControlError(
                    f"the release tag {tag} already exists on commit {existing[:8]}, "
                    f"not {commit[:8]}",
                    hint="release tags are never moved; deploy again to get a new version",
                )
            self._tag(bot, mirror, tag, commit, message)
            if not bot.push_tags:
                return
            try:
                self._run(
                    bot,
                    mirror,
                    "push",
                    "--quiet",
                    "origin",
                    f"refs/tags/{tag}:refs/tags/{tag}",
                    doing=f"push {tag}",
                )
            except SourceControlError:
                self._try(bot, mirror, "tag", "-d", "--end-of-options", tag, doing="untag")
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
        with self._locked(bot) as mirror:
            self._ensure(bot, mirror)
            self._known_commit(bot, mirror, commit)
            self._tag(bot, mirror, tag, commit, message)
            if not bot.push_tags:
                return
            self._run(
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
        fixed = all(_FULL_SHA.fullmatch(rev) for rev in (until, since or until))
        if fixed and key in self._logs:
            return self._logs[key]
        revs = [validate_ref(until)]
        if since is not None:
            revs.append(f"^{validate_ref(since)}")
        with self._locked(bot) as mirror:
            self._ensure(bot, mirror)
            total = self._run(
                bot, mirror, "rev-list", "--count", "--end-of-options", *revs, "--", doing="count"
            )
            out = self._run(
                bot,
                mirror,
                "log",
                _COMMIT_FORMAT,
                f"--max-count={max(limit, 0)}",
                "--end-of-options",
                *revs,
                "--",
                doing="read the log",
            )
        # split on newlines only: a subject may hold other line separators (\u2028, \x1c…)
        found = [_parse_commit(line) for line in out.split("\n") if line], int(total)
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
        if not (_FULL_SHA.fullmatch(ancestor) and _FULL_SHA.fullmatch(commit)):
            return False
        with self._locked(bot) as mirror:
            self._ensure(bot, mirror)
            found = self._try(
                bot, mirror, "merge-base", "--is-ancestor", ancestor, commit, doing="compare"
            )
        return found is not None

    # ── mirrors ──────────────────────────────────────────────────────────

    @contextmanager
    def _locked(self, bot: Bot) -> Iterator[Path]:
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

    def _ensure(self, bot: Bot, mirror: Path) -> None:
        if not mirror.exists():
            self._create(bot, mirror)

    def _create(self, bot: Bot, mirror: Path) -> None:
        if bot.repo.startswith("-"):
            raise SourceControlError(f"the repo of {bot.name} must not start with '-'")
        for stale in self._root.glob(f".{bot.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{bot.name}.tmp-", dir=self._root))
        try:
            self._run(bot, tmp, "init", "--quiet", "--bare", doing="create a mirror")
            for key, value in (
                ("remote.origin.url", bot.repo),
                ("remote.origin.fetch", "+refs/heads/*:refs/heads/*"),
                ("remote.origin.fetch", "+refs/tags/*:refs/tags/*"),
            ):
                self._run(bot, tmp, "config", "--add", key, value, doing="configure the mirror")
            self._run(bot, tmp, "fetch", "--quiet", "origin", doing="fetch")
            tmp.rename(mirror)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _remote_url(self, bot: Bot, mirror: Path) -> str | None:
        return self._try(
            bot, mirror, "config", "--get", "remote.origin.url", doing="read the mirror"
        )

    # ── git plumbing ─────────────────────────────────────────────────────

    def _peel(self, bot: Bot, mirror: Path, rev: str) -> str | None:
        """The commit `rev` names, or None."""
        return self._try(
            bot,
            mirror,
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{rev}^{{commit}}",
            doing="resolve",
        )

    def _known_commit(self, bot: Bot, mirror: Path, commit: str) -> None:
        if not _FULL_SHA.fullmatch(commit) or self._peel(bot, mirror, commit) != commit:
            raise SourceControlError(
                f"{commit!r} is not a commit of {bot.name}",
                hint="give the full 40-digit sha of a fetched commit",
            )

    def _commit(self, bot: Bot, mirror: Path, sha: str) -> Commit:
        out = self._run(
            bot, mirror, "log", "-1", _COMMIT_FORMAT, "--end-of-options", sha, "--", doing="read"
        )
        return _parse_commit(out)

    def _local_tag(self, bot: Bot, mirror: Path, tag: str) -> str | None:
        """The commit the mirror's `tag` points to, or None when it has no such tag."""
        found = self._try(
            bot,
            mirror,
            "rev-parse",
            "--verify",
            "--quiet",
            f"refs/tags/{tag}^{{commit}}",
            doing=f"look up {tag}",
        )
        return (found or "").strip() or None

    def _remote_tag(self, bot: Bot, mirror: Path, tag: str) -> str | None:
        """The commit the remote's `tag` points to, or None when the remote has no such tag."""
        ref = f"refs/tags/{tag}"
        peeled = f"{ref}^{{}}"  # an annotated tag's commit; git lists it only when asked
        out = self._run(
            bot, mirror, "ls-remote", "origin", ref, peeled, doing=f"look up {tag} on the remote"
        )
        found: dict[str, str] = {}
        for line in out.splitlines():
            oid, _, name = line.partition("\t")
            found[name] = oid
        return found.get(peeled, found.get(ref))

    def _tag(self, bot: Bot, mirror: Path, tag: str, commit: str, message: str) -> None:
        self._run(
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

    def _run(self, bot: Bot, git_dir: Path, *args: str, doing: str) -> str:
        """Run git on `git_dir`; its stdout.

        Raises:
            SourceControlError: git failed or timed out.
        """
        status, out, err = self._execute(bot, git_dir, args, doing=doing)
        if status != 0:
            raise self._failure(bot, doing, err)
        return out

    def _try(self, bot: Bot, git_dir: Path, *args: str, doing: str) -> str | None:
        """Run git on `git_dir`; its stdout, or None when it exits with status 1 or more.

        Raises:
            SourceControlError: git could not be run or was killed (timeout).
        """
        status, out, err = self._execute(bot, git_dir, args, doing=doing)
        if status < 0:
            raise self._failure(bot, doing, err)
        return out if status == 0 else None

    def _execute(
        self, bot: Bot, git_dir: Path, args: tuple[str, ...], *, doing: str
    ) -> tuple[int, str, str]:
        try:
            status, out, err = Git(git_dir).execute(
                ["git", *args],
                with_extended_output=True,
                with_exceptions=False,
                kill_after_timeout=self._timeout,
                env={**self._env, "GIT_DIR": str(git_dir)},
            )
        except (CommandError, OSError) as exc:
            raise self._failure(bot, doing, str(exc)) from None
        return status, out, err

    def _failure(self, bot: Bot, doing: str, stderr: str) -> SourceControlError:
        lines = [line.strip() for line in stderr.splitlines()]
        lines = [line for line in lines if line and not line.startswith(("To ", "hint:"))]
        detail = "; ".join(lines[-4:])[:_MAX_DETAIL] or "no output"
        redact = Redactor(_credentials(bot.repo))
        return SourceControlError(
            redact(f"git could not {doing} for {bot.name} ({bot.repo}): {detail}")
        )


def _parse_commit(line: str) -> Commit:
    sha, author, subject = line.split("\x00", 2)
    return Commit(sha=sha, subject=subject, author=author)


def _inner_path(subdir: str) -> str:
    """`subdir` as a path inside the tree ('' for the root)."""
    path = PurePosixPath(subdir)
    if path.is_absolute() or ".." in path.parts:
        raise SourceControlError(
            f"the directory {subdir!r} is not inside the repository",
            hint="give the bot's `context` relative to the repository's root",
        )
    return "" if str(path) == "." else str(path)


def _credentials(url: str) -> list[str]:
    """The user name and password in `url`, raw and decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [v for v in (parts.username, parts.password) if v]
    return found + [unquote(v) for v in found]


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
