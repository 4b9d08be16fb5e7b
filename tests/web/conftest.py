"""A chatops with a recorded history and its web view, served in-process (Starlette's TestClient).

The database (SQLite), git (a bare remote) and the identity provider (a stand-in
on 127.0.0.1) are real; no Docker is needed: pages read what chatops recorded.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware

with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what the project pins
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from chatops.adapters.db.schema import upgrade
from chatops.bootstrap import Application, build
from chatops.config import Config
from chatops.entrypoints.limits import BodyLimits
from chatops.entrypoints.web import web_routes
from chatops.entrypoints.web.wiring import web_deps
from tests.conftest import BotRepo
from tests.e2e.conftest import installation  # noqa: F401 (the browser test's chatops)
from tests.web.idp import IdentityProvider, serving
from tests.web.story import Story, load_config, record, write_config

CLIENT_ID = "1234.5678"
CLIENT_SECRET = "client-secret-for-tests"


@dataclass
class Site:
    config: Config
    application: Application
    story: Story
    repo: BotRepo
    commits: tuple[str, str]
    idp: IdentityProvider | None

    def client(self, *, host: str = "127.0.0.1") -> TestClient:
        app = Starlette(
            routes=web_routes(web_deps(self.config, self.application)),
            middleware=[Middleware(BodyLimits, timeout=5.0)],
        )
        return TestClient(
            app, base_url="http://127.0.0.1", client=(host, 50000), follow_redirects=False
        )


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serving(IdentityProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)) as found:
        yield found


SiteFactory = Callable[..., Site]


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the migrations' head, copied for each site."""
    path = tmp_path_factory.mktemp("migrated") / "chatops.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def make_site(tmp_path: Path, bot_repo: BotRepo, migrated: Path) -> Iterator[SiteFactory]:
    made: list[Application] = []
    first = bot_repo.head()
    second = bot_repo.commit("second version")
    commits = (first, second)

    def make(
        web: dict[str, Any] | None,
        idp: IdentityProvider | None = None,
        *,
        env_file: str | None = None,
    ) -> Site:
        home = tmp_path / f"chatops{len(made)}"
        home.mkdir()
        path = write_config(
            home,
            bots={"mybot": str(bot_repo.remote)},
            web=web,
            public_url="http://127.0.0.1",
            env_file=env_file,
        )
        config = load_config(
            path,
            migrated=migrated,
            chatops_slack_client_id=CLIENT_ID,
            chatops_slack_client_secret=CLIENT_SECRET,
        )
        application = build(config, for_="serve")
        made.append(application)
        with application.uow() as uow:
            story = record(uow, "mybot", commits)
            uow.commit()
        return Site(config, application, story, bot_repo, commits, idp)

    yield make
    for application in made:
        application.close()


@pytest.fixture
def proxied(make_site: SiteFactory) -> Site:
    return make_site(
        {"auth": "proxy", "header": "X-Forwarded-User", "trusted_proxies": ["127.0.0.1"]}
    )


@pytest.fixture
def slack_site(make_site: SiteFactory, idp: IdentityProvider) -> Site:
    return make_site({"auth": "slack", "team_id": "T0TEAM", "issuer": idp.url}, idp)
