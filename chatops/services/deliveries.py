"""Deliveries handled once, across replicas: Slack's retries and webhooks' delivery ids."""

from __future__ import annotations

from datetime import timedelta

from chatops.services.context import Deps

__all__ = ["KEEP", "Deliveries"]

KEEP = timedelta(days=7)  # GitHub redelivers from the last 3 days; Slack retries within an hour


class Deliveries:
    """The delivery keys seen in the last `keep`, in the database."""

    def __init__(self, deps: Deps, keep: timedelta = KEEP) -> None:
        self._deps = deps
        self._keep = keep

    def first_time(self, key: str) -> bool:
        """Record `key`; False when it was handled before.

        Raises:
            StoreError: the database cannot be reached.
        """
        with self._deps.uow() as uow:
            fresh = uow.deliveries.first_time(key, at=self._deps.clock.now())
            uow.commit()
        return fresh

    def forget(self, key: str) -> None:
        """Let `key` come again (its handling failed before anything happened).

        Raises:
            StoreError: the database cannot be reached.
        """
        with self._deps.uow() as uow:
            uow.deliveries.forget(key)
            uow.commit()

    def prune(self) -> int:
        """Drop keys older than `keep`; how many."""
        with self._deps.uow() as uow:
            dropped = uow.deliveries.prune(before=self._deps.clock.now() - self._keep)
            uow.commit()
        return dropped
