"""A failed deployment puts back what ran before even when the engine is briefly out of
reach (restarting): left alone, the engine's restart policy would bring the failed release
back while the records say the previous one is live."""

from __future__ import annotations

import pytest
import requests
import urllib3.exceptions

from chatops.adapters.docker_client import engine_errors
from chatops.domain.deployment import State
from chatops.domain.health import Health
from chatops.errors import EngineUnreachable
from tests.unit.test_nothing_stuck import App, make_app


@pytest.fixture
def app() -> App:
    """mybot v1 live in staging; v2 will fail its health gate."""
    application = make_app()
    assert application.deploy().state is State.LIVE
    application.commit("b" * 40)
    application.world.runtime.health_of[2] = Health.UNHEALTHY
    return application


def test_the_restore_is_tried_again_until_the_engine_answers(app: App) -> None:
    app.world.runtime.unreachable_restores = 3
    before = app.world.clock.now()

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert failed.reason is not None and failed.reason.endswith("; v1 is running again")
    assert app.world.runtime.version("mybot", "staging") == 1
    assert app.world.runtime.unreachable_restores == 0
    assert (app.world.clock.now() - before).total_seconds() >= 1 + 2 + 4  # it waited, doubling


def test_an_engine_that_stays_away_is_named_in_the_reason(app: App) -> None:
    app.world.runtime.unreachable_restores = 100

    failed = app.deploy()

    assert failed.state is State.FAILED
    assert failed.reason is not None and failed.reason.endswith(
        "; restoring the previous release failed too: "
        "restoring: the Docker Engine cannot be reached"
    )
    assert app.world.runtime.unreachable_restores == 100 - 6  # tried restore_retries times


@pytest.mark.parametrize(
    "gone",
    [
        requests.exceptions.ConnectionError("Connection aborted."),
        # the engine went down in the middle of an answer, as when it restarts
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(3873 bytes)"),
        urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(3873 bytes)"),
    ],
)
def test_an_engine_gone_in_the_middle_of_an_answer_is_unreachable_not_a_failure(
    gone: Exception,
) -> None:
    with (
        pytest.raises(EngineUnreachable, match="cannot be reached"),
        engine_errors("restoring v1"),
    ):
        raise gone
