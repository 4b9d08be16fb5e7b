"""Measuring a live release against its environment's `verify` checks, once each."""

from __future__ import annotations

from chatops.domain.deployment import Deployment
from chatops.domain.verification import Measurement, Outcome, VerifySpec, fill_query, judge
from chatops.services.masking import Masker
from chatops.services.ports import Clock, MetricQuery, Metrics

__all__ = ["Measurer"]


class Measurer:
    """Asks Prometheus each check's query, judges it, and keeps its detail masked."""

    def __init__(
        self, *, query: MetricQuery, clock: Clock, metrics: Metrics, masker: Masker
    ) -> None:
        self._query = query
        self._clock = clock
        self._metrics = metrics
        self._masker = masker

    def measure(
        self, spec: VerifySpec, deployment: Deployment, down: list[Outcome]
    ) -> list[Measurement]:
        """Each check of `deployment` once. `down`: how Prometheus failed to answer earlier
        in this round, if it did; then it is not asked again (a hung Prometheus would
        otherwise cost a timeout per check per deployment)."""
        measured = []
        for check in spec.checks:
            query = fill_query(
                check.query, bot=deployment.bot, env=deployment.env, version=deployment.version
            )
            started = self._clock.now()
            if down:
                outcome = down[0]
            else:
                outcome = self._query.query(
                    spec.prometheus, query, timeout=spec.timeout.total_seconds()
                )
                if outcome.down:
                    down.append(outcome)
            measurement = judge(check, outcome, at=self._clock.now())
            self._metrics.measured(
                deployment.bot,
                deployment.env,
                check.name,
                str(measurement.verdict),
                seconds=(self._clock.now() - started).total_seconds(),
            )
            measured.append(
                Measurement(
                    measurement.check,
                    measurement.verdict,
                    measurement.at,
                    measurement.value,
                    self._masker.masked(deployment.bot, deployment.env, measurement.detail),
                    deployment.id,
                )
            )
        return measured
