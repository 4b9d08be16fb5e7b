"""Environment variables: blank values are unset, and every secret may come from NAME_FILE."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatops.config import Settings, file_variables, load_settings
from chatops.errors import ConfigError

SECRETS = [name.upper() for name in file_variables()]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def test_every_secret_variable_may_be_given_as_a_file() -> None:
    secret_fields = {
        name.upper() for name, field in Settings.model_fields.items() if "Secret" in str(field)
    }
    assert secret_fields <= set(SECRETS)
    assert {"SLACK_SIGNING_SECRET", "CHATOPS_METRICS_TOKEN", "CHATOPS_DATABASE_URL"} <= set(SECRETS)


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_blank_secrets_count_as_unset(
    blank: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Guards against compose's `SLACK_SIGNING_SECRET=${SLACK_SIGNING_SECRET}` becoming a key."""
    for name in SECRETS:
        monkeypatch.setenv(name, blank)

    settings = load_settings(tmp_path / "no.env")

    assert settings.slack_signing_secret is None
    assert settings.slack_bot_token is None
    assert settings.chatops_alert_token is None
    assert settings.chatops_git_webhook_secret is None
    assert settings.chatops_metrics_token is None
    assert settings.chatops_database_url is None


def test_an_empty_variable_does_not_hide_the_dotenv_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("CHATOPS_ALERT_TOKEN=from-dotenv\n")
    monkeypatch.setenv("CHATOPS_ALERT_TOKEN", "")

    settings = load_settings(tmp_path / ".env")

    assert settings.chatops_alert_token is not None
    assert settings.chatops_alert_token.get_secret_value() == "from-dotenv"


def test_a_secret_file_gives_the_value_without_its_trailing_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "signing").write_text("s3cret value\n")
    (tmp_path / "db").write_text("postgresql://u:p@db/chatops\r\n")
    monkeypatch.setenv("SLACK_SIGNING_SECRET_FILE", str(tmp_path / "signing"))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "")  # compose's empty default does not clash
    (tmp_path / ".env").write_text(f"CHATOPS_DATABASE_URL_FILE={tmp_path / 'db'}\n")

    settings = load_settings(tmp_path / ".env")

    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == "s3cret value"
    assert settings.chatops_database_url == "postgresql://u:p@db/chatops"


def test_a_missing_secret_file_names_the_variable_and_the_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHATOPS_GIT_WEBHOOK_SECRET_FILE", str(tmp_path / "nope"))

    with pytest.raises(ConfigError, match=r"CHATOPS_GIT_WEBHOOK_SECRET_FILE: cannot read .*nope"):
        load_settings(tmp_path / "no.env")


def test_an_unreadable_secret_file_is_refused_without_its_content_and_an_empty_one_is_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfetop-secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(binary))
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN_FILE") as caught:
        load_settings(tmp_path / "no.env")
    assert "top-secret" not in str(caught.value)

    # as an empty variable does: compose mounts an empty file for a secret not in use
    empty = tmp_path / "empty"
    empty.write_text(" \n")
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(empty))
    assert load_settings(tmp_path / "no.env").slack_bot_token is None


def test_a_value_and_a_file_for_one_secret_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("from-file")
    monkeypatch.setenv("CHATOPS_METRICS_TOKEN", "from-variable")
    monkeypatch.setenv("CHATOPS_METRICS_TOKEN_FILE", str(tmp_path / "token"))

    with pytest.raises(ConfigError, match="both CHATOPS_METRICS_TOKEN and") as caught:
        load_settings(tmp_path / "no.env")
    assert "from-" not in str(caught.value)


def test_the_environment_wins_over_dotenv_in_any_case_and_unknown_names_are_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "CHATOPS_HTTP_PORT=4000\nchatops_http_host=0.0.0.0\nSOMETHING_ELSE=x\n"
        "CHATOPS_LOG_FORMAT=json\n"
    )
    monkeypatch.setenv("CHATOPS_HTTP_PORT", "5000")
    monkeypatch.delenv("CHATOPS_HTTP_HOST", raising=False)
    monkeypatch.delenv("CHATOPS_LOG_FORMAT", raising=False)
    monkeypatch.setenv("Slack_Api_Url", "http://127.0.0.1:9/api/")

    settings = load_settings(tmp_path / ".env")

    assert settings.chatops_http_port == 5000  # the real variable, made a number
    assert settings.chatops_http_host == "0.0.0.0"  # the file's, named in lower case
    assert settings.chatops_log_format == "json"
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert load_settings(None).chatops_http_host == "127.0.0.1"  # no file: the default


def test_a_bad_value_names_the_variable_and_never_echoes_a_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHATOPS_HTTP_PORT", "not-a-port")
    monkeypatch.setenv("CHATOPS_DRAIN_SECONDS", "1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cr3t-value")

    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path / "no.env")

    assert "CHATOPS_HTTP_PORT" in raised.value.message
    assert "CHATOPS_DRAIN_SECONDS" in raised.value.message
    assert "s3cr3t-value" not in raised.value.message
