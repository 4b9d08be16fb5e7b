"""The domain's entry rules for deploy and promote, and where a Rollback button points."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatops.domain.catalog import Environment
from chatops.domain.deployment import Deployment, Kind, State
from chatops.domain.policy import check_entry
from chatops.domain.rollbacks import previous_is_rollback_target
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


@pytest.mark.parametrize(
    ("kind", "goes_to_previous"),
    [
        (Kind.DEPLOY, True),
        (Kind.PROMOTE, True),
        (Kind.ROLLBACK, False),
        (Kind.AUTO_ROLLBACK, False),
    ],
)
def test_a_rollback_goes_to_the_replaced_release_only_after_a_move_forward(
    kind: Kind, goes_to_previous: bool
) -> None:
    live = Deployment(
        bot="mybot",
        env="staging",
        kind=kind,
        state=State.LIVE,
        requested_by="UDEV",
        requested_at=T0,
        updated_at=T0,
        version=3,
        previous_version=2,
    )
    assert previous_is_rollback_target(live) is goes_to_previous
