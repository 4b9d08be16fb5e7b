"""What a deployment's view shows that no longer changes, kept once read (one per process).

A release row is never changed once written; the commits between two commits are
fixed; what ran in the target when a deployment started stays what it replaces while
the deployment holds the environment's running slot (nothing else goes live there
meanwhile); and the votes of a request that left `pending_approval` are final. So
the view of each state change reads each of them once per deployment, and its
later views read only what can still change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from chatops.domain.approvals import Tally
from chatops.domain.deployment import Commit, Release

__all__ = ["Changes", "Decision", "Memo", "ViewFacts"]

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")

REMEMBERED = 1024  # entries of each kind: far more than the deployments running at once


@dataclass(frozen=True, slots=True)
class Changes:
    """The commits a deployment brings (newest first), how many more, and a compare link."""

    commits: tuple[Commit, ...] = ()
    more: int = 0
    compare_url: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """How the approval of a deployment ended (None: it needed none, or was forced)."""

    tally: Tally | None
    decided_by: str | None


class Memo(Generic[K, V]):
    """A bounded map, safe across threads; the least recently used entry goes first."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._guard = threading.Lock()

    def get(self, key: K, default: D) -> V | D:
        with self._guard:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._guard:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class ViewFacts:
    """The facts views reuse: releases by (bot, version), what each running deployment
    replaces (the version live before it, by deployment id), change lists by (bot, base,
    head), and the decided approvals by deployment id."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.releases: Memo[tuple[str, int], Release] = Memo(size)
        self.replaces: Memo[int, int | None] = Memo(size)
        self.changes: Memo[tuple[str, str | None, str], Changes] = Memo(size)
        self.decisions: Memo[int, Decision] = Memo(size)
