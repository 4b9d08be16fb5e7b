"""Alertmanager's webhook payload (version 4), converted at the edge into IncomingAlert values."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chatops.services.alerts import IncomingAlert

__all__ = ["parse_payload"]


def parse_payload(
    payload: Any, *, bot_label: str = "bot", env_label: str = "env"
) -> list[IncomingAlert]:
    """The alerts of one webhook call; `bot_label`/`env_label` name the labels picking a deployment.

    Raises:
        ValueError: not a version 4 payload with a list of alert objects.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise ValueError("expected an Alertmanager webhook payload with an `alerts` list")
    version = str(payload.get("version", "4"))
    if version != "4":
        raise ValueError(f"payload version {version} is not supported (expected 4)")
    common = payload.get("commonLabels") or {}
    alerts = []
    for item in payload["alerts"]:
        if not isinstance(item, dict):
            raise ValueError("every alert must be an object")
        labels = {str(k): str(v) for k, v in {**common, **(item.get("labels") or {})}.items()}
        notes = {str(k): str(v) for k, v in dict(item.get("annotations") or {}).items()}
        status = str(item.get("status") or payload.get("status") or "firing")
        if status not in ("firing", "resolved"):
            raise ValueError(f"alert status {status!r} is neither firing nor resolved")
        alerts.append(
            IncomingAlert(
                status=status,
                bot=labels.get(bot_label),
                env=labels.get(env_label),
                fingerprint=str(item.get("fingerprint") or "") or _fingerprint(labels),
                summary=(
                    notes.get("summary")
                    or notes.get("description")
                    or labels.get("alertname")
                    or "alert from Alertmanager"
                ),
                labels=labels,
                description=notes.get("description", ""),
                starts_at=_timestamp(item.get("startsAt")),
                generator_url=str(item.get("generatorURL") or ""),
            )
        )
    return alerts


def _fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager always sends one; this stands in for payloads that do not."""
    text = "\n".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _timestamp(value: object) -> datetime | None:
    """An RFC 3339 time; Alertmanager's zero time (year 1) means unset."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if parsed.year <= 1 else parsed
