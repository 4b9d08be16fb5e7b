"""A stand-in OpenID Connect identity provider on 127.0.0.1 (as Slack's, for Sign in with Slack).

Serves discovery, an authorize endpoint that signs in `user` of `team` at once
(redirecting back with a code), a token endpoint that answers an id_token signed
with an RSA key made here, and the JWKS. `tamper` changes the next id_token's
claims (or its key) so tests can check that each claim is verified.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class IdentityProvider:
    client_id: str
    client_secret: str
    user: str = "ULEAD1"
    team: str = "T0TEAM"
    url: str = ""
    key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tamper: dict[str, Any] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": self.client_id,
            "sub": self.user,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "https://slack.com/user_id": self.user,
            "https://slack.com/team_id": self.team,
        }
        key = self.tamper.pop("key", self.key)
        claims.update(self.tamper)
        self.tamper.clear()
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}


def _handler(idp: IdentityProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, body: Any, status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/.well-known/openid-configuration":
                self._json(
                    {
                        "issuer": idp.url,
                        "authorization_endpoint": f"{idp.url}/openid/connect/authorize",
                        "token_endpoint": f"{idp.url}/api/openid.connect.token",
                        "jwks_uri": f"{idp.url}/openid/connect/keys",
                    }
                )
            elif url.path == "/openid/connect/keys":
                self._json(idp.jwks())
            elif url.path == "/openid/connect/authorize":
                if query.get("client_id") != idp.client_id:
                    self._json({"error": "invalid_client"}, 400)
                    return
                code = secrets.token_urlsafe(12)
                idp.codes[code] = query
                back = urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{back}")
                self.end_headers()
            else:
                self._json({"error": "not_found"}, 404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            idp.token_requests.append(form)
            asked = idp.codes.pop(form.get("code", ""), None)
            if (
                asked is None
                or form.get("client_secret") != idp.client_secret
                or form.get("redirect_uri") != asked.get("redirect_uri")
            ):
                self._json({"ok": False, "error": "invalid_grant"}, 400)
                return
            self._json({"ok": True, "id_token": idp.id_token(asked.get("nonce", ""))})

    return Handler


@contextmanager
def serving(idp: IdentityProvider) -> Iterator[IdentityProvider]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(idp))
    idp.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()
