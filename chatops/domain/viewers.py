"""Who may read what a bot prints: an environment's `viewers` (DESIGN §5).

Logs show what a bot saw: customers' data, internal addresses, whatever a
secret mask cannot know about. So they are for the environment's `viewers` —
by default the people who deploy there and those who approve — and for admins.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatops.domain.catalog import ANYONE, Environment
from chatops.errors import NotAllowed

__all__ = ["check_viewer", "viewers_of"]


def viewers_of(env: Environment) -> frozenset[str]:
    """The entries (users, groups, `*`) that may read the logs of `env`, admins aside."""
    return env.viewers if env.viewers is not None else env.deployers | env.approvers


def check_viewer(
    env: Environment, user: str, *, viewers: Iterable[str], admins: Iterable[str]
) -> None:
    """Let `user` read the logs of `env` when an admin or among its viewers.

    Args:
        env: the environment whose logs are asked for.
        user: who asks.
        viewers: `viewers_of(env)` with groups expanded to their members.
        admins: the admins, who may read every environment's logs.

    Raises:
        NotAllowed: anyone else; the hint names who may.
    """
    allowed = set(viewers)
    if user in set(admins) or ANYONE in allowed or user in allowed:
        return
    named = sorted(viewers_of(env))
    who = f"{', '.join(named)} and admins" if named else "admins only"
    raise NotAllowed(
        f"{user} may not read the logs of {env.name}",
        hint=f"the logs of {env.name} are for {who}; ask one of them, "
        f"or an admin to add you to `environments.{env.name}.viewers`",
    )
