"""DockerRuntime against the real Docker Engine and registry: deploy, verify, commit, restore."""

from __future__ import annotations

import shutil
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import docker
import docker.errors
import pytest

from chatops.adapters.build import DockerImageBuilder
from chatops.adapters.docker_client import connect
from chatops.adapters.local_services import free_port
from chatops.adapters.runtime.docker import NEXT, PREVIOUS, DockerRuntime, ManagedContainer
from chatops.domain.catalog import Resources, Strategy
from chatops.domain.health import GateState, GateStep, Health, HealthGate, Observation
from chatops.entrypoints.sample import DOCKERFILE, write_sample_bot
from chatops.errors import NotFound, RuntimeFailure
from chatops.services.ports import BuildRequest, RunSpec

ENV = "test"
WAIT = 60.0  # seconds; the sample's health check runs every 250 ms

CHATTY = DOCKERFILE.replace(
    'CMD exec httpd -f -p "127.0.0.1:$PORT" -h /www',
    'CMD for i in 1 2 3 4 5; do echo "line $i"; done; echo "to stderr" >&2; '
    'exec httpd -f -p "127.0.0.1:$PORT" -h /www',
)


@dataclass(frozen=True)
class Images:
    """Tag → image id of the releases the tests run."""

    v1: str
    v2: str
    broken: str
    chatty: str
    names: dict[str, str]


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout:.0f}s (last: {last!r})")


def build(client: docker.DockerClient, root: Path, tag: str, **sample: Any) -> str:
    dockerfile = sample.pop("dockerfile", None)
    work = root / tag.replace(":", "-").replace("/", "-")
    write_sample_bot(work, **sample)
    if dockerfile is not None:
        (work / "Dockerfile").write_text(dockerfile)
    context = work.with_suffix(".tar")
    with tarfile.open(context, "w") as tar:
        for path in sorted(work.iterdir()):
            tar.add(path, arcname=path.name)
    # a unique label makes a unique image id, so cleaning up never touches another's image
    request = BuildRequest(
        image=tag,
        context=partial(shutil.copyfile, context),
        dockerfile="Dockerfile",
        labels={"test": tag},
    )
    return DockerImageBuilder(client).build(request, output=lambda line: None)


@pytest.fixture(scope="module")
def client(docker_host: str) -> Iterator[docker.DockerClient]:
    client = connect(docker_host)
    yield client
    client.close()


@pytest.fixture(scope="module")
def images(
    client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Images]:
    root = tmp_path_factory.mktemp("images")
    repo = f"chatops-test-{uuid4().hex[:10]}"
    names = {
        "v1": f"{repo}:v1",
        "v2": f"{repo}:v2",
        "broken": f"{repo}:broken",
        "chatty": f"{repo}:chatty",
    }
    builder = DockerImageBuilder(client)
    try:
        yield Images(
            v1=build(client, root, names["v1"], message="v1"),
            v2=build(client, root, names["v2"], message="v2"),
            broken=build(client, root, names["broken"], message="broken", healthy=False),
            chatty=build(client, root, names["chatty"], dockerfile=CHATTY),
            names=names,
        )
    finally:
        for tag in names.values():
            builder.remove(tag)


@pytest.fixture
def bot(client: docker.DockerClient) -> Iterator[str]:
    """A unique bot name; its containers are removed after the test, whatever happened."""
    name = f"t{uuid4().hex[:8]}"
    yield name
    DockerRuntime(client).remove(name, ENV)


@pytest.fixture
def runtime(client: docker.DockerClient) -> DockerRuntime:
    return DockerRuntime(client, stop_timeout=5)


def spec_for(bot: str, images: Images, release: str, version: int, port: int) -> RunSpec:
    return RunSpec(
        bot=bot,
        env=ENV,
        version=version,
        image=getattr(images, release),
        image_name=images.names[release],
        commit=f"{version:040d}",
        environment={"PORT": str(port), "GREETING": f"hello {release}"},
        network="host",
    )


def serves(port: int) -> str | None:
    """What the bot answers at /, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return str(response.read().decode().strip())
    except (urllib.error.URLError, OSError):
        return None


def inspect(client: docker.DockerClient, name: str) -> dict[str, Any] | None:
    try:
        attrs: dict[str, Any] = client.api.inspect_container(name)
    except docker.errors.NotFound:
        return None
    return attrs


def containers_of(client: docker.DockerClient, bot: str) -> list[str]:
    rows = client.api.containers(all=True, filters={"label": f"chatops.bot={bot}"})
    return sorted(row["Names"][0].lstrip("/") for row in rows)


def healthy(runtime: DockerRuntime, bot: str, handle: str | None = None) -> Observation | None:
    observation = runtime.observe(bot, ENV, handle)
    return observation if observation.health is Health.HEALTHY else None


def deploy(runtime: DockerRuntime, spec: RunSpec) -> str:
    """Start, wait healthy, commit: a whole successful deployment."""
    handle = runtime.start(spec)
    wait_for(f"{spec.name} v{spec.version} healthy", lambda: healthy(runtime, spec.bot, handle))
    runtime.commit(spec.bot, spec.env, handle)
    return handle


# ── stop-first ───────────────────────────────────────────────────────────────


def test_stop_first_replaces_the_release_and_commit_leaves_one_container(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    port = free_port()
    v1, v2 = spec_for(bot, images, "v1", 1, port), spec_for(bot, images, "v2", 2, port)

    first = runtime.start(v1)
    observation = wait_for("v1 healthy", lambda: healthy(runtime, bot, first))
    assert observation.release == "v1"
    assert observation.running
    runtime.commit(bot, ENV, first)
    assert serves(port) == "v1"

    attrs = inspect(client, f"{bot}-{ENV}")
    assert attrs is not None
    assert attrs["Id"] == first
    labels = attrs["Config"]["Labels"]
    assert labels["chatops.bot"] == bot
    assert labels["chatops.env"] == ENV
    assert labels["chatops.release"] == "v1"
    assert labels["chatops.commit"] == v1.commit
    assert f"PORT={port}" in attrs["Config"]["Env"]
    assert "GREETING=hello v1" in attrs["Config"]["Env"]
    host_config = attrs["HostConfig"]
    assert host_config["RestartPolicy"]["Name"] == "unless-stopped"
    assert host_config["Init"] is True
    assert host_config["NetworkMode"] == "host"
    assert host_config["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m"}}

    second = runtime.start(v2)
    kept = inspect(client, f"{bot}-{ENV}{PREVIOUS}")
    assert kept is not None
    assert kept["Id"] == first
    assert not kept["State"]["Running"]
    wait_for("v2 healthy", lambda: healthy(runtime, bot, second))
    assert serves(port) == "v2"

    runtime.commit(bot, ENV, second)
    runtime.commit(bot, ENV, second)  # again: nothing left to do

    assert containers_of(client, bot) == [f"{bot}-{ENV}"]
    assert runtime.observe(bot, ENV).release == "v2"


def test_an_unhealthy_release_is_seen_and_restore_brings_the_previous_back(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    port = free_port()
    v1 = spec_for(bot, images, "v1", 1, port)
    first = deploy(runtime, v1)

    candidate = runtime.start(spec_for(bot, images, "broken", 2, port))

    def unhealthy_candidate() -> Observation | None:
        observation = runtime.observe(bot, ENV, candidate)
        return observation if observation.health is Health.UNHEALTHY else None

    unhealthy = wait_for("the broken release unhealthy", unhealthy_candidate)
    assert unhealthy.running
    assert unhealthy.failing
    assert unhealthy.release == "v2"
    assert "404" in unhealthy.detail
    assert "\n" not in unhealthy.detail

    runtime.restore(bot, ENV, v1)
    runtime.restore(bot, ENV, v1)  # idempotent

    assert containers_of(client, bot) == [f"{bot}-{ENV}"]
    back = wait_for("v1 healthy again", lambda: healthy(runtime, bot))
    assert back.release == "v1"
    assert inspect(client, f"{bot}-{ENV}") is not None
    assert runtime.observe(bot, ENV, first).release == "v1"  # the very container that ran
    assert serves(port) == "v1"


# ── start-first ──────────────────────────────────────────────────────────────


def test_start_first_runs_beside_the_old_release_until_commit(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    # host networking: two httpds cannot share a port, so the new release gets its own
    old_port, new_port = free_port(), free_port()
    first = deploy(runtime, spec_for(bot, images, "v1", 1, old_port))
    v2 = replace(spec_for(bot, images, "v2", 2, new_port), strategy=Strategy.START_FIRST)

    handle = runtime.start(v2)

    assert inspect(client, f"{bot}-{ENV}{NEXT}") is not None
    wait_for("v2 healthy", lambda: healthy(runtime, bot, handle))
    assert runtime.observe(bot, ENV).running
    assert runtime.observe(bot, ENV).release == "v1"
    assert serves(old_port) == "v1"
    assert serves(new_port) == "v2"

    runtime.commit(bot, ENV, handle)

    assert containers_of(client, bot) == [f"{bot}-{ENV}"]
    attrs = inspect(client, f"{bot}-{ENV}")
    assert attrs is not None
    assert attrs["Id"] == handle
    assert inspect(client, first) is None
    assert runtime.observe(bot, ENV).release == "v2"
    assert serves(new_port) == "v2"
    wait_for("the old release's port freed", lambda: serves(old_port) is None)


def test_restore_of_a_start_first_candidate_keeps_the_old_release(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    v1 = spec_for(bot, images, "v1", 1, free_port())
    first = deploy(runtime, v1)
    v2 = replace(spec_for(bot, images, "broken", 2, free_port()), strategy=Strategy.START_FIRST)
    runtime.start(v2)

    runtime.restore(bot, ENV, v1)

    assert containers_of(client, bot) == [f"{bot}-{ENV}"]
    attrs = inspect(client, f"{bot}-{ENV}")
    assert attrs is not None
    assert attrs["Id"] == first
    assert attrs["State"]["Running"]


# ── crashes ──────────────────────────────────────────────────────────────────


def test_restore_after_a_crash_during_start_from_a_new_runtime(
    client: docker.DockerClient,
    runtime: DockerRuntime,
    images: Images,
    bot: str,
    docker_host: str,
) -> None:
    port = free_port()
    v1 = spec_for(bot, images, "v1", 1, port)
    deploy(runtime, v1)
    runtime.start(spec_for(bot, images, "v2", 2, port))  # ... and the process dies here

    fresh = connect(docker_host)
    DockerRuntime(fresh).restore(bot, ENV, v1)
    fresh.close()

    assert containers_of(client, bot) == [f"{bot}-{ENV}"]
    back = wait_for("v1 healthy again", lambda: healthy(runtime, bot))
    assert back.release == "v1"
    assert serves(port) == "v1"


@pytest.mark.parametrize("crash_point", ["after-stop", "after-rename"])
def test_restore_after_a_crash_between_the_steps_of_start(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str, crash_point: str
) -> None:
    port = free_port()
    v1 = spec_for(bot, images, "v1", 1, port)
    first = deploy(runtime, v1)
    client.api.stop(first, timeout=5)  # what start does first
    if crash_point == "after-rename":
        client.api.rename(first, f"{bot}-{ENV}{PREVIOUS}")

    runtime.restore(bot, ENV, v1)

    assert containers_of(client, bot) == [f"{bot}-{ENV}"]
    back = wait_for("v1 healthy again", lambda: healthy(runtime, bot, first))
    assert back.release == "v1"


def test_restore_without_a_previous_release_leaves_nothing_running(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    runtime.start(spec_for(bot, images, "broken", 1, free_port()))

    runtime.restore(bot, ENV, None)
    runtime.restore(bot, ENV, None)

    assert containers_of(client, bot) == []
    assert runtime.observe(bot, ENV).missing


def test_restore_recreates_the_previous_release_when_its_container_is_gone(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    port = free_port()
    v1 = spec_for(bot, images, "v1", 1, port)

    runtime.restore(bot, ENV, v1)

    back = wait_for("v1 healthy", lambda: healthy(runtime, bot))
    assert back.release == "v1"
    assert serves(port) == "v1"


# ── observe, logs, list, remove ──────────────────────────────────────────────


def test_observe_of_a_missing_container(runtime: DockerRuntime, bot: str) -> None:
    observation = runtime.observe(bot, ENV)

    assert observation.missing
    assert observation.failing
    assert not observation.running
    assert runtime.observe(bot, ENV, "0" * 64).missing


def test_a_killed_container_is_seen_not_running(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    deploy(runtime, spec_for(bot, images, "v1", 1, free_port()))
    before = runtime.observe(bot, ENV).restarts

    client.containers.get(f"{bot}-{ENV}").kill()

    # the engine counts `docker kill` as a manual stop, which unless-stopped does not undo;
    # an engine that restarts it anyway must show the restart
    def stopped_or_restarted() -> Observation | None:
        observation = runtime.observe(bot, ENV)
        return observation if not observation.running or observation.restarts > before else None

    observation = wait_for("the kill observed", stopped_or_restarted)
    if not observation.running:
        assert observation.exit_code == 137
        assert observation.failing
        assert "not running (exit code 137)" in observation.explain()


def test_a_crashing_process_is_restarted_and_counted(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    deploy(runtime, spec_for(bot, images, "v1", 1, free_port()))
    before = runtime.observe(bot, ENV).restarts

    # the bot itself dies (not a manual stop): the restart policy brings it back
    container = client.containers.get(f"{bot}-{ENV}")
    # the exec's own shell may be killed with the container it runs in (137) before it exits
    assert container.exec_run(["sh", "-c", "kill -9 $(pidof httpd)"]).exit_code in (0, 137)

    wait_for("a restart counted", lambda: runtime.observe(bot, ENV).restarts > before)
    wait_for("healthy after the restart", lambda: healthy(runtime, bot))


def test_logs_returns_the_last_lines_of_stdout_and_stderr(
    runtime: DockerRuntime, images: Images, bot: str
) -> None:
    deploy(runtime, spec_for(bot, images, "chatty", 1, free_port()))

    wait_for("output logged", lambda: "to stderr" in runtime.logs(bot, ENV, 100))
    text = runtime.logs(bot, ENV, 100)
    last_two = runtime.logs(bot, ENV, 2)

    assert {"line 1", "line 5", "to stderr"} <= set(text.splitlines())
    # stdout and stderr reach the log through separate pipes: their order may vary
    assert len(last_two.splitlines()) == 2
    assert set(last_two.splitlines()) <= {"line 4", "line 5", "to stderr"}


def test_logs_of_a_bot_that_does_not_run_is_not_found(runtime: DockerRuntime, bot: str) -> None:
    with pytest.raises(NotFound, match=f"nothing of {bot} runs in {ENV}"):
        runtime.logs(bot, ENV, 10)


def test_list_managed_reports_committed_containers(
    runtime: DockerRuntime, images: Images, bot: str
) -> None:
    deploy(runtime, spec_for(bot, images, "v1", 1, free_port()))

    managed = runtime.list_managed()

    assert ManagedContainer(bot, ENV, "v1", True) in managed


def test_remove_drops_every_container_of_the_bot(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    port = free_port()
    deploy(runtime, spec_for(bot, images, "v1", 1, port))
    runtime.start(spec_for(bot, images, "v2", 2, port))
    runtime.start(
        replace(spec_for(bot, images, "v1", 3, free_port()), strategy=Strategy.START_FIRST)
    )
    assert len(containers_of(client, bot)) == 3

    runtime.remove(bot, ENV)
    runtime.remove(bot, ENV)

    assert containers_of(client, bot) == []


# ── images from a registry ───────────────────────────────────────────────────


@pytest.fixture
def pushed(client: docker.DockerClient, registry: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(repo@digest, tag) of a fresh release in the registry, no longer on the engine."""
    name = f"t{uuid4().hex[:10]}"
    tag = f"{registry}/{name}:v1"
    builder = DockerImageBuilder(client)
    build(client, tmp_path, tag, message="pulled")
    digest = builder.push(tag)
    reference = f"{registry}/{name}@{digest}"
    builder.remove(tag)
    try:
        yield reference, tag
    finally:
        builder.remove(reference)
        builder.remove(tag)


def test_an_image_not_on_the_engine_is_pulled_by_digest(
    client: docker.DockerClient, runtime: DockerRuntime, pushed: tuple[str, str], bot: str
) -> None:
    reference, tag = pushed
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(reference)
    port = free_port()
    spec = RunSpec(
        bot=bot,
        env=ENV,
        version=1,
        image=reference,
        image_name=tag,
        commit="f" * 40,
        environment={"PORT": str(port)},
        network="host",
    )

    handle = runtime.start(spec)

    wait_for("the pulled release healthy", lambda: healthy(runtime, bot, handle))
    assert serves(port) == "pulled"
    attrs = inspect(client, handle)
    assert attrs is not None
    assert attrs["Config"]["Image"] == reference


def test_an_image_that_cannot_be_pulled_is_a_runtime_failure(
    runtime: DockerRuntime, bot: str
) -> None:
    down = f"127.0.0.1:{free_port()}"
    spec = RunSpec(
        bot=bot,
        env=ENV,
        version=1,
        image=f"{down}/nothing@sha256:{'0' * 64}",
        image_name=f"{down}/nothing:v1",
        commit="f" * 40,
        network="host",
    )

    with pytest.raises(RuntimeFailure) as caught:
        runtime.start(spec)

    assert down in caught.value.message
    assert caught.value.hint is not None
    assert "registry" in caught.value.hint
    with pytest.raises(RuntimeFailure, match="no registry reference"):
        runtime.start(replace(spec, image="sha256:" + "0" * 64))
    assert runtime.observe(bot, ENV).missing


# ── a release that crashes never passes ───────────────────────────────────────

CRASHER = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["sh", "-c", "echo about to fail; exit 1"]
"""


def gate(runtime: DockerRuntime, bot: str, handle: str) -> GateStep:
    """The health gate as the pipeline runs it, on the real engine and the wall clock."""
    timeout = timedelta(seconds=WAIT)
    the_gate = HealthGate(
        deadline=datetime.now(UTC) + timeout, timeout=timeout, settle=timedelta(seconds=1)
    )
    while True:
        the_gate, step = the_gate.judge(runtime.observe(bot, ENV, handle), datetime.now(UTC))
        if step.state is not GateState.WAITING:
            return step
        time.sleep(0.1)


def test_a_release_that_exits_at_once_never_passes_the_gate(
    client: docker.DockerClient, runtime: DockerRuntime, tmp_path: Path, bot: str
) -> None:
    tag = f"chatops-test-{uuid4().hex[:10]}:crasher"
    image = build(client, tmp_path, tag, dockerfile=CRASHER)
    spec = RunSpec(
        bot=bot, env=ENV, version=1, image=image, image_name=tag, commit="0" * 40, network="host"
    )
    try:
        # the restart policy brings it back within milliseconds, so a single look may
        # well see it running: every one of these must fail all the same
        for attempt in range(20):
            step = gate(runtime, bot, runtime.start(spec))
            assert step.state is GateState.FAILED, f"attempt {attempt} passed a crasher"
            assert step.why.startswith("did not stay up"), step.why
            runtime.restore(bot, ENV, None)
    finally:
        DockerImageBuilder(client).remove(tag)


# ── instances ────────────────────────────────────────────────────────────────


def _started(client: docker.DockerClient, name: str) -> tuple[str, str, str, bool]:
    attrs = client.api.inspect_container(name)
    return (
        attrs["Id"],
        attrs["State"]["StartedAt"],
        attrs["Config"]["Labels"]["chatops.release"],
        attrs["State"]["Running"],
    )


def test_two_instances_run_a_bot_of_the_same_name_and_never_touch_each_other(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    other = DockerRuntime(client, stop_timeout=5, instance="other")
    mine_port, their_port = free_port(), free_port()

    def theirs(release: str, version: int) -> RunSpec:
        return replace(spec_for(bot, images, release, version, their_port), instance="other")

    try:
        deploy(runtime, spec_for(bot, images, "v1", 1, mine_port))
        deploy(other, theirs("v1", 1))
        assert containers_of(client, bot) == [f"other-{bot}-{ENV}", f"{bot}-{ENV}"]
        labels_of = {
            name: client.api.inspect_container(name)["Config"]["Labels"]["chatops.instance"]
            for name in containers_of(client, bot)
        }
        assert labels_of == {f"{bot}-{ENV}": "default", f"other-{bot}-{ENV}": "other"}
        assert [m for m in runtime.list_managed() if m.bot == bot] == [
            ManagedContainer(bot, ENV, "v1", True)
        ]
        assert [m for m in other.list_managed() if m.bot == bot] == [
            ManagedContainer(bot, ENV, "v1", True)
        ]
        mine = _started(client, f"{bot}-{ENV}")

        deploy(other, theirs("v2", 2))  # a deploy, a rollback and a clean-up of the other one
        other.start(theirs("v1", 3))
        other.restore(bot, ENV, theirs("v2", 2))
        # restore starts the container; its server answers a moment later
        wait_for("their v2 answering again", lambda: serves(their_port) == "v2")
        other.remove(bot, ENV)

        assert _started(client, f"{bot}-{ENV}") == mine
        assert serves(mine_port) == "v1"
        assert containers_of(client, bot) == [f"{bot}-{ENV}"]
    finally:
        other.remove(bot, ENV)


def test_a_container_of_another_instance_is_never_replaced_or_removed(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    # the default instance's bot `other-<bot>` would meet instance other's `<bot>` by name
    other = DockerRuntime(client, stop_timeout=5, instance="other")
    theirs = replace(spec_for(bot, images, "v1", 1, free_port()), instance="other")
    try:
        deploy(other, theirs)
        before = _started(client, f"other-{bot}-{ENV}")
        clash = spec_for(f"other-{bot}", images, "v2", 2, free_port())

        for attempt in (
            lambda: runtime.start(clash),
            lambda: runtime.restore(f"other-{bot}", ENV, clash),
            lambda: runtime.remove(f"other-{bot}", ENV),
        ):
            with pytest.raises(RuntimeFailure, match="chatops instance 'other' runs") as caught:
                attempt()
            assert caught.value.hint is not None and "`instance`" in caught.value.hint

        assert _started(client, f"other-{bot}-{ENV}") == before
        assert [m.bot for m in runtime.list_managed()].count(f"other-{bot}") == 0
    finally:
        other.remove(bot, ENV)


def test_resources_limit_the_container(
    client: docker.DockerClient, runtime: DockerRuntime, images: Images, bot: str
) -> None:
    limited = replace(
        spec_for(bot, images, "v1", 1, free_port()),
        resources=Resources(cpus=0.5, memory=64 * 2**20),
    )

    deploy(runtime, limited)

    host = client.api.inspect_container(f"{bot}-{ENV}")["HostConfig"]
    assert (host["NanoCpus"], host["Memory"], host["MemorySwap"]) == (
        500_000_000,
        64 * 2**20,
        64 * 2**20,
    )
