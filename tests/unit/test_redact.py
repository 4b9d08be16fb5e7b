"""Masking secrets in every form a program prints them, and the rules that keep them maskable."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatops.domain.redact import (
    MASK,
    MIN_SECRET_LENGTH,
    Redactor,
    check_build_args,
    check_maskable,
)
from chatops.errors import ConfigError

SECRET = 's3cr3t-"Tok"/en+val?\\é'  # escaped by JSON, by URLs and in base64


def _b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


def _b64url(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode()


def _percent_lower(text: str) -> str:
    import re

    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


# every form a secret `s` takes in logs, with the prefix `u` a Basic auth header would add
ENCODINGS: dict[str, Callable[[str, str], str]] = {
    "raw": lambda s, u: s,
    "json": lambda s, u: json.dumps(s)[1:-1],
    "json unicode": lambda s, u: json.dumps(s, ensure_ascii=False)[1:-1],
    "quote": lambda s, u: quote(s, safe=""),
    "quote path": lambda s, u: quote(s),
    "quote_plus": lambda s, u: quote_plus(s),
    "quote lower hex": lambda s, u: _percent_lower(quote(s, safe="")),
    "base64": lambda s, u: _b64(s),
    "base64 unpadded": lambda s, u: _b64(s).rstrip("="),
    "base64 urlsafe": lambda s, u: _b64url(s),
    "base64 urlsafe unpadded": lambda s, u: _b64url(s).rstrip("="),
    "basic auth": lambda s, u: _b64(f"{u}:{s}"),
    "basic auth urlsafe unpadded": lambda s, u: _b64url(f"{u}:{s}").rstrip("="),
    "secret as user": lambda s, u: _b64(f"{s}:{u}"),
    "inside a base64 json": lambda s, u: _b64(json.dumps({"user": u, "token": s})),
    "hex": lambda s, u: s.encode().hex(),
    "HEX": lambda s, u: s.encode().hex().upper(),
}

secrets = st.text(min_size=MIN_SECRET_LENGTH, max_size=40).filter(
    lambda s: len(s.strip()) >= MIN_SECRET_LENGTH
)
users = st.text(max_size=12).filter(lambda u: ":" not in u)
around = st.text(max_size=30)


@pytest.mark.parametrize("form", list(ENCODINGS))
def test_each_form_of_a_known_secret_is_masked(form: str) -> None:
    encoded = ENCODINGS[form](SECRET, "deploy-bot")
    masked = Redactor([SECRET])(f"Authorization: {encoded} (sent)")
    assert encoded not in masked
    assert MASK in masked
    assert masked.startswith("Authorization: ") and masked.endswith(" (sent)")


@settings(max_examples=60, deadline=None)
@given(secret=secrets, user=users, before=around, after=around)
def test_no_encoded_form_of_a_secret_survives(
    secret: str, user: str, before: str, after: str
) -> None:
    redact = Redactor([secret])
    for form, encode in ENCODINGS.items():
        encoded = encode(secret, user)

        masked = redact(before + encoded + after)

        assert encoded not in masked, form
        assert secret not in masked, form


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(secrets, min_size=2, max_size=4), before=around, after=around)
def test_each_line_of_a_multi_line_secret_is_masked_alone_and_the_whole_too(
    lines: list[str], before: str, after: str
) -> None:
    lines = [" ".join(line.splitlines()) for line in lines]
    value = "\n".join(lines)
    redact = Redactor([value])

    for line in lines:
        assert line not in redact(before + line + after)
    assert value not in redact(before + value + after)
    assert json.dumps(value)[1:-1] not in redact(before + json.dumps(value)[1:-1] + after)


def test_text_without_secrets_is_left_alone_and_urls_lose_their_credentials() -> None:
    redact = Redactor([SECRET])
    text = "GET https://bot:pa55@git.example.com/x.git 200 — fine, base64 aGVsbG8="
    assert redact(text) == f"GET https://{MASK}@git.example.com/x.git 200 — fine, base64 aGVsbG8="


def test_short_lines_of_a_multi_line_secret_are_not_masked_on_their_own() -> None:
    value = "-----BEGIN KEY-----\nab\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----"
    masked = Redactor([value])("line: ab\nline: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    assert masked == f"line: ab\nline: {MASK}"


# ── the rules ────────────────────────────────────────────────────────────


def test_a_secret_shorter_than_eight_characters_is_refused_by_name_never_by_value() -> None:
    with pytest.raises(ConfigError) as refused:
        check_maskable({"API_TOKEN": "long-enough-value", "PIN": "  1234567  "})
    assert "secret PIN is shorter than 8 characters" in refused.value.message
    assert "1234567" not in str(refused.value)
    assert "env:" in (refused.value.hint or "")


def test_several_short_secrets_are_named_together() -> None:
    with pytest.raises(ConfigError, match="secrets A, B are shorter"):
        Redactor.for_secrets({"B": "", "A": "x", "C": "12345678"})


def test_secrets_of_eight_characters_or_more_are_accepted() -> None:
    check_maskable({"A": "12345678", "B": "a much longer value"})
    assert Redactor.for_secrets({"A": "12345678"})("x12345678y") == f"x{MASK}y"


@pytest.mark.parametrize(
    ("build_args", "named"),
    [
        ({"API_TOKEN": "anything"}, "build argument API_TOKEN carries the secret API_TOKEN"),
        ({"NPM": "s3cr3t-token-value"}, "build argument NPM carries the secret API_TOKEN"),
        (
            {"URL": "https://ci:s3cr3t-token-value@npm.example.com"},
            "build argument URL carries the secret API_TOKEN",
        ),
    ],
)
def test_build_args_may_not_carry_a_secret(build_args: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_build_args(build_args, {"API_TOKEN": "s3cr3t-token-value"})
    assert named in refused.value.message
    assert "s3cr3t-token-value" not in str(refused.value) + (refused.value.hint or "")


def test_build_args_without_secrets_pass() -> None:
    check_build_args({"VERSION": "1.2.3", "MODE": "release"}, {"API_TOKEN": "s3cr3t-token-value"})
