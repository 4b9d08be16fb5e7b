"""From the validated chatops.yaml to the domain Catalog, with paths resolved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from chatops.config.bots import AwsSecret, EnvSecret, FileSecret, TargetModel
from chatops.config.document import ConfigModel, WebModel
from chatops.config.fields import check_public_url
from chatops.config.settings import Settings
from chatops.domain.catalog import (
    ANYONE,
    Bot,
    BotTarget,
    Catalog,
    Environment,
    FreezeRule,
    HealthSpec,
    SecretRef,
    Strategy,
)
from chatops.domain.repos import remote_location
from chatops.domain.retention import RetentionPolicy
from chatops.errors import ConfigError

__all__ = ["ConfigFile", "config_file"]


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """chatops.yaml, validated, with paths resolved against its directory."""

    path: Path
    catalog: Catalog
    database_url: str
    workdir: Path
    alert_labels: tuple[str, str]
    public_url: str | None = None  # CHATOPS_PUBLIC_URL wins over `public_url`
    web: WebModel | None = None


def _resolve(base: Path, value: str) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _looks_local(repo: str) -> bool:
    return remote_location(repo) is None


def _secret_refs(
    base: Path, secrets: Mapping[str, EnvSecret | FileSecret | AwsSecret]
) -> tuple[SecretRef, ...]:
    refs = []
    for name, model in secrets.items():
        options = {k: v for k, v in model.model_dump(exclude={"provider"}).items() if v is not None}
        if isinstance(model, FileSecret):
            options["path"] = _resolve(base, model.path)
        refs.append(
            SecretRef(name=name, provider=model.provider, options=tuple(sorted(options.items())))
        )
    return tuple(refs)


def config_file(path: Path, model: ConfigModel, settings: Settings) -> ConfigFile:
    base = path.resolve().parent
    environments = {
        name: Environment(
            name=name,
            runtime=env.runtime,
            network=env.network,
            deployers=frozenset([ANYONE] if env.deployers is None else env.deployers),
            approvers=frozenset(env.approvers),
            approvals=env.approvals,
            approval_ttl=timedelta(seconds=env.approval_ttl_seconds),
            promote_from=env.promote_from,
            soak=timedelta(seconds=env.soak_seconds),
            auto_rollback=env.auto_rollback,
            auto_rollback_window=timedelta(seconds=env.auto_rollback_window_seconds),
            rollback_approvals=env.rollback_approvals,
            strategy=Strategy(env.strategy),
            health_interval=timedelta(seconds=env.health_interval_seconds),
            unhealthy_threshold=env.unhealthy_threshold,
            auto_deploy=env.auto_deploy,
            poll_seconds=int(env.poll_seconds) if env.poll_seconds else None,
            timezone=env.timezone,
            docker_host=env.docker_host,
            build_docker_host=env.build_docker_host or model.build_docker_host,
            viewers=frozenset(env.viewers) if env.viewers is not None else None,
            channel=env.channel,
            freeze=tuple(FreezeRule(f.cron, timedelta(hours=f.duration_hours)) for f in env.freeze),
            verify=env.verify.spec() if env.verify else None,
            checks=env.checks.spec() if env.checks else None,
            environment_url=env.environment_url,
        )
        for name, env in model.environments.items()
    }
    bots = {}
    for name, bot in model.bots.items():
        wanted = bot.environments if bot.environments is not None else dict.fromkeys(environments)
        targets = {}
        for env_name, override in wanted.items():
            o = override or TargetModel()
            env_file = o.env_file or bot.env_file
            health = o.health or bot.health
            targets[env_name] = BotTarget(
                env=env_name,
                env_vars={**bot.env, **o.env},
                env_file=_resolve(base, env_file) if env_file else None,
                secrets=_secret_refs(base, {**bot.secrets, **o.secrets}),
                health=health.spec() if health else HealthSpec(),
                health_timeout=timedelta(
                    seconds=o.health_timeout_seconds or bot.health_timeout_seconds
                ),
                replicas=o.replicas or bot.replicas,
                build_args=dict(o.build_args),
                resources=(o.resources or bot.resources).limits(bot.resources),
            )
        bots[name] = Bot(
            name=name,
            repo=_resolve(base, bot.repo) if _looks_local(bot.repo) else bot.repo,
            branch=bot.branch,
            dockerfile=bot.dockerfile,
            context=bot.context,
            build_args=dict(bot.build_args),
            targets=targets,
            build_timeout=timedelta(seconds=bot.build_timeout_seconds),
            github=bot.github,
            gitlab=bot.gitlab,
            push_tags=bot.push_tags,
        )
    catalog = Catalog(
        environments=environments,
        bots=bots,
        admins=frozenset(model.slack.admins),
        channel=model.slack.channel,
        registry=model.registry,
        instance=model.instance,
        retention=RetentionPolicy(model.retention.releases, model.retention.audit_days),
    )
    database_url = settings.chatops_database_url or model.database_url or "sqlite:///chatops.db"
    return ConfigFile(
        path=path,
        catalog=catalog,
        database_url=_resolve_sqlite(base, database_url),
        workdir=Path(_resolve(base, model.workdir)),
        alert_labels=(model.alertmanager.bot_label, model.alertmanager.env_label),
        public_url=_env_public_url(settings) or model.public_url,
        web=model.web,
    )


def _env_public_url(settings: Settings) -> str | None:
    try:
        return check_public_url(settings.chatops_public_url)
    except ValueError as exc:
        raise ConfigError(f"CHATOPS_PUBLIC_URL: {exc}") from None


def _resolve_sqlite(base: Path, url: str) -> str:
    """Relative SQLite paths are relative to the config file, like every other path in it."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + _resolve(base, url[len(prefix) :])
    return url
