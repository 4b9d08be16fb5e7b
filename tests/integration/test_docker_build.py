"""DockerImageBuilder and connect against the real Docker Engine and registry."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from uuid import uuid4

import docker
import docker.errors
import pytest

from chatops.adapters.build import DockerImageBuilder, registry_of
from chatops.adapters.docker_client import connect
from chatops.adapters.local_services import free_port
from chatops.entrypoints.sample import DOCKERFILE, write_sample_bot
from chatops.errors import BuildError, RegistryError, RuntimeFailure
from chatops.services.ports import BuildRequest

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def tar_context(source: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w") as tar:
        for path in sorted(source.iterdir()):
            tar.add(path, arcname=path.name)
    return dest


@pytest.fixture
def client(docker_host: str) -> Iterator[docker.DockerClient]:
    client = connect(docker_host)
    yield client
    client.close()


@pytest.fixture
def tags(client: docker.DockerClient) -> Iterator[list[str]]:
    """Image tags a test creates; untagged afterwards, even when the test fails."""
    created: list[str] = []
    yield created
    builder = DockerImageBuilder(client)
    for tag in created:
        builder.remove(tag)


def new_images(lines: list[str]) -> list[str]:
    """Ids of the images a build made itself rather than took from the cache, oldest first."""
    made, cached = [], False
    for line in lines:
        if line.startswith("Step "):
            cached = False
        elif line == " ---> Using cache":
            cached = True
        elif (found := re.fullmatch(r" ---> ([0-9a-f]{12})", line)) and not cached:
            made.append(found.group(1))
    return made


def sample_context(tmp_path: Path, *, dockerfile: str | None = None) -> Path:
    work = tmp_path / "bot"
    write_sample_bot(work, message=f"build test {uuid4().hex}")
    if dockerfile is not None:
        (work / "Dockerfile").write_text(dockerfile)
    return tar_context(work, tmp_path / "context.tar")


def test_build_streams_output_and_labels_the_image(
    client: docker.DockerClient, tags: list[str], tmp_path: Path
) -> None:
    tag = f"chatops-test-{uuid4().hex[:10]}:v1"
    tags.append(tag)
    labels = {
        "org.opencontainers.image.revision": "a" * 40,
        "org.opencontainers.image.version": "v1",
        "org.opencontainers.image.source": "https://git.example.com/acme/mybot.git",
    }
    lines: list[str] = []
    request = BuildRequest(
        image=tag,
        context=partial(shutil.copyfile, sample_context(tmp_path)),
        dockerfile="Dockerfile",
        build_args={"UNUSED_ARG": "1"},
        labels=labels,
    )

    image_id = DockerImageBuilder(client).build(request, output=lines.append)

    assert image_id.startswith("sha256:")
    image = client.images.get(tag)
    assert image.id == image_id
    assert labels.items() <= image.labels.items()
    assert any(line.startswith("Step 1/") for line in lines)
    assert all("\n" not in line for line in lines)


def test_the_builder_writes_the_context_in_its_scratch_and_keeps_a_masked_log(
    client: docker.DockerClient, tags: list[str], tmp_path: Path
) -> None:
    tag = f"chatops-test-{uuid4().hex[:10]}:v1"
    tags.append(tag)
    echo = 'RUN echo "token=hunter2-secret"\n'
    dockerfile = DOCKERFILE.replace("CMD exec httpd", echo + "CMD exec httpd")
    scratch = tmp_path / "builds"
    written: list[Path] = []

    def context(dest: Path) -> None:
        written.append(dest)
        shutil.copyfile(sample_context(tmp_path, dockerfile=dockerfile), dest)

    lines: list[str] = []
    log = tmp_path / "logs" / "mybot" / "v1-deployment-1.log"
    request = BuildRequest(
        image=tag,
        context=context,
        dockerfile="Dockerfile",
        log=log,
        mask=lambda line: line.replace("hunter2-secret", "***"),
    )

    DockerImageBuilder(client, scratch=scratch).build(request, output=lines.append)

    [where] = written
    assert where.parent.parent == scratch and not where.exists(), "removed after the build"
    kept = log.read_text().splitlines()
    assert kept == lines and any("token=***" in line for line in kept)
    assert "hunter2-secret" not in log.read_text()


def test_push_returns_the_digest_the_registry_serves(
    client: docker.DockerClient, tags: list[str], registry: str, tmp_path: Path
) -> None:
    name = f"t{uuid4().hex[:10]}"
    tag = f"{registry}/{name}:v1"
    tags.append(tag)
    builder = DockerImageBuilder(client)
    request = BuildRequest(
        image=tag,
        context=partial(shutil.copyfile, sample_context(tmp_path)),
        dockerfile="Dockerfile",
    )
    builder.build(request, output=lambda line: None)

    digest = builder.push(tag)

    assert digest.startswith("sha256:")
    manifest = urllib.request.Request(
        f"http://{registry}/v2/{name}/manifests/v1", headers={"Accept": MANIFEST_V2}
    )
    with urllib.request.urlopen(manifest, timeout=10) as response:  # noqa: S310
        assert response.headers["Docker-Content-Digest"] == digest
        assert json.load(response)["mediaType"] == MANIFEST_V2
    assert registry_of(tag) == registry


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        (DOCKERFILE.replace("COPY www /www", 'COPY www /www\nRUN ["/bin/false"]'), "non-zero code"),
        (DOCKERFILE.replace("COPY www /www", "COPY missing.txt /www/"), "missing.txt"),
    ],
    ids=["failing-run", "missing-file"],
)
def test_failed_build_raises_build_error_with_the_error_and_the_tail(
    client: docker.DockerClient, tags: list[str], tmp_path: Path, dockerfile: str, expected: str
) -> None:
    tag = f"chatops-test-{uuid4().hex[:10]}:v1"
    tags.append(tag)
    lines: list[str] = []
    request = BuildRequest(
        image=tag,
        context=partial(shutil.copyfile, sample_context(tmp_path, dockerfile=dockerfile)),
        dockerfile="Dockerfile",
    )

    try:
        with pytest.raises(BuildError) as caught:
            DockerImageBuilder(client).build(request, output=lines.append)
    finally:  # a failed build leaves its steps' images as cache: drop the ones it made
        for image in reversed(new_images(lines)):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(image)

    assert expected in caught.value.message
    assert expected in caught.value.log_tail
    assert len(caught.value.log_tail.splitlines()) <= 20
    assert any(expected in line for line in lines)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(tag)


def _step_containers(client: docker.DockerClient, marker: str) -> list[str]:
    """Containers on the engine running (or left by) the build step that prints `marker`."""
    return [c["Id"] for c in client.api.containers(all=True) if marker in c["Command"]]


def test_a_stopped_build_ends_on_the_engine_and_leaves_no_step_running(
    client: docker.DockerClient, tags: list[str], tmp_path: Path
) -> None:
    """A build stuck in `RUN sleep` is ended by `stop`: no build container stays behind."""
    marker = uuid4().hex
    dockerfile = DOCKERFILE.replace(
        "COPY www /www", f"COPY www /www\nRUN echo {marker} && sleep 600"
    )
    tag = f"chatops-test-{uuid4().hex[:10]}:v1"
    tags.append(tag)
    request = BuildRequest(
        image=tag,
        context=partial(shutil.copyfile, sample_context(tmp_path, dockerfile=dockerfile)),
        dockerfile="Dockerfile",
    )
    lines: list[str] = []
    step_runs = threading.Event()

    def output(line: str) -> None:
        lines.append(line)
        if line == marker:
            step_runs.set()

    def stop() -> str | None:
        if step_runs.is_set():
            assert _step_containers(client, marker), "the step should run on the engine now"
            return "cancelled by U0DEV1"
        return None

    started = time.monotonic()
    try:
        with pytest.raises(BuildError) as caught:
            DockerImageBuilder(client, stop_poll_seconds=0.2).build(
                request, output=output, stop=stop
            )
    finally:
        for image in reversed(new_images(lines)):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(image)

    assert time.monotonic() - started < 60
    assert caught.value.message == f"the build of {tag} was stopped: cancelled by U0DEV1"
    assert marker in caught.value.log_tail
    deadline = time.monotonic() + 10
    while _step_containers(client, marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _step_containers(client, marker) == []
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(tag)


def test_a_missing_dockerfile_is_a_build_error(client: docker.DockerClient, tmp_path: Path) -> None:
    request = BuildRequest(
        image=f"chatops-test-{uuid4().hex[:10]}:v1",
        context=partial(shutil.copyfile, sample_context(tmp_path)),
        dockerfile="deploy/Nope.Dockerfile",
    )

    with pytest.raises(BuildError, match=r"Nope\.Dockerfile"):
        DockerImageBuilder(client).build(request, output=lambda line: None)


def test_push_to_a_registry_that_is_down_fails_quickly(
    client: docker.DockerClient, tags: list[str], tmp_path: Path
) -> None:
    down = f"127.0.0.1:{free_port()}"
    tag = f"{down}/t{uuid4().hex[:10]}:v1"
    tags.append(tag)
    builder = DockerImageBuilder(client)
    request = BuildRequest(
        image=tag,
        context=partial(shutil.copyfile, sample_context(tmp_path)),
        dockerfile="Dockerfile",
    )
    builder.build(request, output=lambda line: None)

    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        builder.push(tag)

    assert time.monotonic() - started < 30
    assert down in caught.value.message
    assert caught.value.hint is not None
    assert down in caught.value.hint


def test_push_of_an_image_that_is_not_there_is_a_registry_error(
    client: docker.DockerClient, registry: str
) -> None:
    with pytest.raises(RegistryError):
        DockerImageBuilder(client).push(f"{registry}/t{uuid4().hex[:10]}:v1")


def test_remove_untags_and_ignores_what_is_absent(
    client: docker.DockerClient, tags: list[str], tmp_path: Path
) -> None:
    tag = f"chatops-test-{uuid4().hex[:10]}:v1"
    tags.append(tag)
    builder = DockerImageBuilder(client)
    request = BuildRequest(
        image=tag,
        context=partial(shutil.copyfile, sample_context(tmp_path)),
        dockerfile="Dockerfile",
    )
    builder.build(request, output=lambda line: None)

    builder.remove(tag)
    builder.remove(tag)

    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(tag)


def test_connect_to_an_engine_that_is_not_there_says_what_to_do(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/nothing.sock"

    with pytest.raises(RuntimeFailure) as caught:
        connect(host, timeout=5)

    assert host in caught.value.message
    assert caught.value.hint is not None
    assert "DOCKER_HOST" in caught.value.hint
    assert "docker_host" in caught.value.hint
