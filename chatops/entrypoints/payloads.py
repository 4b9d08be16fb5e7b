"""What the webhook payloads (Alertmanager, GitHub, GitLab) share: their model base and
how a payload that is not the shape is refused.

The shapes are pydantic models stated where each payload is parsed; anything else
is answered 400 with where it is wrong and what was expected, in words a sender can
act on: never a model's class name, a regular expression or the values sent.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["MAX_PROBLEMS", "Payload", "problems"]

MAX_PROBLEMS = 5

# pydantic's error types, said plainly (its own words name classes: "instance of _Payload")
_PLAIN = {
    "missing": "missing",
    "model_type": "should be an object",
    "model_attributes_type": "should be an object",
    "dict_type": "should be an object",
    "list_type": "should be a list",
    "string_type": "should be text",
    "bool_type": "should be true or false",
    "json_invalid": "not JSON",
    "json_type": "not JSON",
}


class Payload(BaseModel):
    """A part of a payload: fields not named are ignored (senders add new ones)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def problems(exc: ValidationError, *, whole: str = "the payload") -> str:
    """Where the payload is wrong and what was expected, e.g. `alerts.0.labels: should be
    an object`; the first few, then how many more."""
    found = []
    for error in exc.errors(include_url=False, include_input=False)[:MAX_PROBLEMS]:
        where = ".".join(str(part) for part in error["loc"]) or whole
        found.append(f"{where}: {_PLAIN.get(error['type'], error['msg'])}")
    more = exc.error_count() - len(found)
    return "; ".join(found) + (f" (and {more} more)" if more > 0 else "")
