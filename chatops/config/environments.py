"""The `environments:` section of chatops.yaml: who deploys, approvals, freezes, gates."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from chatops.config.fields import Seconds, SecondsOrZero, StrictModel
from chatops.domain.verification import ALL_CHECKS, CheckSpec, ChecksSpec, NoData, VerifySpec

__all__ = [
    "ChecksModel",
    "EnvironmentModel",
    "FreezeModel",
    "VerifyCheckModel",
    "VerifyModel",
]


class FreezeModel(StrictModel):
    cron: str
    duration_hours: Annotated[float, Field(gt=0, le=24 * 31)]


# ── verification and CI gates (DESIGN §10) ──


class VerifyCheckModel(StrictModel):
    """One entry of `verify.checks`."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    query: Annotated[str, Field(min_length=1, max_length=4000)]
    min: float | None = None
    max: float | None = None
    failure_limit: Annotated[int, Field(ge=0, le=1000)] = 0
    on_no_data: Literal["fail", "pass", "inconclusive"] = "fail"
    on_error: Literal["fail", "pass", "inconclusive"] = "inconclusive"

    @model_validator(mode="after")
    def _bounded(self) -> VerifyCheckModel:
        if self.min is None and self.max is None:
            raise ValueError(
                f"check {self.name!r} needs `min:` or `max:` (or both): a bound its value must keep"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(
                f"check {self.name!r}: `min` ({self.min:g}) is above `max` ({self.max:g})"
            )
        return self

    def spec(self) -> CheckSpec:
        return CheckSpec(
            name=self.name,
            query=self.query,
            min=self.min,
            max=self.max,
            failure_limit=self.failure_limit,
            on_no_data=NoData(self.on_no_data),
            on_error=NoData(self.on_error),
        )


class VerifyModel(StrictModel):
    """An environment's `verify:`: Prometheus queries measured while a release runs."""

    prometheus: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    interval_seconds: Annotated[float, Field(ge=1)] = 30
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10
    checks: Annotated[list[VerifyCheckModel], Field(min_length=1)]

    @model_validator(mode="after")
    def _distinct(self) -> VerifyModel:
        names = [c.name for c in self.checks]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two checks are named {name!r}; give each a name of its own")
        return self

    def spec(self) -> VerifySpec:
        return VerifySpec(
            prometheus=self.prometheus.rstrip("/"),
            checks=tuple(c.spec() for c in self.checks),
            interval=timedelta(seconds=self.interval_seconds),
            timeout=timedelta(seconds=self.timeout_seconds),
        )


class ChecksModel(StrictModel):
    """An environment's `checks:`: CI results a commit needs before it runs there."""

    required: Literal["all"] | Annotated[list[str], Field(min_length=1)]
    ignored: list[str] = Field(default_factory=list)
    timeout_seconds: Seconds = 900

    def spec(self) -> ChecksSpec:
        return ChecksSpec(
            required=None if self.required == ALL_CHECKS else tuple(self.required),
            ignored=frozenset(self.ignored),
            timeout=timedelta(seconds=self.timeout_seconds),
        )


class EnvironmentModel(StrictModel):
    runtime: Literal["docker", "swarm"] = "docker"
    network: str | None = None
    deployers: list[str] | None = None  # None: anyone ("*"), where nothing guards the way in
    approvers: list[str] = Field(default_factory=list)
    approvals: Annotated[int, Field(ge=0, le=10)] = 0
    approval_ttl_seconds: Seconds = 3600
    promote_from: str | None = None
    soak_seconds: SecondsOrZero = 0
    auto_rollback: bool = False
    auto_rollback_window_seconds: Seconds = 600
    rollback_approvals: Annotated[int, Field(ge=0, le=10)] = 0
    strategy: Literal["stop-first", "start-first"] = "stop-first"
    health_interval_seconds: Seconds = 30
    unhealthy_threshold: Annotated[int, Field(ge=1, le=100)] = 2
    auto_deploy: str | None = None
    poll_seconds: Seconds | None = None
    timezone: str = "UTC"
    docker_host: str | None = None
    build_docker_host: str | None = None  # where bots' Dockerfiles are built (untrusted code)
    viewers: list[str] | None = None  # who may read logs; default: deployers and approvers
    channel: str | None = None
    freeze: list[FreezeModel] = Field(default_factory=list)
    verify: VerifyModel | None = None
    checks: ChecksModel | None = None
    environment_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
            ) from None
        return value

    @model_validator(mode="after")
    def _checks(self) -> EnvironmentModel:
        if self.approvals > 0 and not self.approvers:
            raise ValueError(f"`approvals: {self.approvals}` needs `approvers` (user or group ids)")
        if self.rollback_approvals > 0 and not self.approvers:
            raise ValueError("`rollback_approvals` needs `approvers`")
        if self.freeze:
            # (imported here: reading a configuration without freezes never loads APScheduler)
            from apscheduler.triggers.cron import CronTrigger
        for index, rule in enumerate(self.freeze):
            try:
                CronTrigger.from_crontab(rule.cron, timezone=self.timezone)
            except ValueError as exc:
                raise ValueError(
                    f"freeze[{index}].cron {rule.cron!r} is not a cron expression: {exc}"
                ) from None
        return self
