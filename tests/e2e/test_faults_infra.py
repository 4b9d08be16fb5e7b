"""The real services chatops depends on fail under a deployment: the Docker Engine and
PostgreSQL restart, the registry is down when the image is pushed. After each: no
deployment left unfinished, the engine runs exactly what the database says is live, and
the audit log says what happened. (Slack's Web API answering 500 and 429 through `serve`
is in test_faults.py; hanging past the client timeout in tests/integration/test_slack_outbox.py.)

The engine, registry and PostgreSQL restarted are the session's own (tests/conftest.py);
each is running and answering again before its test ends.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from chatops.adapters.db.uow import SqlStore
from chatops.domain.deployment import IN_PROGRESS_STATES, Deployment, State
from tests.conftest import restartable
from tests.e2e.conftest import Installation
from tests.e2e.faults import Site, site, slow_start, until

__all__ = ["site"]

pytestmark = pytest.mark.slow


def _in_progress(store: SqlStore, bot: str) -> Deployment | None:
    with store.uow() as uow:
        running = uow.deployments.in_state(IN_PROGRESS_STATES)
    return next((d for d in running if d.bot == bot), None)


def _deploy_in_background(i: Installation, store: SqlStore, state: str) -> subprocess.Popen[str]:
    """`chatops deploy BOT staging` as a process of its own, once its deployment is `state`."""
    process = i.start("deploy", i.bot, "staging", "--json")

    def reached() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"deploy ended early: {process.communicate()}")
        found = _in_progress(store, i.bot)
        return found is not None and found.state == state

    until(reached, f"the deployment to be {state}", timeout=90)
    return process


def _settled(i: Installation, store: SqlStore) -> int | None:
    """No deployment unfinished, the engine runs what the database says is live; that version."""
    assert _in_progress(store, i.bot) is None
    with store.uow() as uow:
        live = uow.deployments.live(i.bot, "staging")
    running = {
        c.name: c.labels.get("chatops.release")
        for c in i.docker.containers.list(filters={"label": f"chatops.bot={i.bot}"})
    }
    expected = {f"{i.bot}-staging": f"v{live.version}"} if live is not None else {}
    assert running == expected, f"the engine runs {running}, the database says {expected}"
    return live.version if live is not None else None


def test_the_docker_engine_restarted_mid_deploy(
    installation: Installation, docker_host: str
) -> None:
    i = installation
    engine = restartable(docker_host)
    store = SqlStore(f"sqlite:///{i.path / 'chatops.db'}")
    try:
        assert i.run("deploy", i.bot, "staging").returncode == 0
        i.repo.commit("healthy after 4s", files={"Dockerfile": slow_start(4)})
        process = _deploy_in_background(i, store, State.VERIFYING)

        engine.restart()
        out, err = process.communicate(timeout=120)

        outcome = json.loads(out)
        assert outcome["state"] in (State.LIVE, State.FAILED), err
        if outcome["state"] == State.FAILED:  # the engine stopped v2 as it went down
            assert outcome["reason"].endswith("; v1 is running again"), outcome
        # what the engine brings back up by itself (restart policy) agrees with the records
        until(lambda: i.running_release("staging"), "a container of the bot to run", 30)
        live = _settled(i, store)
        assert live == (2 if outcome["state"] == State.LIVE else 1)
        ended = [e for e in i.json("audit") if e["deployment_id"] == outcome["deployment_id"]]
        assert ended, "the deployment left no audit event"
    finally:
        store.dispose()


def test_the_registry_down_when_the_image_is_pushed(
    installation: Installation, registry: str
) -> None:
    i = installation
    service = restartable(registry)
    store = SqlStore(f"sqlite:///{i.path / 'chatops.db'}")
    try:
        assert i.run("deploy", i.bot, "staging").returncode == 0
        i.repo.commit("v2")
        tags_before = i.repo.remote_tags()

        with service.down():
            result = i.run("deploy", i.bot, "staging", "--json")

        assert result.returncode == 1, result.stderr
        outcome = json.loads(result.stdout)
        assert outcome["state"] == State.FAILED
        assert registry in outcome["reason"], outcome["reason"]
        assert "Traceback" not in result.stderr
        # nothing half-written: no release, no tag, v1 runs on
        assert [r["version"] for r in i.json("releases", i.bot)] == [1]
        assert i.repo.remote_tags() == tags_before
        assert _settled(i, store) == 1
        [failed] = [e for e in i.json("audit") if e["action"] == "failed"]
        assert failed["deployment_id"] == outcome["deployment_id"]

        again = i.run("deploy", i.bot, "staging", "--json")  # the registry is back
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["version"] == 2
        assert _settled(i, store) == 2
    finally:
        store.dispose()


def test_postgresql_restarted_mid_deploy(
    installation: Installation, postgres_server: str, postgres_url: str
) -> None:
    i = installation
    database = restartable(postgres_server)
    i.document["database_url"] = postgres_url
    i.write_config()
    assert i.run("db", "upgrade").returncode == 0
    store = SqlStore(postgres_url)
    try:
        i.repo.commit("healthy after 4s", files={"Dockerfile": slow_start(4)})
        process = _deploy_in_background(i, store, State.VERIFYING)

        database.restart()
        out, err = process.communicate(timeout=120)

        # it goes live, or (when the server was away as it went live) it fails saying why,
        # with nothing of it left running
        outcome = json.loads(out)
        assert outcome["state"] in (State.LIVE, State.FAILED), err
        assert outcome["state"] == State.LIVE or outcome["reason"], outcome
        store.dispose()  # the pool's connections died with the server
        assert _settled(i, store) == (1 if outcome["state"] == State.LIVE else None)
        actions = [e["action"] for e in i.json("audit") if e["deployment_id"]]
        assert {"live", "failed"} & set(actions), actions
    finally:
        store.dispose()


def test_serve_restarted_while_the_engine_is_down_puts_back_what_ran_once_it_answers(
    site: Site, docker_host: str
) -> None:
    """Killed mid-rollout, then started while the engine is away: recovery leaves the
    deployment to a later round rather than end it with nothing put back."""
    s, i = site, site.i
    engine = restartable(docker_host)
    assert i.run("deploy", i.bot, "staging").returncode == 0
    i.repo.commit("never healthy", files={"Dockerfile": slow_start(3600)})
    s.served.start()
    s.deploy(f"{i.bot} staging")
    interrupted = s.reach(State.VERIFYING)
    s.served.kill()

    with engine.down():
        s.served.start()
        time.sleep(3)  # its start-up recovery ran, and found the engine away
        assert s.deployment(interrupted.id or 0).state == State.VERIFYING
        assert "does not answer" in s.served.output()

    # the leader's recovery round (every 15 s) ends it and puts v1 back
    def restored() -> bool:  # (ended first, then how the restore went is added)
        ended = s.deployment(interrupted.id or 0)
        return ended.state == State.FAILED and (ended.reason or "").endswith("running again")

    until(restored, "recovery to end the deployment and put v1 back", timeout=90)
    until(lambda: s.running() == {f"{i.bot}-staging": "v1"}, "v1 alone to run", timeout=30)
    s.assert_settled()
    assert s.served.stop() == 0, s.served.output()
