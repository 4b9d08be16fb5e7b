"""Alertmanager's webhook payload (version 4), parsed with pydantic into IncomingAlert values.

Whatever does not have the shape Alertmanager sends (a label that is a list or an
object, a missing `labels`, a number where text belongs) is refused with a
ValueError naming where, which the HTTP layer answers 400: a 5xx would make
Alertmanager retry the same payload forever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictStr, ValidationError

from chatops.entrypoints.payloads import Payload, problems
from chatops.services.alerts import IncomingAlert

__all__ = ["parse_payload"]

Status = Literal["firing", "resolved"]
Labels = dict[StrictStr, StrictStr]


class _Alert(Payload):
    status: Status | None = None
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    starts_at: StrictStr | None = Field(default=None, alias="startsAt")
    generator_url: StrictStr | None = Field(default=None, alias="generatorURL")
    fingerprint: Annotated[StrictStr, Field(max_length=128)] | None = None


class _Webhook(Payload):
    version: Literal["4"] = "4"
    status: Status | None = None
    common_labels: Labels = Field(default_factory=dict, alias="commonLabels")
    alerts: list[_Alert]


def parse_payload(
    payload: Any, *, bot_label: str = "bot", env_label: str = "env"
) -> list[IncomingAlert]:
    """The alerts of one webhook call; `bot_label`/`env_label` name the labels picking a deployment.

    Raises:
        ValueError: not a version 4 payload; the message says where and why.
    """
    try:
        parsed = _Webhook.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(problems(exc)) from None
    alerts = []
    for item in parsed.alerts:
        labels = {**parsed.common_labels, **item.labels}
        notes = item.annotations
        alerts.append(
            IncomingAlert(
                status=item.status or parsed.status or "firing",
                bot=labels.get(bot_label),
                env=labels.get(env_label),
                fingerprint=item.fingerprint or _fingerprint(labels),
                summary=(
                    notes.get("summary")
                    or notes.get("description")
                    or labels.get("alertname")
                    or "alert from Alertmanager"
                ),
                labels=labels,
                description=notes.get("description", ""),
                starts_at=_timestamp(item.starts_at),
                generator_url=item.generator_url or "",
            )
        )
    return alerts


def _fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager always sends one; this stands in for payloads that do not."""
    text = "\n".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _timestamp(value: str | None) -> datetime | None:
    """An RFC 3339 time; Alertmanager's zero time (year 1) means unset."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.year <= 1:
        return None
    return parsed
