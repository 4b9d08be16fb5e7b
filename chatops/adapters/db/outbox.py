"""The outbox: chat messages and forge statuses queued, claimed by one sender at a time.

One row per subject (`deployment:12`, `alert:3`, …) holds the newest content of
that message: queuing a newer state replaces the content of a row still waiting,
so ten quick updates become one. A sender claims a due row for a while (an
owner and an expiry: one sender per row, whichever replica it runs in), sends
it, and then deletes it, unless a newer revision arrived meanwhile, which is
then due at once. `outbox_pace` says when a chat method may next be called in a
channel, shared by every sender, so replicas together keep Slack's pace.

Forge rows (`OutboxKind.FORGE`, DESIGN §10) use the same table and the same
guarantees: `channel` names the forge (`github`, `gitlab`), `text` holds the
newest status to report as JSON, and the remembered "message" is the forge's
deployment id. Each sender claims only its own kinds.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, delete, func, or_, select, update
from sqlalchemy.orm import Session

from chatops.adapters.db.repositories_sql import dialect_insert
from chatops.adapters.db.tables import ChatMessageRow, OutboxPaceRow, OutboxRow
from chatops.services.ports import MessageRef

__all__ = [
    "CHAT_KINDS",
    "POST",
    "UPDATE",
    "Claimed",
    "OutboxKind",
    "Outgoing",
    "SqlOutbox",
    "Waiting",
]

POST = "chat.postMessage"
UPDATE = "chat.update"


class OutboxKind(enum.StrEnum):
    MESSAGE = "message"  # posted once, then edited in place (a deployment's, an alert's)
    REPLY = "reply"  # posted once, in the thread of another subject's message
    POST = "post"  # a new message every time (a soak notice, something said)
    FORGE = "forge"  # a deployment on GitHub or GitLab: created once, then given statuses


CHAT_KINDS = frozenset({OutboxKind.MESSAGE, OutboxKind.REPLY, OutboxKind.POST})


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send, as rendered: for `subject`, in `channel`."""

    subject: str
    kind: OutboxKind
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    thread_of: str | None = None  # REPLY: the subject whose message it answers


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row a sender holds: what to send, how (`method`), and where it goes."""

    id: int
    revision: int
    attempts: int
    method: str
    message: Outgoing
    ref: MessageRef | None  # the subject's message, when already posted
    thread: MessageRef | None  # REPLY: the message to answer in, when posted


@dataclass(frozen=True, slots=True)
class Waiting:
    """A message still queued: for reports of what was left undelivered."""

    subject: str
    channel: str
    attempts: int
    last_error: str | None


def _execute(session: Session, stmt: Executable) -> int:
    # without preserve_rowcount, psycopg reports -1 for an INSERT
    options = {"preserve_rowcount": True}
    return session.connection().execute(stmt, execution_options=options).rowcount


class SqlOutbox:
    """The outbox table in one unit of work's transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # ── queuing ──────────────────────────────────────────────────────────────

    def put(self, message: Outgoing, *, now: datetime) -> bool:
        """Queue `message`, replacing the content of its subject's row if one still waits.

        A reply already posted is not queued again. True when something was queued.
        """
        if message.kind is OutboxKind.REPLY and self._ref(message.subject) is not None:
            return False
        stmt = dialect_insert(self._session)(OutboxRow).values(
            subject=message.subject,
            kind=str(message.kind),
            channel=message.channel,
            thread_of=message.thread_of,
            text=message.text,
            blocks=json.dumps(message.blocks),
            revision=1,
            queued_at=now,
            attempts=0,
            next_attempt_at=now,
        )
        newer = {
            name: stmt.excluded[name] for name in ("kind", "channel", "thread_of", "text", "blocks")
        }
        stmt = stmt.on_conflict_do_update(
            index_elements=[OutboxRow.subject],
            set_={**newer, "revision": OutboxRow.revision + 1},
        )
        _execute(self._session, stmt)
        return True

    # ── sending ──────────────────────────────────────────────────────────────

    def claim(
        self,
        owner: str,
        *,
        now: datetime,
        hold: timedelta,
        pace: Mapping[str, timedelta],
        scan: int = 500,
        kinds: Collection[OutboxKind] = CHAT_KINDS,
    ) -> tuple[Claimed | None, datetime | None]:
        """Claim the longest-waiting message that is due and whose channel may be written to.

        Taking it also takes the channel's next slot for its method (`pace`).

        Returns:
            The claimed message (or None), and when a message not sendable now will be.
        """
        free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
        mine = OutboxRow.kind.in_([str(k) for k in kinds])
        due = self._session.execute(
            select(
                OutboxRow.id,
                OutboxRow.subject,
                OutboxRow.kind,
                OutboxRow.channel,
                OutboxRow.thread_of,
            )
            .where(free, mine, OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(scan)
        ).all()
        soonest = self._session.scalar(
            select(func.min(OutboxRow.next_attempt_at)).where(
                free, mine, OutboxRow.next_attempt_at > now
            )
        )
        if not due:
            return None, soonest
        threads = {row.thread_of for row in due if row.thread_of}
        refs = self._refs({row.subject for row in due} | threads)
        queued = self._session.scalars(
            select(OutboxRow.subject).where(OutboxRow.subject.in_(threads))
        )
        threads_queued = set(queued) if threads else set()
        paces = self._paces({row.channel for row in due})
        for row in due:
            kind = OutboxKind(row.kind)
            ref = refs.get(row.subject)
            thread = refs.get(row.thread_of) if row.thread_of else None
            if kind is OutboxKind.REPLY and row.thread_of in threads_queued:
                continue  # its thread's message (or a change of it) goes first
            edits = kind in (OutboxKind.MESSAGE, OutboxKind.FORGE)
            method = UPDATE if edits and ref is not None else POST
            slot = paces.get((method, row.channel))
            if slot is not None and slot > now:
                soonest = slot if soonest is None else min(soonest, slot)
                continue
            if not self._take_slot(method, row.channel, now=now, until=now + pace[method]):
                continue  # another sender just wrote to that channel
            taken = update(OutboxRow).where(OutboxRow.id == row.id, free)
            if (
                _execute(self._session, taken.values(claimed_by=owner, claimed_until=now + hold))
                != 1
            ):
                self._set_slot(method, row.channel, slot or now)  # another sender took it first
                continue
            # read once claimed: a newer revision now waits for this transaction to end
            text, blocks, revision, attempts = self._session.execute(
                select(
                    OutboxRow.text, OutboxRow.blocks, OutboxRow.revision, OutboxRow.attempts
                ).where(OutboxRow.id == row.id)
            ).one()
            message = Outgoing(
                subject=row.subject,
                kind=kind,
                channel=row.channel,
                text=text,
                blocks=json.loads(blocks),
                thread_of=row.thread_of,
            )
            return Claimed(row.id, revision, attempts, method, message, ref, thread), None
        return None, soonest

    def sent(self, claimed: Claimed, *, ref: MessageRef | None, now: datetime) -> None:
        """The claimed message was delivered (as `ref`): remember it, and drop the row.

        A newer revision queued while it was sent stays, due at once (an edit of `ref`).
        """
        if ref is not None and claimed.message.kind is not OutboxKind.POST:
            values = {"subject": claimed.message.subject, "channel": ref.channel, "ts": ref.ts}
            stmt = dialect_insert(self._session)(ChatMessageRow).values(values)
            stmt = stmt.on_conflict_do_update(
                index_elements=[ChatMessageRow.subject],
                set_={"channel": stmt.excluded.channel, "ts": stmt.excluded.ts},
            )
            _execute(self._session, stmt)
        if not self._drop(claimed):
            self._release(claimed, attempts=0, at=now, error=None)

    def retry(
        self, claimed: Claimed, *, at: datetime, error: str, pause_channel: bool = False
    ) -> None:
        """Sending failed for now: try again at `at` (and write nothing to its channel before)."""
        if pause_channel:  # (the pace row first, as in `claim`: one order of locks)
            self._set_slot(claimed.method, claimed.message.channel, at)
        self._release(claimed, attempts=claimed.attempts + 1, at=at, error=error)

    def give_up(self, claimed: Claimed, *, error: str, now: datetime) -> None:
        """Sending can never succeed: drop the row (a newer revision still gets its try)."""
        if not self._drop(claimed):
            self._release(claimed, attempts=0, at=now, error=error)

    def due_now(self, *, now: datetime) -> int:
        """Make every unclaimed message due at once (a new sender does not wait out the
        backoff of one that is gone); how many were waiting."""
        free = or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
        stmt = update(OutboxRow).where(free, OutboxRow.next_attempt_at > now)
        return _execute(self._session, stmt.values(next_attempt_at=now))

    # ── reading ──────────────────────────────────────────────────────────────

    def waiting(
        self, subjects: Collection[str] | None = None, *, kinds: Collection[OutboxKind] = CHAT_KINDS
    ) -> list[Waiting]:
        """Messages still queued (of `subjects`, when given), oldest first."""
        stmt = (
            select(OutboxRow.subject, OutboxRow.channel, OutboxRow.attempts, OutboxRow.last_error)
            .where(OutboxRow.kind.in_([str(k) for k in kinds]))
            .order_by(OutboxRow.id)
        )
        if subjects is not None:
            if not subjects:
                return []
            stmt = stmt.where(OutboxRow.subject.in_(subjects))
        return [Waiting(*row) for row in self._session.execute(stmt)]

    def count(self, *, kinds: Collection[OutboxKind] = CHAT_KINDS) -> int:
        stmt = select(func.count()).select_from(OutboxRow)
        stmt = stmt.where(OutboxRow.kind.in_([str(k) for k in kinds]))
        return int(self._session.scalar(stmt) or 0)

    # ── helpers ──────────────────────────────────────────────────────────────

    def _ref(self, subject: str) -> MessageRef | None:
        return self._refs({subject}).get(subject)

    def _refs(self, subjects: Collection[str]) -> dict[str, MessageRef]:
        stmt = select(ChatMessageRow.subject, ChatMessageRow.channel, ChatMessageRow.ts).where(
            ChatMessageRow.subject.in_(subjects)
        )
        return {s: MessageRef(c, t) for s, c, t in self._session.execute(stmt)}

    def _paces(self, channels: Collection[str]) -> dict[tuple[str, str], datetime]:
        stmt = select(OutboxPaceRow.method, OutboxPaceRow.channel, OutboxPaceRow.next_at).where(
            OutboxPaceRow.channel.in_(channels)
        )
        return {(m, c): at for m, c, at in self._session.execute(stmt)}

    def _take_slot(self, method: str, channel: str, *, now: datetime, until: datetime) -> bool:
        """Move the channel's next slot for `method` to `until`, unless another sender has."""
        stmt = dialect_insert(self._session)(OutboxPaceRow).values(
            method=method, channel=channel, next_at=until
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[OutboxPaceRow.method, OutboxPaceRow.channel],
            set_={"next_at": stmt.excluded.next_at},
            where=OutboxPaceRow.next_at <= now,
        )
        return _execute(self._session, stmt) == 1

    def _set_slot(self, method: str, channel: str, at: datetime) -> None:
        stmt = dialect_insert(self._session)(OutboxPaceRow).values(
            method=method, channel=channel, next_at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[OutboxPaceRow.method, OutboxPaceRow.channel],
            set_={"next_at": stmt.excluded.next_at},
        )
        _execute(self._session, stmt)

    def _drop(self, claimed: Claimed) -> bool:
        stmt = delete(OutboxRow).where(
            OutboxRow.id == claimed.id, OutboxRow.revision == claimed.revision
        )
        return _execute(self._session, stmt) == 1

    def _release(self, claimed: Claimed, *, attempts: int, at: datetime, error: str | None) -> None:
        _execute(
            self._session,
            update(OutboxRow)
            .where(OutboxRow.id == claimed.id)
            .values(
                claimed_by=None,
                claimed_until=None,
                attempts=attempts,
                next_attempt_at=at,
                last_error=error,
            ),
        )
