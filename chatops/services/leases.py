"""Leases: which process of several sharing one database runs a singleton job (leader election).

A lease is a row naming its holder and when it expires. The holder renews it
well before then; when the holder dies, its lease expires and another process
takes it over.
"""

from __future__ import annotations

from datetime import datetime

from chatops.services.ports import Clock, ProcessTable, UnitOfWorkFactory

__all__ = ["Leases"]


class Leases:
    """Takes, renews and gives up leases on behalf of this process."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, processes: ProcessTable) -> None:
        self._uow = uow
        self._clock = clock
        self.owner = processes.me()  # this process, as lease rows name it

    def hold(self, name: str, *, ttl_seconds: float) -> bool:
        """Take or renew the lease `name` for `ttl_seconds`; whether this process holds it.

        Raises:
            StoreError: the database cannot be reached.
        """
        with self._uow() as uow:
            held = uow.leases.acquire(
                name, owner=self.owner, now=self._clock.now(), ttl_seconds=ttl_seconds
            )
            uow.commit()
        return held

    def give_up(self, name: str) -> None:
        """Release the lease `name` if this process holds it, for another to take at once.

        Raises:
            StoreError: the database cannot be reached.
        """
        with self._uow() as uow:
            uow.leases.release(name, owner=self.owner)
            uow.commit()

    def holder(self, name: str) -> tuple[str, datetime] | None:
        """Who holds the lease `name` and until when; None when nobody ever took it."""
        with self._uow() as uow:
            return uow.leases.holder(name)

    def held_by_anyone(self, name: str) -> bool:
        """Whether some process holds an unexpired lease `name`."""
        held = self.holder(name)
        return held is not None and held[1] > self._clock.now()
