"""SwarmRuntime against a real single-node Docker Swarm: create, update, roll back, remove.

The swarm is the test Docker Engine's: initialised here (and left again at the end)
only when the engine is not in a swarm already. Every service a test creates is
removed after it, whatever happened.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from uuid import uuid4

import docker
import docker.errors
import pytest

from chatops.adapters.build import DockerImageBuilder
from chatops.adapters.local_services import free_port
from chatops.adapters.runtime.docker import ManagedContainer
from chatops.adapters.runtime.swarm import SwarmRuntime
from chatops.domain.catalog import Resources, Strategy
from chatops.domain.health import Health
from chatops.errors import NotFound, RuntimeFailure
from chatops.services.ports import RunSpec
from tests.integration.test_docker_runtime import (
    ENV,
    Images,
    build,
    client,
    containers_of,
    images,
    serves,
    spec_for,
    wait_for,
)

__all__ = ["client", "images"]  # the docker runtime tests' fixtures, used here too

MONITOR = 1.0  # seconds Swarm watches a new task: short, to keep the tests quick
CONVERGE = 90.0
GWBRIDGE = "docker_gwbridge"

BASE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""
SLEEPER = BASE + 'CMD ["sleep", "3600"]\n'  # binds no port, has no HEALTHCHECK
CRASHER = BASE + 'CMD ["sh", "-c", "echo about to fail; exit 1"]\n'


@dataclass(frozen=True)
class Extra:
    """Image ids of the bots without a web server."""

    sleeper: str
    crasher: str


@pytest.fixture(scope="module")
def swarm(client: docker.DockerClient) -> Iterator[None]:
    """The engine as a Swarm manager: made a single-node swarm (and left again) if in none."""
    state: dict[str, Any] = client.info()["Swarm"]
    if state.get("LocalNodeState") == "active":
        if not state.get("ControlAvailable"):
            pytest.fail("the test Docker Engine is a Swarm worker: these tests need a manager")
        yield
        return
    had_bridge = bool(client.networks.list(names=[GWBRIDGE]))
    try:
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr=f"127.0.0.1:{free_port()}")
    except docker.errors.APIError as exc:
        if "already part of a swarm" not in str(exc):
            raise
        yield  # someone else made it a swarm meanwhile: theirs to leave
        return
    try:
        yield
    finally:
        client.swarm.leave(force=True)
        if not had_bridge:  # `swarm init` creates it, `swarm leave` leaves it
            for network in client.networks.list(names=[GWBRIDGE]):
                with contextlib.suppress(docker.errors.APIError):  # in use by someone now
                    network.remove()


@pytest.fixture(scope="module")
def extra(client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Extra]:
    root = tmp_path_factory.mktemp("swarm-images")
    repo = f"chatops-test-{uuid4().hex[:10]}"
    names = {"sleeper": f"{repo}:sleeper", "crasher": f"{repo}:crasher"}
    try:
        yield Extra(
            sleeper=build(client, root, names["sleeper"], dockerfile=SLEEPER),
            crasher=build(client, root, names["crasher"], dockerfile=CRASHER),
        )
    finally:
        builder = DockerImageBuilder(client)
        for tag in names.values():
            builder.remove(tag)


@pytest.fixture
def runtime(client: docker.DockerClient, swarm: None) -> SwarmRuntime:
    return SwarmRuntime(client, monitor_seconds=MONITOR, converge_timeout=CONVERGE, stop_timeout=5)


@pytest.fixture
def bot(runtime: SwarmRuntime) -> Iterator[str]:
    """A unique bot name; its service is removed after the test, whatever happened."""
    name = f"t{uuid4().hex[:8]}"
    yield name
    runtime.remove(name, ENV)


def service(client: docker.DockerClient, bot: str) -> dict[str, Any] | None:
    try:
        attrs: dict[str, Any] = client.api.inspect_service(f"{bot}-{ENV}")
    except docker.errors.NotFound:
        return None
    return attrs


def running_tasks(client: docker.DockerClient, bot: str) -> list[dict[str, Any]]:
    attrs = service(client, bot)
    assert attrs is not None
    tasks: list[dict[str, Any]] = client.api.tasks(filters={"service": attrs["ID"]})
    return [
        t for t in tasks if t["Status"]["State"] == "running" and t["DesiredState"] == "running"
    ]


def task_release(task: dict[str, Any]) -> str:
    return str(task["Spec"]["ContainerSpec"]["Labels"]["chatops.release"])


def bare(bot: str, image: str, version: int, **changes: Any) -> RunSpec:
    """A bot without a web server: binds no port, so replicas can share the host."""
    spec = RunSpec(
        bot=bot,
        env=ENV,
        version=version,
        image=image,
        image_name=f"{bot}:v{version}",
        commit=f"{version:040d}",
        network="host",
    )
    return replace(spec, **changes)


# ── the engine ───────────────────────────────────────────────────────────────


def test_an_engine_that_is_no_swarm_manager_says_what_to_do(client: docker.DockerClient) -> None:
    # first in this module: before the `swarm` fixture makes the engine a manager
    if client.info()["Swarm"].get("LocalNodeState") == "active":
        pytest.skip("the test Docker Engine is in a swarm already")

    with pytest.raises(RuntimeFailure) as caught:
        SwarmRuntime(client).observe("mybot", ENV)

    assert "not a swarm manager" in caught.value.message
    assert caught.value.hint is not None
    assert "docker swarm init" in caught.value.hint


def test_an_engine_that_cannot_be_reached_is_a_runtime_failure() -> None:
    dead = docker.DockerClient(base_url=f"tcp://127.0.0.1:{free_port()}", version="1.41", timeout=2)
    runtime = SwarmRuntime(dead)

    with pytest.raises(RuntimeFailure) as caught:
        runtime.observe("mybot", ENV)

    assert "inspecting the Swarm service mybot-test failed" in caught.value.message
    assert caught.value.hint is not None
    dead.close()


# ── start ────────────────────────────────────────────────────────────────────


def test_start_creates_the_service_and_updates_it_in_place_stop_first(
    client: docker.DockerClient, runtime: SwarmRuntime, images: Images, bot: str
) -> None:
    port = free_port()  # stop-first: the new task starts once the old one is gone
    v1, v2 = spec_for(bot, images, "v1", 1, port), spec_for(bot, images, "v2", 2, port)

    handle = runtime.start(v1)

    observation = runtime.observe(bot, ENV, handle)
    assert observation.running
    assert observation.health is Health.HEALTHY
    assert observation.release == "v1"
    assert observation.restarts == 0
    assert runtime.observe(bot, ENV) == observation
    assert serves(port) == "v1"
    attrs = service(client, bot)
    assert attrs is not None
    assert attrs["ID"] == handle
    spec = attrs["Spec"]
    labels = {
        "chatops.bot": bot,
        "chatops.env": ENV,
        "chatops.release": "v1",
        "chatops.commit": v1.commit,
        "chatops.image": v1.image_name,
        "chatops.instance": "default",
    }
    assert spec["Labels"] == labels
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Labels"] == labels
    assert container["Image"] == v1.image
    assert sorted(container["Env"]) == sorted([f"PORT={port}", "GREETING=hello v1"])
    assert spec["TaskTemplate"]["RestartPolicy"]["Condition"] == "on-failure"
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}
    for config in (spec["UpdateConfig"], spec["RollbackConfig"]):
        assert config["Order"] == "stop-first"
        assert config["Parallelism"] == 1
        assert config["Monitor"] == int(MONITOR * 1e9)
    assert spec["UpdateConfig"]["FailureAction"] == "rollback"
    [task] = running_tasks(client, bot)
    assert [n["Network"]["Spec"]["Name"] for n in task["NetworksAttachments"]] == ["host"]
    runtime.commit(bot, ENV, handle)

    assert runtime.start(v2) == handle

    observation = runtime.observe(bot, ENV, handle)
    assert (observation.running, observation.health, observation.release) == (
        True,
        Health.HEALTHY,
        "v2",
    )
    assert serves(port) == "v2"
    attrs = service(client, bot)
    assert attrs is not None
    assert attrs["UpdateStatus"]["State"] == "completed"
    assert attrs["PreviousSpec"]["Labels"]["chatops.release"] == "v1"
    assert [task_release(t) for t in running_tasks(client, bot)] == ["v2"]
    runtime.commit(bot, ENV, handle)
    assert ManagedContainer(bot, ENV, "v2", True) in runtime.list_managed()


def test_start_first_starts_the_new_task_before_the_old_one_stops(
    client: docker.DockerClient, runtime: SwarmRuntime, images: Images, bot: str
) -> None:
    # host networking: both httpds run for a moment, so the new release gets its own port
    old_port, new_port = free_port(), free_port()
    runtime.start(replace(spec_for(bot, images, "v1", 1, old_port), strategy=Strategy.START_FIRST))

    handle = runtime.start(
        replace(spec_for(bot, images, "v2", 2, new_port), strategy=Strategy.START_FIRST)
    )

    assert serves(new_port) == "v2"
    observation = runtime.observe(bot, ENV, handle)
    assert (observation.running, observation.health, observation.release) == (
        True,
        Health.HEALTHY,
        "v2",
    )
    attrs = service(client, bot)
    assert attrs is not None
    assert attrs["Spec"]["UpdateConfig"]["Order"] == "start-first"
    assert attrs["Spec"]["RollbackConfig"]["Order"] == "start-first"
    wait_for("the old release's port freed", lambda: serves(old_port) is None)


def test_replicas_of_a_bot_without_a_port_or_health_check(
    client: docker.DockerClient, runtime: SwarmRuntime, extra: Extra, bot: str
) -> None:
    runtime.start(bare(bot, extra.sleeper, 1, replicas=2))

    observation = runtime.observe(bot, ENV)
    assert observation.running
    assert observation.release == "v1"
    assert observation.health is Health.UNKNOWN  # no HEALTHCHECK: running is all there is
    assert [task_release(t) for t in running_tasks(client, bot)] == ["v1", "v1"]

    runtime.start(bare(bot, extra.sleeper, 2, replicas=2))

    observation = runtime.observe(bot, ENV)
    assert (observation.running, observation.release) == (True, "v2")
    assert [task_release(t) for t in running_tasks(client, bot)] == ["v2", "v2"]
    attrs = service(client, bot)
    assert attrs is not None
    assert attrs["Spec"]["Mode"] == {"Replicated": {"Replicas": 2}}


def test_a_service_of_that_name_that_chatops_does_not_manage_is_left_alone(
    client: docker.DockerClient, runtime: SwarmRuntime, extra: Extra, bot: str
) -> None:
    client.services.create(extra.sleeper, name=f"{bot}-{ENV}", networks=["host"])

    with pytest.raises(RuntimeFailure, match="chatops does not manage") as caught:
        runtime.start(bare(bot, extra.sleeper, 1))

    assert caught.value.hint is not None
    assert f"docker service rm {bot}-{ENV}" in caught.value.hint
    attrs = service(client, bot)
    assert attrs is not None
    assert attrs["Spec"]["Labels"] == {}


# ── failures, restore ────────────────────────────────────────────────────────


def test_an_unhealthy_release_fails_start_and_restore_brings_the_previous_back(
    client: docker.DockerClient, runtime: SwarmRuntime, images: Images, bot: str
) -> None:
    port = free_port()
    v2 = spec_for(bot, images, "v2", 2, port)
    handle = runtime.start(v2)

    with pytest.raises(RuntimeFailure) as caught:
        runtime.start(spec_for(bot, images, "broken", 3, port))

    assert "unhealthy" in caught.value.message
    assert "404" in caught.value.message  # the failed health check's output
    assert caught.value.hint is not None
    runtime.restore(bot, ENV, v2)
    runtime.restore(bot, ENV, v2)  # idempotent

    observation = runtime.observe(bot, ENV, handle)
    assert (observation.running, observation.health, observation.release) == (
        True,
        Health.HEALTHY,
        "v2",
    )
    assert serves(port) == "v2"
    assert [task_release(t) for t in running_tasks(client, bot)] == ["v2"]


def test_restore_rolls_back_an_update_a_crash_left_in_progress(
    client: docker.DockerClient, runtime: SwarmRuntime, images: Images, bot: str
) -> None:
    port = free_port()
    v1 = spec_for(bot, images, "v1", 1, port)
    handle = runtime.start(v1)
    # what start does first, and then the process dies
    broken = spec_for(bot, images, "broken", 2, port)
    client.services.get(handle).update(
        image=broken.image,
        env=dict(broken.environment),
        labels={**client.api.inspect_service(handle)["Spec"]["Labels"], "chatops.release": "v2"},
    )
    wait_for(
        "the update under way",
        lambda: (
            (client.api.inspect_service(handle).get("UpdateStatus") or {}).get("State")
            == "updating"
        ),
    )

    runtime.restore(bot, ENV, v1)

    attrs = service(client, bot)
    assert attrs is not None
    assert attrs["UpdateStatus"]["State"] == "rollback_completed"
    assert attrs["Spec"]["Labels"]["chatops.release"] == "v1"
    observation = runtime.observe(bot, ENV)
    assert (observation.running, observation.health, observation.release) == (
        True,
        Health.HEALTHY,
        "v1",
    )
    assert serves(port) == "v1"


@pytest.mark.parametrize(
    ("image", "error"),
    [("missing", "No such image"), ("crasher", "non-zero exit (1)")],
)
def test_a_release_that_cannot_run_fails_start_and_restore_without_previous_removes_it(
    runtime: SwarmRuntime, extra: Extra, bot: str, image: str, error: str
) -> None:
    reference = "sha256:" + "0" * 64 if image == "missing" else extra.crasher

    with pytest.raises(RuntimeFailure) as caught:
        runtime.start(bare(bot, reference, 1))

    assert error in caught.value.message
    observation = runtime.observe(bot, ENV)
    assert not observation.running
    assert observation.failing
    assert observation.health is Health.UNHEALTHY
    assert error in observation.detail
    assert observation.restarts >= 1
    assert observation.release == "v1"

    runtime.restore(bot, ENV, None)
    runtime.restore(bot, ENV, None)

    assert runtime.observe(bot, ENV).missing


def test_restore_creates_the_previous_release_when_the_service_is_gone(
    runtime: SwarmRuntime, images: Images, bot: str
) -> None:
    port = free_port()

    runtime.restore(bot, ENV, spec_for(bot, images, "v1", 1, port))

    observation = runtime.observe(bot, ENV)
    assert (observation.running, observation.health, observation.release) == (
        True,
        Health.HEALTHY,
        "v1",
    )
    assert serves(port) == "v1"


# ── observe, logs, remove ────────────────────────────────────────────────────


def test_a_missing_service(runtime: SwarmRuntime, bot: str) -> None:
    observation = runtime.observe(bot, ENV)

    assert observation.missing
    assert observation.failing
    assert runtime.observe(bot, ENV, "0" * 25).missing
    with pytest.raises(NotFound, match=f"nothing of {bot} runs in {ENV}"):
        runtime.logs(bot, ENV, 10)
    with pytest.raises(NotFound):
        runtime.commit(bot, ENV, "0" * 25)
    runtime.remove(bot, ENV)
    assert all(managed.bot != bot for managed in runtime.list_managed())


def test_logs_returns_the_last_lines_of_stdout_and_stderr(
    runtime: SwarmRuntime, images: Images, bot: str
) -> None:
    runtime.start(spec_for(bot, images, "chatty", 1, free_port()))

    wait_for("output logged", lambda: "to stderr" in runtime.logs(bot, ENV, 100))
    text = runtime.logs(bot, ENV, 100)
    last_two = runtime.logs(bot, ENV, 2)

    assert {"line 1", "line 5", "to stderr"} <= set(text.splitlines())
    assert len(last_two.splitlines()) == 2
    assert set(last_two.splitlines()) <= {"line 4", "line 5", "to stderr"}


def test_remove_leaves_no_service_and_no_container(
    client: docker.DockerClient, runtime: SwarmRuntime, images: Images, bot: str
) -> None:
    port = free_port()
    runtime.start(spec_for(bot, images, "v1", 1, port))

    runtime.remove(bot, ENV)
    runtime.remove(bot, ENV)

    assert service(client, bot) is None
    assert containers_of(client, bot) == []
    assert serves(port) is None
    assert runtime.observe(bot, ENV).missing


def test_a_release_that_exits_at_once_never_starts(
    runtime: SwarmRuntime, extra: Extra, bot: str
) -> None:
    # a task is `running` for an instant before Swarm sees its process exit: start must
    # never take that instant for a release that runs
    for attempt in range(20):
        with pytest.raises(RuntimeFailure) as caught:
            runtime.start(bare(bot, extra.crasher, 1))
        assert "non-zero exit (1)" in caught.value.message, f"attempt {attempt}"
        runtime.restore(bot, ENV, None)


# ── instances ────────────────────────────────────────────────────────────────


def test_two_instances_run_a_service_of_the_same_bot_and_never_touch_each_other(
    client: docker.DockerClient, runtime: SwarmRuntime, extra: Extra, bot: str
) -> None:
    other = SwarmRuntime(
        client, monitor_seconds=MONITOR, converge_timeout=CONVERGE, instance="other"
    )

    def theirs(version: int) -> RunSpec:
        return bare(bot, extra.sleeper, version, instance="other")

    try:
        runtime.start(bare(bot, extra.sleeper, 1))
        other.start(theirs(1))
        mine = service(client, bot)
        assert mine is not None and mine["Spec"]["Labels"]["chatops.instance"] == "default"
        their_service = client.api.inspect_service(f"other-{bot}-{ENV}")
        assert their_service["Spec"]["Labels"]["chatops.instance"] == "other"
        assert [m for m in runtime.list_managed() if m.bot == bot] == [
            ManagedContainer(bot, ENV, "v1", True)
        ]
        assert [m for m in other.list_managed() if m.bot == bot] == [
            ManagedContainer(bot, ENV, "v1", True)
        ]

        other.start(theirs(2))  # a deploy, a rollback and a clean-up of the other one
        other.restore(bot, ENV, theirs(1))
        other.remove(bot, ENV)

        after = service(client, bot)
        assert after is not None
        assert (after["ID"], after["Version"]) == (mine["ID"], mine["Version"])
        assert [task_release(t) for t in running_tasks(client, bot)] == ["v1"]
        with pytest.raises(docker.errors.NotFound):
            client.api.inspect_service(f"other-{bot}-{ENV}")

        # the default instance's bot `other-<bot>` meets instance other's `<bot>` by name
        other.start(theirs(3))
        with pytest.raises(RuntimeFailure, match="chatops does not manage as instance"):
            runtime.start(bare(f"other-{bot}", extra.sleeper, 1))
        with pytest.raises(RuntimeFailure, match="belongs to chatops instance 'other'"):
            runtime.remove(f"other-{bot}", ENV)
        kept = client.api.inspect_service(f"other-{bot}-{ENV}")
        assert kept["Spec"]["Labels"]["chatops.release"] == "v3"
    finally:
        other.remove(bot, ENV)


def test_resources_limit_each_task(
    client: docker.DockerClient, runtime: SwarmRuntime, extra: Extra, bot: str
) -> None:
    runtime.start(bare(bot, extra.sleeper, 1, resources=Resources(cpus=0.25, memory=32 * 2**20)))

    attrs = service(client, bot)
    assert attrs is not None
    limits = attrs["Spec"]["TaskTemplate"]["Resources"]["Limits"]
    assert (limits["NanoCPUs"], limits["MemoryBytes"]) == (250_000_000, 32 * 2**20)
    [task] = running_tasks(client, bot)
    container = client.api.inspect_container(task["Status"]["ContainerStatus"]["ContainerID"])
    assert (container["HostConfig"]["NanoCpus"], container["HostConfig"]["Memory"]) == (
        250_000_000,
        32 * 2**20,
    )
