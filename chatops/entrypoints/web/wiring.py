"""The web view's parts, from the configuration (called by `serve`)."""

from __future__ import annotations

import hashlib
import hmac

from chatops.bootstrap import Application
from chatops.config import Config
from chatops.entrypoints.web.auth import OidcClient
from chatops.entrypoints.web.common import WebDeps
from chatops.errors import ConfigError

__all__ = ["web_deps"]


def web_deps(config: Config, application: Application) -> WebDeps:
    """What the routes of the web view need; with no `web:` they answer 404.

    Raises:
        ConfigError: `web: {auth: slack}` without CHATOPS_SLACK_CLIENT_ID and
            CHATOPS_SLACK_CLIENT_SECRET.
    """
    web = config.file.web
    settings = config.settings
    oidc = None
    key = None
    if web is not None and web.auth == "slack":
        client_id = settings.chatops_slack_client_id
        secret = settings.chatops_slack_client_secret
        if not client_id or secret is None:
            raise ConfigError(
                "web: {auth: slack} needs CHATOPS_SLACK_CLIENT_ID and CHATOPS_SLACK_CLIENT_SECRET",
                hint="copy them from the Slack app's Basic Information page (App Credentials), "
                "or use `web: {auth: proxy}` behind an authenticating proxy",
            )
        oidc = OidcClient(
            issuer=web.issuer.rstrip("/"),
            client_id=client_id,
            client_secret=secret.get_secret_value(),
            team_id=str(web.team_id),
        )
        # sessions are signed with a key derived from the client secret: rotating the
        # secret signs everyone out, and no second secret needs keeping
        key = hmac.new(
            secret.get_secret_value().encode(), b"chatops web sessions", hashlib.sha256
        ).digest()
    return WebDeps(
        board=application.board,
        web=web,
        public_url=config.file.public_url,
        oidc=oidc,
        session_key=key,
    )
