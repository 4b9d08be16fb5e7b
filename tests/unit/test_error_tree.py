"""Every error chatops raises on purpose sits in the one tree; the internal ones stay bugs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import typer

from chatops.domain import deployment as deployment_module
from chatops.domain.deployment import Deployment, Event, Kind, State, next_state
from chatops.entrypoints.cli_support import errors
from chatops.errors import (
    ChatOpsError,
    Conflict,
    InfrastructureError,
    InternalError,
    InvalidTransition,
    RuntimeFailure,
    SlotTaken,
    UserError,
    new_incident_id,
)
from chatops.services import ports
from chatops.services.context import Actor
from chatops.services.ports import RunSpec
from tests.fakes import World, catalog

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _deployment() -> Deployment:
    return Deployment(
        id=7,
        bot="mybot",
        env="prod",
        kind=Kind.DEPLOY,
        state=State.FAILED,
        requested_by="U1",
        requested_at=NOW,
        updated_at=NOW,
        revision=3,
    )


def test_the_store_and_state_machine_errors_are_internal_members_of_the_tree() -> None:
    for error in (InvalidTransition, SlotTaken, Conflict):
        assert issubclass(error, InternalError)
        assert issubclass(error, ChatOpsError)
        assert not issubclass(error, UserError | InfrastructureError)
    assert not issubclass(InvalidTransition, ValueError)


def test_they_stay_importable_where_they_were() -> None:
    assert ports.SlotTaken is SlotTaken
    assert ports.Conflict is Conflict
    assert deployment_module.InvalidTransition is InvalidTransition


def test_their_messages_and_fields_are_unchanged() -> None:
    with pytest.raises(InvalidTransition) as refused:
        next_state(State.LIVE, Event.BUILD)
    assert str(refused.value) == "a live deployment cannot take the event <Event.BUILD: 'build'>"
    assert (refused.value.state, refused.value.event) == (State.LIVE, Event.BUILD)
    taken = SlotTaken(4)
    assert (str(taken), taken.holder_id) == ("slot held by deployment #4", 4)
    current = _deployment()
    conflict = Conflict(current)
    assert str(conflict) == "deployment #7 changed meanwhile: it is failed (revision 3)"
    assert conflict.current is current


def test_an_incident_id_is_eight_hex_digits_and_new_each_time() -> None:
    ids = {new_incident_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids)


@pytest.mark.parametrize("raised", [SlotTaken(4), Conflict(_deployment())])
def test_the_cli_answers_an_internal_error_that_reaches_it_as_a_bug(
    raised: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as exited, errors(as_json=True):
        raise raised
    assert exited.value.exit_code == 1
    answer = json.loads(capsys.readouterr().out.splitlines()[0])
    assert answer["kind"] == "InternalError"
    assert re.fullmatch(
        r"sorry: chatops hit an internal error \(incident [0-9a-f]{8}\)", answer["error"]
    )


def test_the_cli_still_answers_other_chatops_errors_with_their_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as exited, errors(as_json=True):
        raise InfrastructureError("the database is away")
    assert exited.value.exit_code == 1
    answer = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (answer["kind"], answer["error"]) == ("InfrastructureError", "the database is away")


@pytest.mark.parametrize(
    "raised",
    [
        RuntimeFailure("the engine is down"),
        SlotTaken(4),
        InvalidTransition(State.LIVE, Event.BUILD),
    ],
    ids=["chatops error", "slot taken", "invalid transition"],
)
def test_the_pipeline_fails_an_unsettled_internal_error_as_a_bug_with_an_incident_id(
    raised: ChatOpsError, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(catalog())
    requests = world.services().requests
    world.source.add_commit("mybot", "main", "a" * 40)

    def start(spec: RunSpec) -> str:
        raise raised

    world.runtime.start = start  # type: ignore[method-assign]
    deployment = requests.deploy(Actor("UDEV"), "mybot", "staging")

    assert deployment.state is State.FAILED
    bugs = [r for r in caplog.records if r.exc_info and "incident" in r.getMessage()]
    if isinstance(raised, InternalError):
        incident = r"chatops hit an internal error \(incident ([0-9a-f]{8})\); see its log"
        found = re.match(incident, deployment.reason or "")
        assert found, deployment.reason
        assert [r.exc_info[1] for r in bugs if r.exc_info] == [raised]
        assert found[1] in bugs[0].getMessage()
    else:  # said as it is, no traceback
        assert (deployment.reason or "").startswith("the engine is down")
        assert bugs == []
