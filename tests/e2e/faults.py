"""What the fault tests share: a served installation with the Slack stand-in, bots that hold a
deployment in one state for as long as a test needs, and the checks made after every fault."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from chatops.adapters.db.uow import SqlStore
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment
from chatops.entrypoints.sample import DOCKERFILE
from tests.e2e.conftest import Installation
from tests.e2e.serving import BOT_TOKEN, SIGNING_SECRET, Served
from tests.slack import reading, signing
from tests.slack.standin import SlackStandIn

T = TypeVar("T")

CHANNEL = "C0DEPLOYS"
_HTTPD = 'CMD exec httpd -f -p "127.0.0.1:$PORT" -h /www'
assert _HTTPD in DOCKERFILE


def slow_start(seconds: int) -> str:
    """The sample bot, healthy only `seconds` after it starts (not unhealthy before: a start
    period), so its deployment stays `verifying` that long."""
    return DOCKERFILE.replace("HEALTHCHECK ", "HEALTHCHECK --start-period=300s ").replace(
        _HTTPD, f'CMD sleep {seconds}; exec httpd -f -p "127.0.0.1:$PORT" -h /www'
    )


# the sample bot ignoring SIGTERM: stopping it takes the engine's whole stop timeout (10 s),
# so a deployment replacing it stays `deploying` that long
SLOW_TO_STOP = DOCKERFILE.replace(
    _HTTPD, "CMD trap '' TERM; httpd -p \"127.0.0.1:$PORT\" -h /www; exec sleep 3600"
)


def never_builds(marker: str) -> str:
    """A build whose RUN step never ends by itself."""
    return (
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo {marker}; exec /bin/busybox sleep 3600"]\n'
    )


def until(probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Site:
    """One installation, served by `chatops serve` that talks to the Slack stand-in."""

    i: Installation
    slack: SlackStandIn
    served: Served
    store: SqlStore

    def deploy(self, text: str, *, user: str = "UDEV") -> None:
        """`/deploy <text>` from Slack, acknowledged."""
        body, headers = signing.slash_command(
            "/deploy",
            text,
            user=user,
            channel=CHANNEL,
            response_url=self.slack.response_url("deploy"),
            secret=SIGNING_SECRET,
        )
        answer = self.served.post("/slack/events", body, headers)
        assert answer.status_code == 200, answer.text

    def in_progress(self) -> Deployment | None:
        with self.store.uow() as uow:
            running = uow.deployments.in_state(IN_PROGRESS_STATES)
        return next((d for d in running if d.bot == self.i.bot), None)

    def reach(self, state: str, timeout: float = 90.0) -> Deployment:
        """The bot's deployment once it is in `state` (failing fast when it ended otherwise)."""

        def probe() -> Deployment | None:
            found = self.in_progress()
            return found if found is not None and found.state == state else None

        try:
            return until(probe, f"a deployment of {self.i.bot} to be {state}", timeout)
        except AssertionError:
            raise AssertionError(
                f"no deployment became {state}; now {self.in_progress()}\n"
                f"{self.served.output()[-3000:]}"
            ) from None

    def deployment(self, deployment_id: int) -> Deployment:
        with self.store.uow() as uow:
            found = uow.deployments.get(deployment_id)
        assert found is not None
        return found

    def live_version(self, env: str = "staging") -> int | None:
        with self.store.uow() as uow:
            live = uow.deployments.live(self.i.bot, env)
        return live.version if live is not None else None

    def running(self) -> dict[str, str]:
        """name → release of every running container of the bot on the engine."""
        found = self.i.docker.containers.list(filters={"label": f"chatops.bot={self.i.bot}"})
        return {c.name: str(c.labels.get("chatops.release")) for c in found}

    def headline(self, deployment_id: int) -> str | None:
        """The first line of the deployment's channel message, as Slack shows it now."""
        for message in self.slack.messages().values():
            lines = reading.text_of(list(message.blocks)).splitlines()
            if message.thread_ts is None and any(
                line.startswith("Kind: ") and line.endswith(f"#{deployment_id}") for line in lines
            ):
                return lines[0]
        return None

    def told(self, deployment_id: int, phrase: str, timeout: float = 30.0) -> str:
        """The channel message's headline once it ends with `: <phrase>` (late, not never)."""

        def probe() -> str | None:
            shown = self.headline(deployment_id)
            return shown if shown is not None and shown.endswith(f": {phrase}") else None

        try:
            return until(probe, f"#{deployment_id}'s message to say {phrase}", timeout)
        except AssertionError:
            raise AssertionError(
                f"#{deployment_id}'s message says {self.headline(deployment_id)!r}, "
                f"not {phrase!r}\n{self.served.output()[-3000:]}"
            ) from None

    def audit(self) -> list[dict[str, Any]]:
        return list(self.i.json("audit", "--bot", self.i.bot, "--limit", "1000"))

    def assert_settled(self) -> None:
        """No deployment of the bot left non-final, and the engine runs what the database
        says is live (and nothing else of the bot)."""
        assert self.in_progress() is None
        live = self.live_version()
        expected = {f"{self.i.bot}-staging": f"v{live}"} if live is not None else {}
        assert self.running() == expected


@pytest.fixture
def site(installation: Installation) -> Iterator[Site]:
    """The installation with Slack; serve is configured, not started (tests start it)."""
    i = installation
    i.document["bots"][i.bot]["health_timeout_seconds"] = 60
    i.write_config()
    with SlackStandIn() as slack:
        env = {
            **i.env,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
        }
        store = SqlStore(f"sqlite:///{i.path / 'chatops.db'}")
        served = Served(i.config, env)
        try:
            yield Site(i, slack, served, store)
        finally:
            served.kill()
            store.dispose()
