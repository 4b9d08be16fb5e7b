"""The README and docs say what is true: their `runnable` shell blocks run as written, and the
README's table of keys is the one the schema makes.

docs/operations.md's groups (compose, sqlite, postgres) run in test_operations_doc.py;
every other ```` ```sh runnable readme ```` block runs here, each in a fresh directory
under `bash -euo pipefail` with this checkout's `chatops` first on PATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chatops.entrypoints.config_schema import keys_table
from tests.deploy.conftest import ROOT

BLOCK = re.compile(r"^```sh runnable (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ELSEWHERE = {ROOT / "docs" / "operations.md"}  # its groups run in test_operations_doc.py


def readme_blocks() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        if doc in ELSEWHERE:
            continue
        for group, body in BLOCK.findall(doc.read_text()):
            assert group == "readme", f"{doc.name}: unknown runnable group {group!r}"
            found.append((f"{doc.name}#{len(found) + 1}", body))
    return found


def test_there_are_runnable_blocks_and_none_is_malformed() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.count("```sh runnable") == len(BLOCK.findall(text)) >= 1


@pytest.mark.parametrize(("name", "body"), readme_blocks(), ids=lambda v: str(v)[:20])
def test_a_runnable_block_runs_as_written(name: str, body: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "USER": "U0DEV",
        "PYTHONWARNINGS": "ignore",
    }
    for variable in ("CHATOPS_CONFIG", "CHATOPS_DATABASE_URL", "SLACK_BOT_TOKEN", "DOCKER_HOST"):
        env.pop(variable, None)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", body],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{name}:\n{result.stdout}\n{result.stderr}"


def test_the_readme_lists_every_key_of_the_schema() -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- keys: chatops config schema --table -->\n")
    start = text.index("\n", start) + 1
    end = text.index("<!-- /keys -->", start)
    assert text[start:end] == keys_table(), (
        "the README's table of keys is stale: paste `chatops config schema --table` in"
    )
