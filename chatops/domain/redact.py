"""Keeping secret values out of everything people and logs see."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "Redactor", "redact_url"]

MASK = "••••••"
_MIN_SECRET = 4  # shorter values would mask ordinary words
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def redact_url(text: str) -> str:
    """Drop `user:password@` from URLs in `text`."""
    return _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)


class Redactor:
    """Replaces every known secret value (and URL credentials) with a mask."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return redact_url(text)
