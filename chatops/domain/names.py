"""Validation of the names people type: bots, environments, git refs and versions.

A ref reaches git only after `validate_ref` accepted it, so nothing typed in a
chat can become a git option or a path outside refs/.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from chatops.errors import BadInput

__all__ = [
    "DEFAULT_INSTANCE",
    "NAME_PATTERN",
    "colliding_units",
    "env_tag",
    "image_name",
    "parse_duration",
    "parse_memory",
    "parse_version",
    "release_tag",
    "release_tag_prefix",
    "unit_name",
    "validate_name",
    "validate_ref",
]

DEFAULT_INSTANCE = "default"
"""The instance whose names carry no prefix (DESIGN §4)."""

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


def _prefix(instance: str | None, separator: str) -> str:
    """What a non-default instance puts before the names it makes (nothing for `default`)."""
    return f"{instance}{separator}" if instance and instance != DEFAULT_INSTANCE else ""


def release_tag(bot: str, version: int, instance: str | None = None) -> str:
    """`<bot>/v<N>`, or `<instance>/<bot>/v<N>` for a non-default instance."""
    return f"{release_tag_prefix(bot, instance)}{version}"


def release_tag_prefix(bot: str, instance: str | None = None) -> str:
    """What every release tag of `bot` starts with: `[<instance>/]<bot>/v`."""
    return f"{_prefix(instance, '/')}{bot}/v"


def env_tag(bot: str, env: str, instance: str | None = None) -> str:
    """`<bot>/<env>`, or `<instance>/<bot>/<env>` for a non-default instance."""
    return f"{_prefix(instance, '/')}{bot}/{env}"


def image_name(registry: str | None, bot: str, version: int, instance: str | None = None) -> str:
    """`<registry>/<bot>:v<N>` (no registry part when unset), with `<instance>/` before the
    bot for a non-default instance."""
    repository = f"{_prefix(instance, '/')}{bot}:v{version}"
    return f"{registry.rstrip('/')}/{repository}" if registry else repository


def unit_name(bot: str, env: str, instance: str | None = None) -> str:
    """The container or service that runs `bot` in `env`: `<bot>-<env>`, or
    `<instance>-<bot>-<env>` for a non-default instance.

    Different pairs can meet in one name (`pay-api`+`prod`, `pay`+`api-prod`); the
    configuration refuses such pairs (see `colliding_units`).
    """
    return f"{_prefix(instance, '-')}{bot}-{env}"


def colliding_units(
    pairs: Iterable[tuple[str, str]], instance: str | None = None
) -> dict[str, list[tuple[str, str]]]:
    """The unit names that several (bot, env) pairs would share, each with those pairs."""
    by_name: dict[str, list[tuple[str, str]]] = {}
    for bot, env in pairs:
        by_name.setdefault(unit_name(bot, env, instance), []).append((bot, env))
    return {name: found for name, found in by_name.items() if len(found) > 1}


_DURATION = re.compile(r"^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
_DURATION_DIGITS = 12  # more than any sane duration, far below what int() refuses


def parse_duration(text: str, *, at_most: int | None = None) -> int:
    """`90s`, `15m`, `2h`, `1d`, `1h30m` → seconds.

    Args:
        at_most: the longest duration allowed, in seconds.

    Raises:
        BadInput: not such a duration, zero, or longer than `at_most`.
    """
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or not match or not any(match.groups()):
        raise BadInput(
            f"{_cut(text)!r} is not a duration", hint="write it like 90s, 15m, 2h, 1d or 1h30m"
        )
    if any(g is not None and len(g) > _DURATION_DIGITS for g in match.groups()):
        raise _too_long(text, at_most)
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise BadInput(f"{text!r} is not a positive duration", hint="e.g. 2h")
    if at_most is not None and total > at_most:
        raise _too_long(text, at_most)
    return total


_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)i?b?$")
_MEMORY_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_MIN_MEMORY = 6 << 20  # the Docker Engine refuses a smaller memory limit


def parse_memory(text: str) -> int:
    """`256m`, `1g`, `1.5g`, `512MiB`, `268435456` → bytes (units of 1024, as Docker's).

    Raises:
        BadInput: not an amount of memory, or less than the 6 MiB Docker allows.
    """
    match = _MEMORY.match(text.strip().lower()) if len(text) <= 24 else None
    if not match:
        raise BadInput(
            f"{_cut(text)!r} is not an amount of memory",
            hint="write it like 256m, 1g or 1.5g (k, m, g, t: units of 1024 bytes)",
        )
    amount = int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])
    if amount < _MIN_MEMORY:
        raise BadInput(f"{text!r} is too little memory", hint="give at least 6m")
    return amount


def _too_long(text: str, at_most: int | None) -> BadInput:
    if at_most is None:
        return BadInput(f"{_cut(text)!r} is too long a duration", hint="e.g. 2h")
    most = _as_written(at_most)
    return BadInput(
        f"{_cut(text)!r} is too long: the duration may be at most {most}",
        hint=f"give a duration from 1s to {most}, such as 2h or 7d",
    )


def _as_written(seconds: int) -> str:
    """`93784` → `1d2h3m4s`: the way durations are written in commands."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = zip((days, hours, minutes, secs), "dhms", strict=True)
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
