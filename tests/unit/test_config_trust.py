"""chatops.yaml keys about trust: `viewers`, `build_docker_host`, and the build_args rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_config import errors_of, load


def _catalog(tmp_path: Path, text: str) -> Any:
    return load(tmp_path, text).catalog  # type: ignore[attr-defined]


def test_viewers_default_to_none_and_are_read_per_environment(tmp_path: Path) -> None:
    catalog = _catalog(
        tmp_path,
        """\
        environments:
          staging: {}
          prod: {deployers: [U0DEV], viewers: [U0OPS, S0ONCALL]}
        """,
    )
    assert catalog.environments["staging"].viewers is None  # deployers and approvers
    assert catalog.environments["prod"].viewers == {"U0OPS", "S0ONCALL"}


def test_build_docker_host_is_read_at_the_top_and_per_environment(tmp_path: Path) -> None:
    catalog = _catalog(
        tmp_path,
        """\
        registry: 127.0.0.1:5000
        build_docker_host: unix:///run/builder.sock
        environments:
          staging: {}
          prod: {build_docker_host: ssh://builder-prod}
        """,
    )
    assert catalog.environments["staging"].build_docker_host == "unix:///run/builder.sock"
    assert catalog.environments["prod"].build_docker_host == "ssh://builder-prod"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "build_docker_host: unix:///b.sock\nenvironments: {a: {}}\n",
            "build_docker_host needs `registry`: an image built on another Docker Engine",
        ),
        (
            "environments: {a: {build_docker_host: unix:///b.sock}}\n",
            "environments.a.build_docker_host needs `registry`",
        ),
        (
            "environments: {a: {}}\n"
            "bots: {b: {repo: /r, secrets: {NPM_TOKEN: {provider: env}},"
            " build_args: {NPM_TOKEN: x}}}\n",
            "build_args.NPM_TOKEN: build arguments may not carry secrets",
        ),
        (
            "environments: {a: {}}\n"
            "bots: {b: {repo: /r, build_args: {TOKEN: x},"
            " environments: {a: {secrets: {TOKEN: {provider: env}}}}}}\n",
            "build_args.TOKEN: build arguments may not carry secrets",
        ),
        (
            "environments: {a: {}}\n"
            "bots: {b: {repo: /r, build_args: {TOKEN: {provider: env, var: T}}}}\n",
            "TOKEN: build arguments may not carry secrets: the engine records them in the "
            "image's history",
        ),
        (
            "environments: {a: {}}\n"
            "bots: {b: {repo: /r, environments: {a: {build_args: {K: {provider: file}}}}}}\n",
            "bots.b.environments.a.build_args: K: build arguments may not carry secrets",
        ),
    ],
)
def test_trust_rules_are_explained(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in errors_of(tmp_path, text)
