"""Trusting the hosts: `build_docker_host` builds bots' Dockerfiles apart; the CLI names who asks.

A second private Docker Engine plays the builder; the engine of the test
installation runs the bot. The image travels through the registry only. The
CLI is an operator's tool, trusted like its host, yet the person it names with
`--user` is held to the same policy as in Slack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from chatops.adapters import local_services
from tests.e2e.conftest import Installation

pytestmark = pytest.mark.slow


@pytest.fixture
def builder_engine(tmp_path: Path, docker_host: str) -> Iterator[tuple[str, docker.DockerClient]]:
    """A second Docker Engine, private to this test: its DOCKER_HOST and a client."""
    try:
        service = local_services.start_dockerd(tmp_path / "builder")
    except local_services.ServiceUnavailable as exc:
        pytest.fail(f"a second Docker Engine could not be started: {exc}")
    host = service.env["DOCKER_HOST"]
    client = docker.DockerClient(base_url=host)
    try:
        yield host, client
    finally:
        client.close()
        service.stop()


def test_images_are_built_on_the_build_engine_and_run_from_the_registry_by_digest(
    installation: Installation, builder_engine: tuple[str, docker.DockerClient]
) -> None:
    i = installation
    build_host, builder = builder_engine
    i.document["environments"]["staging"]["build_docker_host"] = build_host
    i.write_config()

    deployed = i.json("deploy", i.bot, "staging")

    assert deployed["state"] == "live", deployed
    image = f"{i.registry}/{i.bot}:v1"
    built = builder.images.get(image)
    assert built.labels["chatops.bot"] == i.bot
    with pytest.raises(docker.errors.ImageNotFound):
        i.docker.images.get(image)  # the engine that runs it never built it
    [release] = i.json("releases", i.bot)
    running = i.docker.images.get(i.container("staging").attrs["Image"])
    assert f"{i.registry}/{i.bot}@{release['digest']}" in running.attrs["RepoDigests"]
    assert running.id == built.id


def test_the_cli_refuses_logs_to_a_user_who_is_no_viewer(installation: Installation) -> None:
    """The CLI is trusted like its host, yet policy applies to the --user it names."""
    i = installation

    refused = i.run("logs", i.bot, "prod", "--user", "U0OUTSIDER")

    assert refused.returncode == 1
    assert "U0OUTSIDER may not read the logs of prod" in refused.stderr
    assert "UDEV, ULEAD1, ULEAD2 and admins" in refused.stderr
