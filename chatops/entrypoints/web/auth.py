"""Who looks at the web view: Sign in with Slack (OpenID Connect) or an authenticating proxy.

Sessions live in a cookie signed with HMAC-SHA256 (HttpOnly, SameSite=Lax, Secure
behind https). The Slack sign-in checks the id_token's signature against the
issuer's JWKS and its issuer, audience, expiry, nonce and workspace
(`https://slack.com/team_id`); only members of the configured workspace get in.
A proxy is believed only when the request comes from one of `trusted_proxies`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.requests import Request

__all__ = ["OidcClient", "ProxyAuth", "SignInFailed", "Signer", "proxy_user"]

log = logging.getLogger(__name__)

TEAM_CLAIM = "https://slack.com/team_id"
USER_CLAIM = "https://slack.com/user_id"
HTTP_TIMEOUT = 10.0
MAX_IDENTITY = 200


class SignInFailed(Exception):
    """The identity provider's answer is not one we accept (the message says why)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signed, expiring values for cookies: `base64(json).base64(hmac)`."""

    def __init__(self, key: bytes, *, purpose: str) -> None:
        self._key = hmac.new(key, purpose.encode(), hashlib.sha256).digest()

    def sign(self, payload: dict[str, Any], *, seconds: float) -> str:
        body = _b64(json.dumps({**payload, "exp": time.time() + seconds}).encode())
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def unsign(self, value: str | None) -> dict[str, Any] | None:
        """The payload, or None when the value is missing, forged or expired."""
        if not value or value.count(".") != 1 or len(value) > 4096:
            return None
        body, mac = value.split(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None  # compared as text: only the one canonical encoding is accepted
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int | float):
            return None
        return payload if payload["exp"] > time.time() else None


@dataclass(frozen=True, slots=True)
class ProxyAuth:
    header: str
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def of(cls, header: str, trusted_proxies: list[str]) -> ProxyAuth:
        return cls(header, tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies))


def proxy_user(request: Request, auth: ProxyAuth) -> str | None:
    """The person the proxy names, when the request really comes from a trusted proxy."""
    host = request.client.host if request.client else None
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return None
    if not any(address in net for net in auth.trusted):
        return None
    user = request.headers.get(auth.header, "").strip()
    if not user or len(user) > MAX_IDENTITY or not user.isprintable():
        return None
    return user


@dataclass
class OidcClient:
    """Sign in with Slack: the authorization code flow against `issuer` (Slack, or a stand-in)."""

    issuer: str
    client_id: str
    client_secret: str
    team_id: str
    _discovery: dict[str, Any] | None = field(default=None, repr=False)
    _jwks: jwt.PyJWKClient | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def discovery(self) -> dict[str, Any]:
        """The issuer's OpenID configuration, read once.

        Raises:
            SignInFailed: it cannot be read, or names another issuer.
        """
        with self._lock:
            if self._discovery is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                found = _get_json(url)
                if found.get("issuer") != self.issuer:
                    raise SignInFailed(f"{url} names issuer {found.get('issuer')!r}")
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(found.get(key), str):
                        raise SignInFailed(f"{url} has no {key}")
                self._discovery = found
                self._jwks = jwt.PyJWKClient(found["jwks_uri"], timeout=int(HTTP_TIMEOUT))
            return self._discovery

    def authorize_url(self, *, redirect_uri: str, state: str, nonce: str) -> str:
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "scope": "openid profile",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "nonce": nonce,
                "team": self.team_id,
            }
        )
        return f"{self.discovery()['authorization_endpoint']}?{query}"

    def sign_in(self, *, code: str, redirect_uri: str, nonce: str) -> str:
        """The Slack user id of whoever signed in with `code`.

        Raises:
            SignInFailed: the code, the token or its claims are not acceptable.
        """
        found = self.discovery()
        form = urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }
        ).encode()
        answer = _post_form(found["token_endpoint"], form)
        token = answer.get("id_token")
        if not isinstance(token, str):
            raise SignInFailed(f"the token endpoint gave no id_token ({answer.get('error')})")
        jwks = self._jwks
        if jwks is None:
            raise SignInFailed("the issuer's keys are unknown")
        try:
            key = jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "ES256"],
                audience=self.client_id,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"the id_token is not acceptable: {exc}") from None
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInFailed("the id_token's nonce is not the one this sign-in sent")
        if claims.get(TEAM_CLAIM) != self.team_id:
            raise SignInFailed(
                f"you signed in to workspace {claims.get(TEAM_CLAIM)!r}; this chatops serves "
                f"members of {self.team_id} only"
            )
        user = claims.get(USER_CLAIM) or claims.get("sub")
        if not isinstance(user, str) or not user or len(user) > MAX_IDENTITY:
            raise SignInFailed("the id_token names no user")
        return user


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def _get_json(url: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (_json checks the scheme)
    return _json(request)


def _post_form(url: str, form: bytes) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (_json checks the scheme)
        url,
        data=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    return _json(request)


def _json(request: urllib.request.Request) -> dict[str, Any]:
    if not request.full_url.startswith(("https://", "http://")):
        raise SignInFailed(f"{request.full_url}: not an http(s) URL")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 (checked above)
            found = json.loads(response.read(1_000_000))
    except urllib.error.HTTPError as exc:
        raise SignInFailed(f"{request.full_url} answered {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise SignInFailed(f"cannot read {request.full_url}: {exc}") from None
    if not isinstance(found, dict):
        raise SignInFailed(f"{request.full_url} did not answer a JSON object")
    return found
