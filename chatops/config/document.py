"""chatops.yaml as a whole: its top-level sections and the checks across them."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from chatops.config.bots import BotModel
from chatops.config.environments import EnvironmentModel
from chatops.config.fields import Name, StrictModel, check_public_url
from chatops.domain.names import DEFAULT_INSTANCE, colliding_units, unit_name

__all__ = [
    "AlertmanagerModel",
    "ConfigModel",
    "RetentionModel",
    "SlackModel",
    "WebModel",
]

_MAX_SERVICE_NAME = 63  # Swarm's limit (a DNS label)


def _guarded(env: EnvironmentModel) -> str:
    """Why who deploys to `env` matters enough to be written down, if it does."""
    if env.promote_from:
        return f"takes promotions from {env.promote_from}"
    if env.approvals or env.rollback_approvals:
        return "needs approvals"
    return ""


class SlackModel(StrictModel):
    channel: str | None = None
    admins: list[str] = Field(default_factory=list)


class AlertmanagerModel(StrictModel):
    bot_label: str = "bot"
    env_label: str = "env"


class RetentionModel(StrictModel):
    """`retention:` how many releases' images and build logs (per bot), and how many days
    of audit, to keep; release tags are never deleted."""

    releases: Annotated[int, Field(ge=1, le=10_000)] | None = None
    audit_days: Annotated[int, Field(ge=1, le=36_500)] | None = None


class WebModel(StrictModel):
    """`web:` who may see the web view (DESIGN §11)."""

    auth: Literal["slack", "proxy"]
    team_id: str | None = None  # slack: only members of this workspace
    issuer: str = "https://slack.com"  # slack: the OpenID Connect issuer (a stand-in in tests)
    header: str = "X-Forwarded-User"  # proxy: the header naming the signed-in person
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12

    @model_validator(mode="after")
    def _complete(self) -> WebModel:
        if self.auth == "slack" and not self.team_id:
            raise ValueError(
                "web.team_id: required with `auth: slack` (the workspace whose members may "
                "sign in, T…)"
            )
        try:
            for proxy in self.trusted_proxies:
                ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise ValueError(f"web.trusted_proxies: {exc}") from None
        if not re.fullmatch(r"[A-Za-z0-9-]+", self.header):
            raise ValueError(f"web.header: {self.header!r} is not an HTTP header name")
        check_public_url(self.issuer)
        return self


class ConfigModel(StrictModel):
    instance: Name = DEFAULT_INSTANCE  # namespaces what chatops makes (DESIGN §4)
    retention: RetentionModel = Field(default_factory=RetentionModel)
    database_url: str | None = None
    public_url: str | None = None
    web: WebModel | None = None
    registry: str | None = None
    build_docker_host: str | None = None
    workdir: str = ".chatops"
    slack: SlackModel = Field(default_factory=SlackModel)
    alertmanager: AlertmanagerModel = Field(default_factory=AlertmanagerModel)
    environments: dict[Name, EnvironmentModel]
    bots: dict[Name, BotModel] = Field(default_factory=dict)

    _url = field_validator("public_url")(check_public_url)

    @model_validator(mode="after")
    def _references(self) -> ConfigModel:
        if not self.environments:
            raise ValueError("`environments` needs at least one environment")
        for name, env in self.environments.items():
            if re.fullmatch(r"v[0-9]+", name):
                raise ValueError(
                    f"environments.{name}: an environment may not be named like a release (v<N>), "
                    "since `<bot>/<env>` tags would clash with release tags"
                )
            if env.promote_from is not None and env.promote_from not in self.environments:
                raise ValueError(
                    f"environments.{name}.promote_from: {env.promote_from!r} is not an environment "
                    f"(known: {', '.join(sorted(self.environments))})"
                )
            seen = {name}
            source = env.promote_from
            while source is not None:
                if source in seen:
                    raise ValueError(
                        f"environments.{name}.promote_from: the promotion chain loops back"
                    )
                seen.add(source)
                source = self.environments[source].promote_from
        self._check_guards_and_builds()
        self._check_forges()
        for bot, model in self.bots.items():
            for target in model.environments or {}:
                if target not in self.environments:
                    raise ValueError(
                        f"bots.{bot}.environments.{target}: not an environment "
                        f"(known: {', '.join(sorted(self.environments))})"
                    )
        self._check_unit_names()
        return self

    def _check_forges(self) -> None:
        for bot, where in self._targets():
            checked = self.environments.get(where)
            model = self.bots[bot]
            if checked is not None and checked.checks and not (model.github or model.gitlab):
                raise ValueError(
                    f"bots.{bot}: environment {where} has `checks`, which are read from the "
                    "bot's forge; add `github: owner/name` or `gitlab: group/name`"
                )

    def _check_unit_names(self) -> None:
        for unit, pairs in colliding_units(self._targets(), self.instance).items():
            keys = " and ".join(sorted({f"bots.{bot}" for bot, _ in pairs}))
            named = " and ".join(f"bot {bot} in {env}" for bot, env in pairs)
            raise ValueError(
                f"{keys}: {named} would run as the same container or service `{unit}`; "
                "rename one of the bots or environments"
            )
        for bot, target in self._targets():
            unit = unit_name(bot, target, self.instance)
            if self.environments[target].runtime == "swarm" and len(unit) > _MAX_SERVICE_NAME:
                raise ValueError(
                    f"bots.{bot}: the Swarm service of {bot} in {target}, `{unit}`, would be "
                    f"longer than the {_MAX_SERVICE_NAME} characters Swarm allows; shorten "
                    "the bot, environment or instance name"
                )

    def _check_guards_and_builds(self) -> None:
        """Guarded environments name their deployers; builds elsewhere need a registry."""
        envs = self.environments.items()
        for name, env in envs:
            if env.deployers is None and (why := _guarded(env)):
                raise ValueError(
                    f"environments.{name}.deployers: required, since {name} {why}; write who "
                    "may deploy, promote and roll back there, e.g. "
                    '`deployers: [U0DEV1, S0DEPLOYERS]`, or `deployers: ["*"]` for anyone '
                    "in the workspace"
                )
        builds_elsewhere = [
            key
            for key, host in [
                ("build_docker_host", self.build_docker_host),
                *((f"environments.{n}.build_docker_host", e.build_docker_host) for n, e in envs),
            ]
            if host
        ]
        if builds_elsewhere and not self.registry:
            raise ValueError(
                f"{builds_elsewhere[0]} needs `registry`: an image built on another Docker "
                "Engine reaches the engine that runs it only through a registry"
            )

    def _targets(self) -> list[tuple[str, str]]:
        """Every (bot, environment) pair chatops may run."""
        return [
            (bot, env)
            for bot, model in self.bots.items()
            for env in (self.environments if model.environments is None else model.environments)
        ]
