"""deploy/kubernetes/: every object loads into the official client's models without losing a
key, and what it runs, probes, mounts and sets is what chatops really has.

The `kubernetes` package's models are pydantic models: a missing required field fails to
load, and an unknown (misspelt) key is dropped, which the round trip below catches.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from chatops import __version__
from chatops.config import load_settings, read_config_file
from tests.deploy.conftest import (
    DEPLOY,
    IMAGE,
    IMAGE_UID,
    STOP_GRACE_SECONDS,
    cli_command,
    default_port,
    http_routes,
    serve_drain_seconds,
    variable_known,
)

K8S = DEPLOY / "kubernetes"


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found.extend((path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def _objects() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for _, doc in _documents()}


def _differences(model: Any, original: Any, path: str = "") -> list[str]:
    if isinstance(model, dict) and isinstance(original, dict):
        found = [f"{path}.{key}: dropped" for key in original.keys() - model.keys()]
        found += [f"{path}.{key}: added" for key in model.keys() - original.keys()]
        for key in model.keys() & original.keys():
            found += _differences(model[key], original[key], f"{path}.{key}")
        return found
    if isinstance(model, list) and isinstance(original, list) and len(model) == len(original):
        return [
            d
            for i, pair in enumerate(zip(model, original, strict=True))
            for d in _differences(*pair, f"{path}[{i}]")
        ]
    return [] if model == original else [f"{path}: {original!r} became {model!r}"]


@pytest.mark.parametrize(
    ("name", "doc"), _documents(), ids=lambda v: v if isinstance(v, str) else v["kind"]
)
def test_each_object_loads_into_the_client_models_unchanged(name: str, doc: dict[str, Any]) -> None:
    api = ApiClient()
    version = doc["apiVersion"].rsplit("/", 1)[-1]
    # the client deserializes what the API server answered: a response with its body as data
    answered = SimpleNamespace(data=json.dumps(doc))
    model = api.deserialize(answered, f"{version.capitalize()}{doc['kind']}")

    assert _differences(api.sanitize_for_serialization(model), doc) == [], name


def test_kustomize_applies_every_file_with_this_version() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}

    assert set(kustomization["resources"]) == files
    [image] = kustomization["images"]
    assert (image["name"], image["newTag"]) == ("chatops", __version__)
    for _, doc in _documents():
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            assert container["image"] == IMAGE


def _pod(kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = _objects()[kind]["spec"]["template"]["spec"]
    return spec


def _container(kind: str, name: str | None = None) -> dict[str, Any]:
    containers = _pod(kind)["containers"]
    return next(c for c in containers if name is None or c["name"] == name)


def test_two_replicas_serve_with_probes_on_the_real_routes_and_port() -> None:
    deployment = _objects()["Deployment"]
    chatops = _container("Deployment")
    routes = http_routes()

    assert deployment["spec"]["replicas"] == 2
    cli_command(chatops["args"])
    assert chatops["args"] == ["serve"]
    [port] = chatops["ports"]
    assert port["containerPort"] == default_port()
    env = {e["name"]: e.get("value") for e in chatops["env"]}
    assert env["CHATOPS_HTTP_PORT"] == str(default_port())
    assert env["CHATOPS_HTTP_HOST"] == "0.0.0.0", "in its own network namespace"
    for probe, path in (
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ):
        get = chatops[probe]["httpGet"]
        assert (get["path"], get["port"]) == (path, port["name"])
        assert path in routes


def test_the_pods_stop_within_the_grace_after_serve_drained() -> None:
    pod = _pod("Deployment")
    pre_stop = _container("Deployment")["lifecycle"]["preStop"]["exec"]["command"]

    assert pod["terminationGracePeriodSeconds"] == STOP_GRACE_SECONDS
    assert pre_stop[0] == "sleep"
    assert int(pre_stop[1]) + serve_drain_seconds() < STOP_GRACE_SECONDS


def test_the_migration_job_and_the_wait_for_it_run_real_commands() -> None:
    migrate = _container("Job")
    [wait] = _pod("Deployment")["initContainers"]

    assert migrate["args"] == ["db", "upgrade"]
    cli_command(migrate["args"])
    script = wait["command"][-1]
    found = re.search(r"until chatops ([a-z ]+);", script)
    assert found, script
    cli_command(found.group(1).split())


def _variables() -> list[str]:
    names = set()
    for kind in ("Deployment", "Job"):
        pod = _pod(kind)
        for container in pod["containers"] + pod.get("initContainers", []):
            names |= {e["name"] for e in container.get("env", [])}
    return sorted(names)


@pytest.mark.parametrize("name", _variables())
def test_each_variable_is_a_setting(name: str) -> None:
    assert variable_known(name), f"{name} is not a setting of chatops (config.Settings)"


def test_every_secret_key_used_is_one_the_instructions_create() -> None:
    instructions = (K8S / "kustomization.yaml").read_text()
    created = set(re.findall(r"--from-(?:literal|file)=([a-z-]+)=", instructions))
    used = set()
    for kind in ("Deployment", "Job"):
        pod = _pod(kind)
        for container in pod["containers"] + pod.get("initContainers", []):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "chatops"
                    used.add(ref["key"])

    assert used == created


def test_the_config_map_is_a_valid_chatops_yaml_at_the_images_config_path(tmp_path: Path) -> None:
    text = _objects()["ConfigMap"]["data"]["chatops.yaml"]
    (tmp_path / "chatops.yaml").write_text(text)
    config = read_config_file(
        tmp_path / "chatops.yaml", settings=load_settings(env_file=tmp_path / "none")
    )
    assert "CHATOPS_CONFIG=/etc/chatops/chatops.yaml" in (DEPLOY / "Dockerfile").read_text()

    for kind in ("Deployment", "Job"):
        pod = _pod(kind)
        mounts = {m["mountPath"]: m for c in pod["containers"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes[mounts["/etc/chatops"]["name"]]["configMap"]["name"] == "chatops-config"
    # the root file system is read-only: the workdir must be on a writable volume
    chatops = _container("Deployment")
    writable = [m["mountPath"] for m in chatops["volumeMounts"] if not m.get("readOnly")]
    assert any(config.workdir.is_relative_to(path) for path in writable), writable
    assert chatops["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_pods_run_as_the_images_non_root_user() -> None:
    for kind in ("Deployment", "Job"):
        context = _pod(kind)["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == IMAGE_UID
        for container in _pod(kind)["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_the_service_and_the_budget_select_the_serving_pods() -> None:
    objects = _objects()
    labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = objects["Service"]["spec"]

    assert service["selector"].items() <= labels.items()
    assert (
        objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    )
    assert objects["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [port] = service["ports"]
    assert port["targetPort"] == _container("Deployment")["ports"][0]["name"]
    job_labels = objects["Job"]["spec"]["template"]["metadata"]["labels"]
    assert not service["selector"].items() <= job_labels.items(), "the Job's pod serves nothing"
