"""Validation of the names people type: bots, environments, git refs and versions.

A ref reaches git only after `validate_ref` accepted it, so nothing typed in a
chat can become a git option or a path outside refs/.
"""

from __future__ import annotations

import re

from chatops.errors import BadInput

__all__ = [
    "NAME_PATTERN",
    "env_tag",
    "parse_duration",
    "parse_version",
    "release_tag",
    "validate_name",
    "validate_ref",
]

NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_MAX_NAME = 63
_MAX_REF = 200
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_VERSION = re.compile(r"^v?([1-9][0-9]{0,8})$")


def validate_name(kind: str, name: str) -> str:
    """Accept a bot or environment name that is safe in tags, image and container names.

    Raises:
        BadInput: the name has characters other than lowercase letters, digits, `-` and `_`.
    """
    if len(name) > _MAX_NAME or not NAME_PATTERN.match(name):
        raise BadInput(
            f"{kind} name {name!r} is not valid",
            hint=f"a {kind} name is 1-{_MAX_NAME} lowercase letters and digits, "
            "joined by single '-' or '_'",
        )
    return name


def validate_ref(ref: str) -> str:
    """Accept a branch, tag or commit name under git's check-ref-format rules.

    Refuses anything that could be read as an option (leading `-`) and every form
    git itself refuses: `..`, `@{`, control characters, `~ ^ : ? * [ \\`, a
    component starting with `.` or ending in `.lock`, and leading, trailing or
    doubled `/`.

    Raises:
        BadInput: the ref is not a valid ref name.
    """

    def refuse(why: str) -> BadInput:
        return BadInput(
            f"ref {ref!r} is not a valid git ref: {why}",
            hint="give a branch name, a tag or a commit sha, such as `main`, `v1.2` or `3f2c1ab`",
        )

    if not ref:
        raise refuse("it is empty")
    if len(ref) > _MAX_REF:
        raise refuse(f"it is longer than {_MAX_REF} characters")
    if ref.startswith("-"):
        raise refuse("it starts with '-'")
    if _REF_FORBIDDEN.search(ref):
        raise refuse("it contains a space, a control character or one of ~ ^ : ? * [ \\")
    if ".." in ref:
        raise refuse("it contains '..'")
    if "@{" in ref or ref == "@":
        raise refuse("it contains '@{' or is '@'")
    if ref.startswith("/") or ref.endswith("/") or "//" in ref:
        raise refuse("it starts or ends with '/' or contains '//'")
    if ref.endswith("."):
        raise refuse("it ends with '.'")
    for part in ref.split("/"):
        if part.startswith("."):
            raise refuse("a component starts with '.'")
        if part.endswith(".lock"):
            raise refuse("a component ends with '.lock'")
    return ref


def parse_version(text: str) -> int:
    """`v3` or `3` → 3.

    Raises:
        BadInput: not a version.
    """
    match = _VERSION.match(text.strip())
    if not match:
        raise BadInput(f"{text!r} is not a release version", hint="write it as v<N>, such as v3")
    return int(match.group(1))


def release_tag(bot: str, version: int) -> str:
    return f"{bot}/v{version}"


def env_tag(bot: str, env: str) -> str:
    return f"{bot}/{env}"


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> int:
    """`90s`, `15m`, `2h`, `1d`, `1h30m` → seconds.

    Raises:
        BadInput: not such a duration, or zero.
    """
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or not match or not any(match.groups()):
        raise BadInput(
            f"{text!r} is not a duration", hint="write it like 90s, 15m, 2h, 1d or 1h30m"
        )
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise BadInput(f"{text!r} is not a positive duration", hint="e.g. 2h")
    return total
