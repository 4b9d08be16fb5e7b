"""chatops.yaml: the documented example loads; every mistake names file, key path and fix."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from chatops.config import Settings, read_config_file
from chatops.domain.catalog import HealthKind, Strategy
from chatops.errors import ConfigError

EXAMPLE = """\
database_url: sqlite:///chatops.db
registry: 127.0.0.1:5000
workdir: .chatops
slack:
  channel: C0DEPLOYS
  admins: [U0ADMIN]
environments:
  staging:
    runtime: docker
    network: host
    deployers: ["*"]
    auto_rollback: true
  prod:
    runtime: docker
    promote_from: staging
    soak_seconds: 600
    approvals: 1
    approvers: [U0LEAD1, U0LEAD2]
    approval_ttl_seconds: 3600
    deployers: [U0DEV1, U0LEAD1]
    channel: C0PRODOPS
    freeze: [{cron: "0 17 * * FRI", duration_hours: 64}]
bots:
  mybot:
    repo: https://git.example.com/acme/mybot.git
    branch: main
    dockerfile: Dockerfile
    context: .
    health_timeout_seconds: 60
    environments:
      staging: {env: {LOG_LEVEL: debug}, env_file: secrets/mybot.staging.env}
      prod: {env: {LOG_LEVEL: info}, env_file: secrets/mybot.prod.env}
"""


def load(tmp_path: Path, text: str, **settings: str) -> object:
    path = tmp_path / "chatops.yaml"
    path.write_text(textwrap.dedent(text))
    return read_config_file(path, settings=Settings(**settings))


def errors_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return caught.value.message


def test_the_design_example_loads(tmp_path: Path) -> None:
    config = load(tmp_path, EXAMPLE)
    catalog = config.catalog  # type: ignore[attr-defined]
    prod = catalog.environment("prod")
    assert prod.promote_from == "staging"
    assert prod.soak == timedelta(seconds=600)
    assert prod.approvers == {"U0LEAD1", "U0LEAD2"}
    assert prod.freeze[0].duration == timedelta(hours=64)
    assert prod.strategy is Strategy.STOP_FIRST
    _, _, target = catalog.target("mybot", "prod")
    assert target.env_vars == {"LOG_LEVEL": "info"}
    assert target.env_file == str(tmp_path / "secrets" / "mybot.prod.env")
    assert target.health.kind is HealthKind.DOCKER
    assert catalog.channel_for("prod") == "C0PRODOPS"
    assert catalog.channel_for("staging") == "C0DEPLOYS"
    assert config.database_url == f"sqlite:///{tmp_path / 'chatops.db'}"  # type: ignore[attr-defined]
    assert config.workdir == tmp_path / ".chatops"  # type: ignore[attr-defined]


def test_the_database_url_variable_wins(tmp_path: Path) -> None:
    config = load(tmp_path, EXAMPLE, chatops_database_url="postgresql://u@h/db")
    assert config.database_url == "postgresql://u@h/db"  # type: ignore[attr-defined]


def test_bot_settings_are_overridden_per_environment(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        environments: {staging: {}, prod: {promote_from: staging, deployers: ["*"]}}
        bots:
          b:
            repo: ./b
            env: {A: "1", B: "1"}
            health: {http: "http://127.0.0.1:9/healthz"}
            environments:
              staging: {env: {B: "2"}, health: {none: true}, replicas: 2}
              prod:
        """,
    )
    catalog = config.catalog  # type: ignore[attr-defined]
    _, _, staging = catalog.target("b", "staging")
    _, _, prod = catalog.target("b", "prod")
    assert staging.env_vars == {"A": "1", "B": "2"}
    assert (staging.health.kind, staging.replicas) == (HealthKind.NONE, 2)
    assert (prod.health.kind, prod.health.url) == (HealthKind.HTTP, "http://127.0.0.1:9/healthz")
    assert catalog.bot("b").repo == str(tmp_path / "b")


def test_a_bot_without_environments_may_go_everywhere(tmp_path: Path) -> None:
    config = load(tmp_path, "environments: {a: {}, b: {}}\nbots: {x: {repo: /r}}\n")
    assert set(config.catalog.bot("x").targets) == {"a", "b"}  # type: ignore[attr-defined]


def test_unknown_keys_name_the_path_and_the_allowed_keys(tmp_path: Path) -> None:
    message = errors_of(
        tmp_path,
        """\
        environments:
          prod: {aprovals: 1}
        bots:
          b: {repo: /r, helth: {none: true}, environments: {prod: {replica: 2}}}
        """,
    )
    assert str(tmp_path / "chatops.yaml") in message
    assert "environments.prod.aprovals: unknown key; allowed: " in message
    assert "approvals" in message.split("environments.prod.aprovals")[1]
    assert "bots.b.helth: unknown key; allowed: " in message
    assert (
        "bots.b.environments.prod.replica: unknown key; allowed: build_args, env, env_file"
        in message
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bots: {}\n", "environments: required key is missing"),
        ("environments: {prod: {promote_from: stagin}}\n", "'stagin' is not an environment"),
        ("environments: {a: {promote_from: b}, b: {promote_from: a}}\n", "loops back"),
        ("environments: {prod: {approvals: 1}}\n", "needs `approvers`"),
        ("environments: {prod: {strategy: blue-green}}\n", "environments.prod.strategy"),
        ("environments: {prod: {timezone: Mars/Olympus}}\n", "unknown time zone"),
        (
            "environments: {prod: {freeze: [{cron: 'every friday', duration_hours: 2}]}}\n",
            "not a cron expression",
        ),
        ("environments: {Prod!: {}}\n", "environments.Prod!"),
        (
            "environments: {a: {}}\nbots: {b: {repo: /r, environments: {c: {}}}}\n",
            "bots.b.environments.c: not an environment",
        ),
        (
            "environments: {a: {}}\nbots: {b: {repo: /r, health: {http: ftp://x}}}\n",
            "http:// or https://",
        ),
        (
            "environments: {a: {}}\nbots: {b: {repo: /r, secrets: {K: {provider: vault}}}}\n",
            "bots.b.secrets.K",
        ),
        ("environments: {a: {soak_seconds: -1}}\n", "environments.a.soak_seconds"),
        ("environments: [a, b]\n", "environments"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("environments: {a: {}\n", "not valid YAML"),
    ],
)
def test_bad_values_are_explained(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in errors_of(tmp_path, text)


def test_a_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_config_file(tmp_path / "nope.yaml", settings=Settings())
    assert "no such file" in caught.value.message
    assert "--config" in (caught.value.hint or "")


def test_secret_providers_are_parsed(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        environments: {a: {}}
        bots:
          b:
            repo: /r
            secrets:
              TOKEN: {provider: env, var: MYBOT_TOKEN}
              KEY: {provider: file, path: keys/key.pem}
        """,
    )
    _, _, target = config.catalog.target("b", "a")  # type: ignore[attr-defined]
    refs = {r.name: r for r in target.secrets}
    assert refs["TOKEN"].option("var") == "MYBOT_TOKEN"
    assert refs["KEY"].option("path") == str(tmp_path / "keys" / "key.pem")


def test_resources_of_the_bot_are_overridden_per_environment_key_by_key(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
        environments: {staging: {}, prod: {}}
        bots:
          b:
            repo: /r
            resources: {cpus: 0.5, memory: 256m}
            environments: {staging: {}, prod: {resources: {memory: 1.5g}}}
        """,
    )
    targets = config.catalog.bots["b"].targets  # type: ignore[attr-defined]
    assert (targets["staging"].resources.cpus, targets["staging"].resources.memory) == (
        0.5,
        256 * 2**20,
    )
    assert (targets["prod"].resources.cpus, targets["prod"].resources.memory) == (
        0.5,
        3 * 2**29,
    )


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ("{memory: lots}", "bots.b.resources.memory: 'lots' is not an amount of memory"),
        ("{memory: 1m}", "bots.b.resources.memory: '1m' is too little memory"),
        ("{cpus: 0}", "bots.b.resources.cpus"),
        ("{cpus: many}", "bots.b.resources.cpus"),
        ("{cpu: 1}", "bots.b.resources.cpu: unknown key; allowed: cpus, memory"),
    ],
)
def test_bad_resources_are_explained(tmp_path: Path, resources: str, expected: str) -> None:
    message = errors_of(
        tmp_path, f"environments: {{a: {{}}}}\nbots: {{b: {{repo: /r, resources: {resources}}}}}\n"
    )
    assert expected in message
