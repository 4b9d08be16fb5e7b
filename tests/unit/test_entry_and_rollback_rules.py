"""The domain's entry rules for deploy and promote, and where a Rollback button points."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chatops.domain.catalog import Environment
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.policy import check_entry
from chatops.domain.rollbacks import previous_healthy
from chatops.errors import Refused
from tests.fakes import T0

STAGING = Environment(name="staging")
PROD = Environment(name="prod", promote_from="staging", soak=timedelta(minutes=10))


@pytest.mark.parametrize(
    ("environment", "kind", "refused"),
    [
        (STAGING, Kind.DEPLOY, None),
        (PROD, Kind.DEPLOY, "only runs releases promoted from staging"),
        (PROD, Kind.PROMOTE, None),
        (STAGING, Kind.PROMOTE, "does not take promotions"),
        (STAGING, Kind.ROLLBACK, None),
        (PROD, Kind.ROLLBACK, None),
    ],
)
def test_each_kind_enters_only_where_it_may(
    environment: Environment, kind: Kind, refused: str | None
) -> None:
    if refused is None:
        check_entry(environment, kind, bot="mybot")
        return
    with pytest.raises(Refused, match=refused):
        check_entry(environment, kind, bot="mybot")


def _ran(version: int, *, id_: int, kind: Kind = Kind.DEPLOY, **more: object) -> Deployment:
    return Deployment(
        bot="mybot",
        env="staging",
        kind=kind,
        state=State.SUPERSEDED,
        requested_by="UDEV",
        requested_at=T0,
        updated_at=T0,
        version=version,
        live_at=T0,
        id=id_,
        **more,  # type: ignore[arg-type]
    )


def test_a_rollback_goes_to_the_newest_release_that_ran_and_was_not_rolled_back_from() -> None:
    v1, v2 = _ran(1, id_=1), _ran(2, id_=2)
    v3 = _ran(3, id_=3, rolled_back=True)  # rolled back from, to v2
    back = replace(_ran(2, id_=4, kind=Kind.ROLLBACK), state=State.LIVE)
    history = [back, v3, v2, v1]  # newest first

    assert previous_healthy(history, current=back) == 1  # not v3, nor v2 which runs
    assert previous_healthy([v1], current=replace(v1, state=State.LIVE)) is None
    v4 = replace(_ran(4, id_=5), state=State.LIVE)
    assert previous_healthy([v4, *history], current=v4) == 2
    # rolled back from v2 (redeployed) to v1: no earlier run of v2 is gone back to
    v2_again = _ran(2, id_=6, rolled_back=True)
    to_v1 = replace(_ran(1, id_=7, kind=Kind.ROLLBACK), state=State.LIVE)
    assert previous_healthy([to_v1, v2_again, _ran(2, id_=8), v1], current=to_v1) is None
    v2_later = replace(_ran(2, id_=9), state=State.LIVE)  # v2 fixed forward runs again
    assert previous_healthy([v2_later, to_v1, v2_again, v1], current=v2_later) == 1
