"""Sign in with Slack (OpenID Connect) against a stand-in identity provider on 127.0.0.1."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chatops.bootstrap import build
from chatops.entrypoints.web.auth import Signer
from chatops.entrypoints.web.wiring import web_deps
from chatops.errors import ConfigError
from tests.conftest import BotRepo
from tests.web.conftest import CLIENT_SECRET, Site
from tests.web.story import load_config, write_config


def _sign_in(site: Site, client: Any, *, next_path: str = "/ui/bots/mybot") -> Any:
    """Walk the browser's way: the page, the sign-in, the provider, the callback."""
    first = client.get(next_path)
    assert first.status_code == 303
    login = first.headers["location"]
    assert login.startswith("/ui/login?next=")
    to_idp = client.get(login)
    assert to_idp.status_code == 303
    authorize = to_idp.headers["location"]
    assert site.idp is not None and authorize.startswith(site.idp.url)
    back = httpx.get(authorize, follow_redirects=False)
    assert back.status_code == 302
    callback = urllib.parse.urlsplit(back.headers["location"])
    assert callback.path == "/ui/auth/callback"
    return client.get(f"{callback.path}?{callback.query}")


def test_a_member_of_the_workspace_signs_in(slack_site: Site) -> None:
    client = slack_site.client()
    done = _sign_in(slack_site, client)

    assert done.status_code == 303
    assert done.headers["location"] == "/ui/bots/mybot"
    cookie = done.headers["set-cookie"]
    assert "chatops_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert CLIENT_SECRET not in cookie
    page = client.get("/ui/bots/mybot")
    assert page.status_code == 200
    assert "signed in as ULEAD1" in page.text
    assert client.get("/api/overview").status_code == 200
    [token_request] = slack_site.idp.token_requests  # type: ignore[union-attr]
    assert token_request["grant_type"] == "authorization_code"


@pytest.mark.parametrize(
    ("tamper", "complaint"),
    [
        ({"https://slack.com/team_id": "T0OTHER"}, "members of T0TEAM only"),
        ({"nonce": "replayed-nonce"}, "nonce"),
        ({"aud": "someone-else"}, "Audience doesn"),
        ({"iss": "https://evil.example"}, "Invalid issuer"),
        ({"exp": int(time.time()) - 3600}, "has expired"),
        ({"key": rsa.generate_private_key(65537, 2048)}, "Signature verification failed"),
    ],
)
def test_tokens_that_do_not_hold_are_refused(
    slack_site: Site, tamper: dict[str, Any], complaint: str
) -> None:
    assert slack_site.idp is not None
    slack_site.idp.tamper.update(tamper)
    client = slack_site.client()
    done = _sign_in(slack_site, client)

    assert done.status_code == 401
    assert complaint in done.text
    assert "chatops_session" not in done.headers.get("set-cookie", "")
    assert client.get("/api/overview").status_code == 401


def test_a_callback_not_started_here_is_refused(slack_site: Site) -> None:
    client = slack_site.client()
    client.get("/ui/login?next=/ui/")
    forged = client.get("/ui/auth/callback?code=abc&state=not-the-state")
    fresh = slack_site.client().get("/ui/auth/callback?code=abc&state=x")

    assert forged.status_code == 401
    assert fresh.status_code == 401
    assert "not started here" in fresh.text


def test_forged_or_foreign_session_cookies_are_refused(slack_site: Site) -> None:
    client = slack_site.client()
    _sign_in(slack_site, client)
    good = client.cookies["chatops_session"]
    body, mac = good.split(".")
    other_mac = mac[:10] + ("B" if mac[10] != "B" else "C") + mac[11:]
    other_body = body[:10] + ("B" if body[10] != "B" else "C") + body[11:]
    # the last character of a 32-byte MAC carries two padding bits: another letter there
    # decodes to the same bytes, and must still be refused
    padding = mac[:-1] + chr(ord(mac[-1]) + 1)

    for value in (f"{body}.{other_mac}", f"{other_body}.{mac}", f"{body}.{padding}", "x", ""):
        other = slack_site.client()
        other.cookies.set("chatops_session", value)
        assert other.get("/api/overview").status_code == 401, value
        assert other.get("/ui/").status_code == 303


def test_sign_in_never_sends_people_elsewhere(slack_site: Site) -> None:
    client = slack_site.client()
    for evil in ("//evil.example/x", "https://evil.example/", "/api/../../x"):
        client.cookies.clear()
        start = client.get(f"/ui/login?next={urllib.parse.quote(evil)}")
        back = httpx.get(start.headers["location"], follow_redirects=False)
        callback = urllib.parse.urlsplit(back.headers["location"])
        done = client.get(f"{callback.path}?{callback.query}")
        assert done.status_code == 303
        assert done.headers["location"] == "/ui/", evil


def test_an_unreachable_provider_is_said_plainly(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site({"auth": "slack", "team_id": "T0TEAM", "issuer": "http://127.0.0.1:9"})
    answer = site.client().get("/ui/login?next=/ui/")

    assert answer.status_code == 503
    assert "cannot read http://127.0.0.1:9/.well-known/openid-configuration" in answer.text


def test_slack_sign_in_needs_the_app_credentials(tmp_path: Path, bot_repo: BotRepo) -> None:
    path = write_config(
        tmp_path,
        bots={"mybot": str(bot_repo.remote)},
        web={"auth": "slack", "team_id": "T0TEAM"},
        public_url=None,
    )
    config = load_config(path)
    application = build(config, for_="serve")
    try:
        with pytest.raises(ConfigError) as refused:
            web_deps(config, application)
    finally:
        application.close()

    assert "CHATOPS_SLACK_CLIENT_ID and CHATOPS_SLACK_CLIENT_SECRET" in refused.value.message
    assert "App Credentials" in (refused.value.hint or "")


def test_every_other_spelling_of_a_signed_value_is_refused() -> None:
    """Any one character changed, in the body or the MAC, is refused, for many keys: no
    alternative encoding of the same bytes (base64 padding bits) passes as the original."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for n in range(40):
        signer = Signer(f"key-{n}".encode(), purpose="session")
        value = signer.sign({"user": f"U{n}"}, seconds=60)
        assert signer.unsign(value) == {
            "user": f"U{n}",
            "exp": pytest.approx(time.time() + 60, abs=5),
        }
        for at in (0, len(value) // 2, value.index(".") - 1, value.index(".") + 1, len(value) - 1):
            for other in alphabet:
                if other != value[at]:
                    changed = value[:at] + other + value[at + 1 :]
                    assert signer.unsign(changed) is None, (n, at, other)
