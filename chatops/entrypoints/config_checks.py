"""`chatops config check`'s look beyond the file: what it names exists, and (`--online`) answers.

Offline: each local repository, `env_file` and `file` secret it names exists.
Online: each bot's repository is reachable and its branch resolves, and each
Docker Engine the environments use answers.
"""

from __future__ import annotations

from pathlib import Path

from chatops.config import Config
from chatops.domain.repos import remote_location
from chatops.errors import ChatOpsError

__all__ = ["missing_files", "unreachable"]


def missing_files(config: Config) -> list[str]:
    """Problems with the files chatops.yaml names, one line each with its key path."""
    problems = []
    for bot in sorted(config.catalog.bots.values(), key=lambda b: b.name):
        if remote_location(bot.repo) is None and not Path(bot.repo).exists():
            problems.append(f"bots.{bot.name}.repo: {bot.repo}: no such directory")
        for env, target in sorted(bot.targets.items()):
            where = f"bots.{bot.name}.environments.{env}"
            if target.env_file and not Path(target.env_file).is_file():
                problems.append(f"{where}.env_file: {target.env_file}: no such file")
            for ref in target.secrets:
                path = ref.option("path")
                if ref.provider == "file" and path and not Path(path).is_file():
                    problems.append(f"{where}.secrets.{ref.name}.path: {path}: no such file")
    return problems


def unreachable(config: Config) -> list[str]:
    """Problems reaching what chatops.yaml names: each repository and branch, each engine."""
    from chatops.bootstrap.tools import engine_answers, source_control

    problems = []
    source = source_control(config.file.workdir)
    for bot in sorted(config.catalog.bots.values(), key=lambda b: b.name):
        try:
            source.fetch(bot)
            source.resolve(bot, bot.branch)
        except ChatOpsError as exc:
            problems.append(f"bots.{bot.name}: {exc.message}")
    engines: dict[str | None, list[str]] = {}
    for env in config.catalog.environments.values():
        host = env.docker_host or config.settings.docker_host
        engines.setdefault(host, []).append(env.name)
    for host, names in engines.items():
        try:
            engine_answers(host)
        except ChatOpsError as exc:
            problems.append(f"environments {', '.join(sorted(names))}: {exc.message}")
    return problems
