"""`chatops serve`'s HTTP app in-process: the real Starlette app, bolt and SQLite, no uvicorn.

Requests go through httpx's ASGI transport on an event loop of their own; Slack's
Web API calls go to the Slack stand-in. Nothing here starts the scheduler or touches
Docker, so tests stay fast; whole flows that deploy run through a real serve
(tests/e2e).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import func, select
from starlette.types import ASGIApp

from chatops.adapters.db import schema
from chatops.adapters.db.tables import Base
from chatops.bootstrap import Application
from chatops.config import Settings, load
from chatops.entrypoints.serve import Server, assemble
from tests.conftest import BotRepo, git
from tests.slack.standin import SlackStandIn

BOT = "edgebot"
SIGNING_SECRET = "edge-signing-secret"
BOT_TOKEN = "xoxb-edge-token"
ALERT_TOKEN = "edge-alert-token"
GIT_SECRET = "edge-git-secret"
METRICS_TOKEN = "edge-metrics-token"


def make_repo(root: Path) -> BotRepo:
    """A bare remote with one commit on `main` (the content does not matter here)."""
    remote = root / "remote" / f"{BOT}.git"
    remote.mkdir(parents=True)
    git("init", "-q", "--bare", "-b", "main", str(remote), cwd=root)
    work = root / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    git("remote", "add", "origin", str(remote), cwd=work)
    repo = BotRepo(work=work, remote=remote)
    git("commit", "-q", "--allow-empty", "-m", "first", cwd=work)
    git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=work)
    return repo


# written by the Slack sender in the background, not by the request under test
DELIVERY_TABLES = frozenset({"outbox", "outbox_pace", "chat_messages"})


class Client:
    """A synchronous httpx client for an ASGI app, in-process (one event loop in a thread)."""

    def __init__(self, app: ASGIApp) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        transport = httpx.ASGITransport(app=app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://chatops.test")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        call = self._client.request(method, path, **kwargs)
        return asyncio.run_coroutine_threadsafe(call, self._loop).result(timeout=60)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=60)
        self._loop.close()


@dataclass
class Edge:
    server: Server
    client: Client
    slack: SlackStandIn
    repo: BotRepo

    @property
    def application(self) -> Application:
        return self.server.application

    def rows(self) -> dict[str, int]:
        """How many rows each table holds: what a refused request must leave unchanged.

        The Slack outbox's own tables are left out: its sender delivers what earlier,
        accepted requests queued whenever it gets to it, in the background.
        """
        engine = self.server.application.store.engine
        with engine.connect() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables
                if table.name not in DELIVERY_TABLES
            }

    def github(
        self, document: Any, *, event: str = "push", delivery: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(document).encode()
        signature = "sha256=" + hmac.new(GIT_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-Hub-Signature-256": signature,
            "X-GitHub-Event": event,
            "Content-Type": "application/json",
        }
        if delivery is not None:
            headers["X-GitHub-Delivery"] = delivery
        return body, headers

    def push_document(self, sha: str, *, branch: str = "main") -> dict[str, Any]:
        return {
            "ref": f"refs/heads/{branch}",
            "after": sha,
            "repository": {"full_name": f"acme/{BOT}", "clone_url": str(self.repo.remote)},
            "pusher": {"name": "ada"},
        }


def settings(db_url: str, slack: SlackStandIn, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.base_url,
        "chatops_database_url": db_url,
        "chatops_alert_token": ALERT_TOKEN,
        "chatops_git_webhook_secret": GIT_SECRET,
        "chatops_metrics_token": METRICS_TOKEN,
        "docker_host": "unix:///nonexistent/docker.sock",  # never a real engine in-process
        **overrides,
    }
    return Settings(**values)


def write_config(root: Path, repo: BotRepo) -> Path:
    document = {
        "workdir": str(root / "chatops-work"),
        "slack": {"channel": "C0DEPLOYS", "admins": ["UADMIN"]},
        "environments": {
            "staging": {"auto_deploy": "main", "deployers": ["*"]},
            "prod": {
                "promote_from": "staging",
                "approvals": 1,
                "approvers": ["ULEAD"],
                "deployers": ["ULEAD"],
            },
        },
        "bots": {BOT: {"repo": str(repo.remote), "branch": "main"}},
    }
    path = root / "chatops.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@contextmanager
def serving(
    root: Path,
    slack: SlackStandIn,
    repo: BotRepo | None = None,
    *,
    database: Path | None = None,
    socket_mode: bool = False,
    **overrides: Any,
) -> Iterator[Edge]:
    """The assembled HTTP app of `chatops serve` for a config under `root`.

    Replicas share `database` (default: one of its own under `root`).
    """
    root.mkdir(parents=True, exist_ok=True)
    repo = repo or make_repo(root)
    db_url = f"sqlite:///{database or root / 'chatops.db'}"
    schema.upgrade(db_url)
    config = load(write_config(root, repo), settings=settings(db_url, slack, **overrides))
    server = assemble(config, socket_mode=socket_mode)
    client = Client(server.http)
    try:
        yield Edge(server=server, client=client, slack=slack, repo=repo)
    finally:
        client.close()
        server.stop()
