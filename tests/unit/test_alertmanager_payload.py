"""Alertmanager's webhook payload v4 becomes IncomingAlert values at the HTTP edge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatops.entrypoints.alertmanager import parse_payload


def test_a_payload_entry_converts_at_the_edge() -> None:
    entry = {
        "status": "firing",
        "labels": {"alertname": "BotDown", "bot": "mybot", "env": "prod"},
        "annotations": {"description": "no replies for 5m"},
        "startsAt": "2026-11-27T09:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.test/x",
        "fingerprint": "c0ffee",
    }

    [alert] = parse_payload({"version": "4", "alerts": [entry]})

    assert (alert.status, alert.bot, alert.env) == ("firing", "mybot", "prod")
    assert alert.summary == "no replies for 5m"
    assert alert.fingerprint == "c0ffee"
    assert alert.starts_at == datetime(2026, 11, 27, 9, 0, 0, 123456, tzinfo=UTC)
    [bare] = parse_payload({"alerts": [{"labels": {"alertname": "BotDown"}}]})
    assert (bare.summary, bare.bot, bare.status) == ("BotDown", None, "firing")
    assert len(bare.fingerprint) == 16


def test_label_names_are_configurable_and_common_labels_apply() -> None:
    payload = {
        "version": "4",
        "status": "resolved",
        "commonLabels": {"service": "mybot"},
        "alerts": [{"labels": {"stage": "prod"}, "fingerprint": "f1"}],
    }
    [alert] = parse_payload(payload, bot_label="service", env_label="stage")
    assert (alert.bot, alert.env, alert.status) == ("mybot", "prod", "resolved")


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"alerts": "x"},
        {"version": "3", "alerts": []},
        {"alerts": [1]},
        {"alerts": [{"status": "odd"}]},
    ],
)
def test_malformed_payloads_are_refused(payload: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_payload(payload)


@pytest.mark.parametrize(
    ("alert", "where"),
    [
        ({"labels": {"bot": ["mybot"]}}, "alerts.0.labels.bot"),
        ({"labels": {"bot": {"name": "mybot"}}}, "alerts.0.labels.bot"),
        ({"labels": {"env": 1}}, "alerts.0.labels.env"),
        ({"labels": ["mybot"]}, "alerts.0.labels"),
        ({}, "alerts.0.labels"),
        ({"labels": {}, "annotations": {"summary": None}}, "alerts.0.annotations.summary"),
    ],
)
def test_labels_and_annotations_must_be_text(alert: dict[str, object], where: str) -> None:
    with pytest.raises(ValueError, match=where):
        parse_payload({"alerts": [alert]})


def test_a_start_time_without_a_time_zone_is_left_out() -> None:
    """A naive time cannot be stored as UTC; it used to fail the whole call with a 503."""
    [alert] = parse_payload({"alerts": [{"labels": {}, "startsAt": "2026-11-27T09:00:00"}]})
    assert alert.starts_at is None
