"""Deliveries handled once, across replicas: Slack's retries and webhooks' delivery ids."""

from __future__ import annotations

from datetime import timedelta

from chatops.services.ports import Clock, UnitOfWorkFactory

__all__ = ["KEEP", "Deliveries"]

KEEP = timedelta(days=7)  # GitHub redelivers from the last 3 days; Slack retries within an hour


class Deliveries:
    """The delivery keys seen in the last `keep`, in the database."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, keep: timedelta = KEEP) -> None:
        self._uow = uow
        self._clock = clock
        self._keep = keep

    def first_time(self, key: str) -> bool:
        """Record `key`; False when it was handled before.

        Raises:
            StoreError: the database cannot be reached.
        """
        with self._uow() as uow:
            fresh = uow.deliveries.first_time(key, at=self._clock.now())
            uow.commit()
        return fresh

    def forget(self, key: str) -> None:
        """Let `key` come again (its handling failed before anything happened).

        Raises:
            StoreError: the database cannot be reached.
        """
        with self._uow() as uow:
            uow.deliveries.forget(key)
            uow.commit()

    def prune(self) -> int:
        """Drop keys older than `keep`; how many."""
        with self._uow() as uow:
            dropped = uow.deliveries.prune(before=self._clock.now() - self._keep)
            uow.commit()
        return dropped
