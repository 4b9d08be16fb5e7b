"""Value types shared by the sections of chatops.yaml: names, durations, URLs."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from chatops.domain.names import NAME_PATTERN, parse_duration
from chatops.errors import BadInput

__all__ = [
    "ForgeProject",
    "Name",
    "Seconds",
    "SecondsOrZero",
    "StrictModel",
    "check_public_url",
]

Name = Annotated[str, Field(pattern=NAME_PATTERN.pattern, max_length=63)]


def _duration(value: Any) -> Any:
    """`90s`, `10m`, `2h`, `1d` (or `1h30m`) as seconds; numbers as they are."""
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
        try:
            return parse_duration(value)
        except BadInput:
            raise ValueError(f"{_DURATION_WORDS} (not {value!r})") from None
    return value


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?")
_DURATION_WORDS = "must be a number of seconds or a duration such as 90s, 10m, 2h, 1d"
_DURATION_SCHEMA = {"type": "string", "pattern": r"^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"}
Seconds = Annotated[
    float,
    BeforeValidator(_duration),
    Field(gt=0),
    WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0}, _DURATION_SCHEMA]}),
]
SecondsOrZero = Annotated[
    float,
    BeforeValidator(_duration),
    Field(ge=0),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, _DURATION_SCHEMA]}),
]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ForgeProject = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")]


def check_public_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise ValueError(
            f"{value!r} is not an http(s) URL; write where people reach chatops, "
            "e.g. https://chatops.example.com"
        )
    return value.rstrip("/")
