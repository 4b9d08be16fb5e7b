"""Running a queued deployment: resolve, build once, run, verify, go live or restore.

Each step is a state of the deployment, saved and told to the channel as it is
entered. Every save is a compare-and-set from the revision last read, so a
`/cancel` recorded on the row (by any process) is noticed at the next step; the
build and the health gate look for one while they wait too. Whatever goes
wrong, the deployment ends `failed` with the reason and the environment runs
what it ran before; should the database refuse to record that, this run's
heartbeat for it stops, and recovery fails it later.
"""

from __future__ import annotations

import logging
import time

from chatops.domain.catalog import Bot, BotTarget, Catalog, Environment
from chatops.domain.deployment import Deployment, Release, State
from chatops.domain.redact import Redactor
from chatops.errors import ChatOpsError, InternalError, RuntimeFailure, Unhealthy, new_incident_id
from chatops.services.attempt import Attempt, Steps, TakenOver
from chatops.services.building import Releases
from chatops.services.ci_gate import CiGate
from chatops.services.failures import Failures
from chatops.services.logcontext import bound
from chatops.services.ports import Metrics, Secrets
from chatops.services.recovery import Heartbeat
from chatops.services.rollout import Rollout

__all__ = ["Pipeline", "Preparation", "Unhealthy"]

log = logging.getLogger(__name__)


class Preparation:
    """What a run needs before it touches an engine: the target, its secrets (so every
    message masks them), and the release, found or built once and vetted by CI."""

    def __init__(
        self, catalog: Catalog, *, secrets: Secrets, releases: Releases, ci: CiGate
    ) -> None:
        self._catalog = catalog
        self._secrets = secrets
        self._releases = releases
        self._ci = ci

    def prepare(self, attempt: Attempt) -> tuple[Release, Bot, Environment, BotTarget]:
        deployment = attempt.deployment
        the_bot, environment, target = self._catalog.target(deployment.bot, deployment.env)
        # resolved once per attempt: every message, log line and spec below uses them
        attempt.secrets = self._secrets.resolve(the_bot, target)
        attempt.redact = Redactor.for_secrets(attempt.secrets)
        release = self._releases.release(
            attempt,
            the_bot,
            vet=lambda sha: self._ci.wait(attempt, the_bot, environment, sha),
        )
        return release, the_bot, environment, target


class Pipeline:
    """Executes queued deployments."""

    def __init__(
        self,
        *,
        steps: Steps,
        heartbeat: Heartbeat,
        metrics: Metrics,
        preparation: Preparation,
        rollout: Rollout,
        failures: Failures,
    ) -> None:
        self._steps = steps
        self._heartbeat = heartbeat
        self._metrics = metrics
        self._preparation = preparation
        self._rollout = rollout
        self._failures = failures

    def execute(self, deployment_id: int) -> Deployment:
        """Run a queued deployment to `live` or `failed`; any other state is left alone."""
        with bound(deployment_id=deployment_id), self._heartbeat.running(deployment_id):
            return self._execute(deployment_id)

    def _execute(self, deployment_id: int) -> Deployment:
        deployment = self._steps.read(deployment_id)
        if deployment is None or deployment.state is not State.QUEUED:
            return deployment  # type: ignore[return-value]  # None only for unknown ids
        attempt = Attempt(deployment=deployment, redact=Redactor(), started=time.monotonic())
        try:
            release, the_bot, environment, target = self._preparation.prepare(attempt)
            self._rollout.deploy(attempt, release, the_bot, environment, target)
        except TakenOver as taken:
            self._failures.stand_down(attempt, taken.current)
        except InternalError:  # unsettled by the step that raised it: a bug like any other
            self._fail_unexpectedly(attempt)
        except ChatOpsError as exc:
            # an engine or registry out of reach: say how to get one, as `status` does
            hint = f" — {exc.hint}" if isinstance(exc, RuntimeFailure) and exc.hint else ""
            self._failures.fail(attempt, attempt.redact(exc.message + hint))
        except Exception:
            self._fail_unexpectedly(attempt)
        finally:
            self._metrics.deployment_finished(
                attempt.deployment, seconds=time.monotonic() - attempt.started
            )
        return attempt.deployment

    def _fail_unexpectedly(self, attempt: Attempt) -> None:
        """A bug: its traceback logged under an incident id, which the reason names."""
        incident = new_incident_id()
        log.exception(
            "deployment #%s failed unexpectedly (incident %s)", attempt.deployment_id, incident
        )
        self._failures.fail(
            attempt, f"chatops hit an internal error (incident {incident}); see its log"
        )
