"""Sign in with Slack: `/ui/login` sends the browser to the provider, `/ui/auth/callback` brings
it back signed in (a signed session cookie). The login's state, nonce and the page asked for
travel in a short-lived signed cookie, so no server-side session store is needed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chatops.entrypoints.web import pages
from chatops.entrypoints.web.auth import OidcClient, Signer, SignInFailed, new_secret
from chatops.entrypoints.web.common import WebDeps, html, secured

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "SignIn"]

log = logging.getLogger(__name__)

SESSION_COOKIE = "chatops_session"
LOGIN_COOKIE = "chatops_login"
LOGIN_SECONDS = 600


@dataclass
class SignIn:
    oidc: OidcClient
    session: Signer
    login: Signer
    session_seconds: float
    public_url: str | None

    @classmethod
    def of(cls, deps: WebDeps) -> SignIn | None:
        """The sign-in of `web: {auth: slack}`; None for any other."""
        if deps.web is None or deps.web.auth != "slack":
            return None
        if deps.oidc is None or deps.session_key is None:
            return None
        return cls(
            oidc=deps.oidc,
            session=Signer(deps.session_key, purpose="session"),
            login=Signer(deps.session_key, purpose="login"),
            session_seconds=deps.web.session_hours * 3600,
            public_url=deps.public_url,
        )

    @property
    def secure(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    def user_of(self, request: Request) -> str | None:
        session = self.session.unsign(request.cookies.get(SESSION_COOKIE))
        user = session.get("user") if session else None
        return user if isinstance(user, str) else None

    def routes(self) -> list[Route]:
        return [
            Route("/ui/login", self.start, methods=["GET"]),
            Route("/ui/auth/callback", self.callback, methods=["GET"]),
        ]

    def _redirect_uri(self, request: Request) -> str:
        base = self.public_url or str(request.base_url).rstrip("/")
        return f"{base}/ui/auth/callback"

    async def start(self, request: Request) -> Response:
        wanted = request.query_params.get("next", "/ui/")
        state, nonce = new_secret(), new_secret()
        try:
            url = await run_in_threadpool(
                self.oidc.authorize_url,
                redirect_uri=self._redirect_uri(request),
                state=state,
                nonce=nonce,
            )
        except SignInFailed as exc:
            log.warning("sign-in: %s", exc)
            return secured(html(pages.signin_failed(str(exc)), status=503))
        response = RedirectResponse(url, 303)
        value = self.login.sign(
            {"state": state, "nonce": nonce, "next": wanted}, seconds=LOGIN_SECONDS
        )
        self._cookie(response, LOGIN_COOKIE, value, seconds=LOGIN_SECONDS, path="/ui/")
        return secured(response)

    async def callback(self, request: Request) -> Response:
        started = self.login.unsign(request.cookies.get(LOGIN_COOKIE))
        code = request.query_params.get("code", "")
        given_state = request.query_params.get("state", "")
        if started is None or not code or given_state != started.get("state"):
            why = request.query_params.get("error") or "this sign-in was not started here"
            return secured(html(pages.signin_failed(f"sign-in refused: {why}"), status=401))
        try:
            user = await run_in_threadpool(
                self.oidc.sign_in,
                code=code,
                redirect_uri=self._redirect_uri(request),
                nonce=str(started["nonce"]),
            )
        except SignInFailed as exc:
            log.warning("sign-in refused: %s", exc)
            return secured(html(pages.signin_failed(str(exc)), status=401))
        wanted = str(started.get("next") or "/ui/")
        if not wanted.startswith("/ui/") or wanted.startswith("//") or "\\" in wanted:
            wanted = "/ui/"  # never send someone elsewhere
        response = RedirectResponse(wanted, 303)
        value = self.session.sign({"user": user}, seconds=self.session_seconds)
        self._cookie(response, SESSION_COOKIE, value, seconds=int(self.session_seconds), path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/ui/")
        return secured(response)

    def _cookie(
        self, response: Response, name: str, value: str, *, seconds: int, path: str
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=seconds,
            path=path,
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
