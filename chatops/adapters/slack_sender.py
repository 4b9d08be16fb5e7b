"""Delivers the outbox to Slack: in order per message, paced per channel, retried until it lands.

The sender claims one due message at a time from the database (so several
`serve` replicas never send the same one), posts it or edits the message
already posted for its subject, and records the result. Slack's answers decide
what happens next:

- 429 `ratelimited`: the message and its channel wait for `Retry-After`;
- 5xx, `internal_error`-like answers, timeouts and connection errors: retried
  with exponential backoff, for as long as it takes;
- anything else (`channel_not_found`, `not_in_channel`, `invalid_auth`, …) can
  never succeed: the message is given up with one log line, a metric and an
  audit event.

Beside it: `slack_sender_answers` (what each answer means) and `slack_sender_pacing`
(how fast it writes, where it counts what it did).
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
from collections.abc import Callable, Collection
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chatops.adapters.db.outbox import POST, UPDATE, Claimed, OutboxKind, Waiting
from chatops.adapters.db.uow import SqlUnitOfWork
from chatops.adapters.slack_sender_answers import HINTS, Failure, error_of, failure_of
from chatops.adapters.slack_sender_pacing import DeliveryMetrics, Pacing, describe_waiting
from chatops.adapters.system import SystemClock
from chatops.domain.audit import AuditEvent, Outcome
from chatops.errors import StoreError
from chatops.services.ports import Clock, MessageRef

__all__ = ["DeliveryMetrics", "Pacing", "SlackSender", "describe_waiting"]

log = logging.getLogger(__name__)


class _GiveUp(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class SlackSender:
    """Sends what the outbox holds, on a thread of its own (or in `flush` when it has none).

    Args:
        client: the Web API client (its own retry handlers should leave 429s to the sender).
        uow: units of work on the database holding the outbox.
        owner: who claims messages: unique per process, across replicas.
    """

    def __init__(
        self,
        client: WebClient,
        uow: Callable[[], SqlUnitOfWork],
        *,
        owner: str,
        pacing: Pacing | None = None,
        metrics: DeliveryMetrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._uow = uow
        self._owner = owner
        self._pacing = pacing or Pacing()
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._progress = threading.Condition()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self._store_down = False

    # ── lifecycle ────────────────────────────────────────────────────────────

    def start(self) -> None:
        """Deliver on a background thread until `stop`; what earlier runs left is due at once."""
        with self._guard:
            if self._thread is not None or self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="slack-sender", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Something was queued: send it now (starting the thread on first use)."""
        self.start()
        self._wake.set()

    def stop(
        self, *, flush_seconds: float = 0.0, subjects: Collection[str] | None = None
    ) -> list[Waiting]:
        """Deliver for up to `flush_seconds` (only `subjects`, when given), then stop.

        Returns:
            What is still queued (it stays in the database for the next sender).
        """
        left = self.flush(subjects, timeout=flush_seconds)
        self._stopping.set()
        self._wake.set()
        with self._guard:
            thread = self._thread
        if thread is not None:
            thread.join()
        return left

    def flush(self, subjects: Collection[str] | None = None, *, timeout: float) -> list[Waiting]:
        """Wait up to `timeout` seconds until nothing (of `subjects`) is queued any more."""
        deadline = time.monotonic() + timeout
        while True:
            left = self._waiting(subjects)
            remaining = deadline - time.monotonic()
            if not left or remaining <= 0:
                return left
            if self._running():
                self._wake.set()
                with self._progress:
                    self._progress.wait(min(remaining, 0.2))
            else:
                pause = self.send_due()
                time.sleep(min(remaining, pause if pause is not None else 0.2, 0.2))

    # ── delivering ───────────────────────────────────────────────────────────

    def send_due(self) -> float | None:
        """Send every message that is due now.

        Returns:
            Seconds until the next queued message is due; None when none is known.
        """
        while not self._stopping.is_set():
            now = self._clock.now()
            pacing = self._pacing
            with self._uow() as uow:
                claimed, soonest = uow.outbox.claim(
                    self._owner,
                    now=now,
                    hold=timedelta(seconds=pacing.claim_seconds),
                    pace={
                        POST: timedelta(seconds=pacing.post_seconds),
                        UPDATE: timedelta(seconds=pacing.update_seconds),
                    },
                )
                queued = uow.outbox.count() if claimed is None else None
                uow.commit()
            if claimed is None:
                if self._metrics is not None and queued is not None:
                    self._metrics.chat_queued(queued)
                return None if soonest is None else max(0.0, (soonest - now).total_seconds())
            self._deliver(claimed)
            with self._progress:
                self._progress.notify_all()
        return None

    def _deliver(self, claimed: Claimed) -> None:
        message = claimed.message
        try:
            ref = self._send(claimed)
        except _GiveUp as gave_up:
            self._give_up(claimed, gave_up.error)
            return
        except Exception as exc:
            failure = failure_of(exc)
            if not isinstance(exc, SlackApiError | OSError | http.client.HTTPException):
                log.exception("Slack %s for %s: unexpected error", claimed.method, message.subject)
            if failure.permanent:
                self._give_up(claimed, failure.error)
            else:
                self._retry(claimed, failure)
            return
        with self._uow() as uow:
            uow.outbox.sent(claimed, ref=ref, now=self._clock.now())
            uow.commit()
        if claimed.attempts:
            log.warning(
                "Slack %s for %s delivered after %d failed attempt(s)",
                claimed.method,
                message.subject,
                claimed.attempts,
            )
        self._count("sent")

    def _send(self, claimed: Claimed) -> MessageRef | None:
        """Make the call the claimed message needs; the message it posted or edited."""
        message = claimed.message
        blocks = message.blocks or None
        if message.kind is OutboxKind.REPLY:
            if claimed.ref is not None:
                return claimed.ref  # answered already
            if claimed.thread is None:
                raise _GiveUp(f"the message it answers ({message.thread_of}) was never posted")
            answer = self._client.chat_postMessage(
                channel=claimed.thread.channel,
                thread_ts=claimed.thread.ts,
                text=message.text,
                blocks=blocks,
            )
            return MessageRef(str(answer["channel"]), str(answer["ts"]))
        if claimed.ref is not None:
            try:
                self._client.chat_update(
                    channel=claimed.ref.channel, ts=claimed.ref.ts, text=message.text, blocks=blocks
                )
            except SlackApiError as exc:
                if error_of(exc) != "message_not_found":
                    raise
                log.warning("the Slack message of %s is gone: posting it again", message.subject)
            else:
                return claimed.ref
        answer = self._client.chat_postMessage(
            channel=message.channel, text=message.text, blocks=blocks
        )
        return MessageRef(str(answer["channel"]), str(answer["ts"]))

    def _retry(self, claimed: Claimed, failure: Failure) -> None:
        pacing = self._pacing
        if failure.retry_after is not None:
            delay = failure.retry_after
        else:
            backoff = pacing.first_retry_seconds * 2 ** min(claimed.attempts, 30)
            delay = min(pacing.max_retry_seconds, backoff) * random.uniform(1.0, 1.25)  # noqa: S311
        with self._uow() as uow:
            uow.outbox.retry(
                claimed,
                at=self._clock.now() + timedelta(seconds=delay),
                error=failure.error,
                pause_channel=failure.retry_after is not None,
            )
            uow.commit()
        (log.warning if claimed.attempts == 0 else log.info)(
            "Slack %s for %s failed (%s); attempt %d, next in %.1fs",
            claimed.method,
            claimed.message.subject,
            failure.error,
            claimed.attempts + 1,
            delay,
        )
        self._count("retried")

    def _give_up(self, claimed: Claimed, error: str) -> None:
        message = claimed.message
        hint = HINTS.get(error, "")
        kind, _, key = message.subject.partition(":")
        now = self._clock.now()
        with self._uow() as uow:
            uow.outbox.give_up(claimed, error=error, now=now)
            uow.audit.add(
                AuditEvent(
                    at=now,
                    actor="chatops",
                    action="slack_message",
                    outcome=Outcome.FAILED,
                    source="slack",
                    deployment_id=int(key) if kind == "deployment" and key.isdigit() else None,
                    detail=f"{message.subject} in {message.channel} given up: {error}",
                )
            )
            uow.commit()
        log.warning(
            "Slack %s for %s in %s given up: %s%s",
            claimed.method,
            message.subject,
            message.channel,
            error,
            f" ({hint})" if hint else "",
        )
        self._count("given_up")

    # ── plumbing ─────────────────────────────────────────────────────────────

    def _run(self) -> None:
        idle = self._pacing.idle_seconds
        try:
            with self._uow() as uow:
                uow.outbox.due_now(now=self._clock.now())
                uow.commit()
        except StoreError as exc:
            log.warning("cannot read the outbox (messages wait in it): %s", exc)
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                pause = self.send_due()
                if self._store_down:
                    log.warning("the outbox's database answers again")
                    self._store_down = False
            except StoreError as exc:
                if not self._store_down:
                    log.warning("cannot read the outbox (messages wait in it): %s", exc)
                self._store_down = True
                pause = idle
            except Exception:
                log.exception("the Slack sender failed; it goes on")
                pause = idle
            self._wake.wait(idle if pause is None else min(pause, idle))

    def _running(self) -> bool:
        with self._guard:
            return self._thread is not None and self._thread.is_alive()

    def _waiting(self, subjects: Collection[str] | None) -> list[Waiting]:
        with self._uow() as uow:
            return uow.outbox.waiting(subjects)

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.chat_message(result)
