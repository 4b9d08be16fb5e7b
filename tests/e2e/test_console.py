"""`chatops console` as a person uses it: a real process, commands on stdin, numbered buttons.

The console prints the channel messages as text with numbered buttons; the test
reads what it printed (as a person would) to learn which number to press. Health
checks run every second here, so a bot that stops gets an alert, with its buttons.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import IO

import pytest

from tests.e2e.conftest import Installation

pytestmark = pytest.mark.slow

DEPLOY_TIMEOUT = 120.0
INTERVAL = 1.0  # health_interval_seconds of both environments


class Terminal:
    """A `chatops console` process: lines go to its stdin, its stdout is collected as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.seen = ""  # everything printed so far
        self._read_upto = 0  # what `expect` has consumed
        self._chunks: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._chunks.put(line)
        self._chunks.put(None)

    def finish(self) -> None:
        """Wait for the reader to see the end of the output (call once the process ended)."""
        self._reader.join(timeout=30)

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, pattern: str, timeout: float = DEPLOY_TIMEOUT) -> re.Match[str]:
        """Wait for `pattern` in what was printed since the last match; consume up to it."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.MULTILINE)
        while True:
            found = regex.search(self.seen, self._read_upto)
            if found:
                self._read_upto = found.end()
                return found
            left = deadline - time.monotonic()
            try:
                chunk = self._chunks.get(timeout=max(0.0, left)) if left > 0 else None
            except queue.Empty:
                chunk = None
            if chunk is None:
                raise AssertionError(
                    f"the console did not print {pattern!r}; it printed:\n{self.seen[-4000:]}"
                )
            self.seen += chunk

    def button(self, label: str) -> int:
        """The number of the newest button called `label` among what was printed so far."""
        numbers = re.findall(rf"^  \[(\d+)\] {re.escape(label)}$", self.seen, re.MULTILINE)
        assert numbers, f"no {label!r} button was printed:\n{self.seen[-4000:]}"
        return int(numbers[-1])


@pytest.fixture
def terminal(installation: Installation) -> Iterator[Terminal]:
    for env in installation.document["environments"].values():
        env["health_interval_seconds"] = INTERVAL
    installation.write_config()
    process = subprocess.Popen(
        installation.command("console", "--user", "UDEV"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**installation.env, "PYTHONUNBUFFERED": "1"},
    )
    terminal = Terminal(process)
    try:
        yield terminal
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        terminal.finish()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def test_deploy_promote_and_approve_typed_in_the_console(
    installation: Installation, terminal: Terminal
) -> None:
    i, t = installation, terminal
    t.expect(r"chatops console — you are UDEV")
    t.type("press 1")
    t.expect(r"^there are no buttons to press now$")

    t.type(f"/deploy {i.bot} staging")
    t.expect(rf"Deploy {i.bot} main to staging: queued")
    t.expect(rf"Deploy {i.bot} v1 to staging: building the image")
    t.expect(rf"✅ Deploy {i.bot} v1 to staging: live")
    t.expect(r"^  \[\d+\] Promote to prod\n  \[\d+\] Roll back$")
    t.expect(rf"#1 deploy of {i.bot} to staging started")
    assert i.running_release("staging") == "v1"

    t.type(f"press {t.button('Promote to prod')}")
    t.expect(rf"⏳ Promote {i.bot} v1 to prod: waiting for approval")
    t.expect(r"^  \[\d+\] Approve\n  \[\d+\] Reject$")
    t.expect(r"#2 waits for approval")

    t.type(f"press {t.button('Approve')}")
    t.expect(r"UDEV requested this deployment and cannot approve or reject it")

    t.type("as ULEAD1")
    t.expect(r"you are ULEAD1")
    approve = t.button("Approve")
    t.type(f"press {approve}")
    t.expect(rf"✅ Promote {i.bot} v1 to prod: live")
    t.expect(r"Approved by @ULEAD1")
    t.expect(r"you approved #2")
    t.type(f"press {approve}")  # the request went live: its Approve button is gone
    t.expect(rf"^button {approve} \(Approve\) was on an earlier version of that message, ")

    t.type(f"/lock {i.bot} prod database migration")
    t.expect(rf"^🔒 {i.bot} in prod is locked by ULEAD1")  # emoji codes are characters
    t.type(f"/unlock {i.bot} prod")
    t.expect(rf"^🔓 {i.bot} in prod is unlocked")
    t.type("/status")
    t.expect(rf"{i.bot} in prod: v1 [0-9a-f]{{8}} · healthy")
    assert i.running_release("prod") == "v1"

    i.container("prod").stop(timeout=1)  # the health checks notice, and the alert has buttons
    alert = r"🚨 Alert: {bot} in prod\n(  .*\n)*  \[\d+\] Roll back.*\n  \[\d+\] Acknowledge\n"
    t.expect(alert.format(bot=i.bot))
    t.type(f"press {t.button('Acknowledge')}")
    t.expect(rf"👀 Alert acknowledged: {i.bot} in prod")
    t.expect(r"you acknowledged alert #\d+")
    t.type("quit")
    assert t.process.wait(timeout=30) == 0, t.seen[-2000:]

    prod = [row for row in i.json("status", i.bot) if row["env"] == "prod"]
    assert [(r["version"], r["state"]) for r in prod] == [(1, "live")]
