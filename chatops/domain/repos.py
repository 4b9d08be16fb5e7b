"""Where a bot's git repository lives: one reading of remote URLs for every use."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["remote_location", "same_repository"]

_SCP_LIKE = re.compile(r"(?:[^@/:]+@)?(?P<host>[^@/:]+):(?P<path>[^/].*)")
_SCHEMES = {"http", "https", "ssh", "git", "git+ssh"}


def remote_location(repo: str) -> tuple[str, str] | None:
    """(host, path without `.git`) of a remote URL or `user@host:path`; None for a local path."""
    if "://" in repo:
        try:
            parts = urlsplit(repo)
        except ValueError:
            return None
        if parts.scheme not in _SCHEMES or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
    else:
        match = _SCP_LIKE.fullmatch(repo)
        if match is None or "/" in repo.split(":", 1)[0]:
            return None
        host, path = match["host"], match["path"]
    return host.lower(), path.strip("/").removesuffix(".git")


def same_repository(repo: str, *, urls: set[str], full_name: str | None) -> bool:
    """Whether a push event (its clone URLs, its `owner/name`) is about `repo`."""

    def normal(url: str) -> str:
        return url.rstrip("/").removesuffix(".git")

    if normal(repo) in {normal(u) for u in urls}:
        return True
    location = remote_location(repo)
    return (
        bool(full_name) and location is not None and location[1].lower() == str(full_name).lower()
    )
