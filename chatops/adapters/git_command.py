"""Running git on a bot's mirror: a clean environment, a timeout, errors without credentials."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from git.cmd import Git
from git.exc import CommandError

from chatops.domain.catalog import Bot
from chatops.domain.redact import Redactor
from chatops.errors import SourceControlError

__all__ = ["GitCommand"]

_MAX_DETAIL = 500


class GitCommand:
    """Runs git commands for chatops: never prompting, killed after `timeout` seconds.

    Args:
        author_name: the tagger of the tags chatops creates.
        author_email: the tagger's email.
        timeout: seconds after which any git command is killed.
    """

    def __init__(self, *, author_name: str, author_email: str, timeout: float) -> None:
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

    def run(self, bot: Bot, git_dir: Path, *args: str, doing: str) -> str:
        """Run git on `git_dir`; its stdout.

        Raises:
            SourceControlError: git failed or timed out.
        """
        status, out, err = self._execute(bot, git_dir, args, doing=doing)
        if status != 0:
            raise self._failure(bot, doing, err)
        return out

    def probe(self, bot: Bot, git_dir: Path, *args: str, doing: str) -> str | None:
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
                # its own session: Ctrl-C (a signal to the terminal's process group) is
                # for chatops to handle: `serve` lets running deployments finish, and
                # their git with them
                start_new_session=True,
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


def _credentials(url: str) -> list[str]:
    """The user name and password in `url`, raw and decoded."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [v for v in (parts.username, parts.password) if v]
    return found + [unquote(v) for v in found]
