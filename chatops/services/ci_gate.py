"""The CI gate of a deployment (DESIGN §10): the commit's required checks, green first.

Before a deploy or a promotion into an environment with `checks:` runs
anything, the commit's CI results are read from the bot's forge. Green: on it
goes. Failed: refused, naming and linking the check. Pending: the message says
what it waits for, and the results are read again every `ci_poll_seconds`
until `timeout`, then refused. An admin's force (the reason given with
`--force`) skips the gate, and that is audited. Rollbacks are never gated:
they go back to what ran before.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from chatops.domain.audit import Outcome
from chatops.domain.catalog import Bot, Environment
from chatops.domain.ci import CiState, CiVerdict, evaluate
from chatops.domain.deployment import Kind
from chatops.domain.durations import format_duration
from chatops.domain.verification import ChecksSpec
from chatops.errors import ChecksFailed, ForgeError
from chatops.services.attempt import Attempt, Steps
from chatops.services.auditor import Auditor
from chatops.services.context import Actor
from chatops.services.ports import CiChecks

__all__ = ["CiGate"]

log = logging.getLogger(__name__)

GATE = Actor("chatops", "ci")


class CiGate:
    """Waits for, or refuses on, a commit's CI checks."""

    def __init__(self, *, ci: CiChecks, auditor: Auditor, steps: Steps) -> None:
        self._ci = ci
        self._auditor = auditor
        self._steps = steps

    def wait(self, attempt: Attempt, bot: Bot, environment: Environment, sha: str) -> None:
        """Return once the required checks of `sha` are green (or forced past).

        Raises:
            ChecksFailed: a required check failed, or was pending at the timeout.
            Stopped, TakenOver: cancelled or taken over while waiting.
        """
        spec = environment.checks
        deployment = attempt.deployment
        if spec is None or deployment.kind not in (Kind.DEPLOY, Kind.PROMOTE):
            return
        steps = self._steps
        if deployment.force_reason:
            self._auditor.alone(
                Actor(deployment.requested_by, "ci"),
                "checks_overridden",
                Outcome.OK,
                of=deployment,
                detail=f"CI checks of {sha[:8]} not waited for: {deployment.force_reason}",
            )
            return
        deadline = steps.now() + spec.timeout
        said = ""
        while True:
            verdict, trouble = self._read(spec, bot, sha)
            if verdict is not None and verdict.state is CiState.SUCCESS:
                if said:
                    steps.save(attempt, replace(attempt.deployment, reason=None))
                return
            if verdict is not None and verdict.state is CiState.FAILURE:
                raise ChecksFailed(
                    verdict.describe(sha),
                    hint="fix the commit and deploy again, or an admin can force with a reason",
                )
            waiting = verdict.describe(sha) if verdict else f"waiting for CI checks: {trouble}"
            if steps.now() >= deadline:
                raise ChecksFailed(
                    f"gave up after {format_duration(spec.timeout)} {waiting}",
                    hint="deploy again once CI has finished, or an admin can force",
                )
            if waiting != said:  # the message says what it waits for, once per change
                steps.save(attempt, replace(attempt.deployment, reason=waiting))
                steps.tell(attempt.deployment)
                said = waiting
            steps.look(attempt)
            steps.sleep(steps.tuning.ci_poll_seconds)

    def _read(self, spec: ChecksSpec, bot: Bot, sha: str) -> tuple[CiVerdict | None, str]:
        try:
            results = self._ci.results(bot, sha)
        except ForgeError as exc:
            log.warning("cannot read the CI checks of %s %s: %s", bot.name, sha[:8], exc)
            return None, f"the forge cannot be read ({exc.message})"
        return evaluate(spec, results), ""
