"""What one `/deploy mybot staging` costs `chatops serve`: database transactions, Slack Web API
calls and git subprocesses, counted and held to a budget.

serve runs as a real process with the Slack stand-in (which records every call),
a `git` first on its PATH that notes each run and then runs the real git, and
`counting/sitecustomize.py`, which notes each database transaction with the
thread and the chatops functions that began it. A first deploy warms serve up
(the bot's git mirror, the build cache); the second one, of a new commit over a
live release, is the one counted, from the signed request until serve stopped
(a stop waits for running deployments).

Transactions are counted on the /deploy's own path: the Slack request's threads
and the deployment's thread. The scheduler's jobs run whatever the request, and
the waits (heartbeat, build watchdog, cancel looks while the health gate waits)
and the Slack sender's idle look-ups scale with seconds, not with the work: they
are printed, and the waits held to a rate.

Baseline, measured on main at 8c4f009 (before a deployment's view was built from
data fetched once per deployment):
    transactions on its path: 23 (the request's 5, the deployment's 18: 5 views, 5 queued)
    Slack calls: 6 (1 response_url, 1 chat.postMessage, 4 chat.update)
    git subprocesses: 17 (the change list's rev-list and log once: the adapter caches ranges)
Now: 21 transactions (its views read 3 times: what it replaces when queued, its release
when deploying, the live row), 6 Slack calls, 17 git subprocesses. Slack calls (one per
message, no user group asked) and git runs (the change list read once) were already at
what this flow needs on main: those budgets hold them there.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import Installation
from tests.e2e.serving import BOT_TOKEN, SIGNING_SECRET, Served
from tests.e2e.test_slack import CHANNEL, DEV, Workspace, headline, reply_text, started_id
from tests.slack.standin import SlackStandIn

pytestmark = pytest.mark.slow

HOOKS = Path(__file__).parent / "counting"
PATH_THREADS = ("chatops-slack", "AnyIO worker", "chatops-deploy-")
WAIT_THREADS = ("chatops-heartbeat", "chatops-build-watchdog")
LOOK = "services/attempt.py:look"  # a running deployment's look for /cancel while it waits

# what one /deploy may cost (main at 8c4f009 took 23 transactions, 6 calls, 17 runs of git)
TRANSACTIONS = 21  # views of in-progress states read only what they lack: 3 reads, not 5
SLACK_CALLS = {"response_url": 1, "chat.postMessage": 1}  # exactly: one answer, one message
SLACK_UPDATES = 4  # at most: the sender folds updates queued behind each other into one
GIT_RUNS = 17
WAITS_PER_SECOND = 3.0  # heartbeat every 5 s, watchdog and cancel looks every second


@dataclass(frozen=True)
class Transaction:
    thread: str
    where: str
    via: str

    @property
    def key(self) -> str:
        """The thread (without a pool's number) and the function that began it."""
        return f"{self.thread.rstrip('_0123456789')}  {self.where}"

    @property
    def waits(self) -> bool:
        return self.thread.startswith(WAIT_THREADS) or self.via == LOOK

    @property
    def on_path(self) -> bool:
        return self.thread.startswith(PATH_THREADS) and not self.waits


@dataclass
class Counting:
    """serve with every transaction and git run noted in files under `root`."""

    w: Workspace
    root: Path

    @property
    def _transactions(self) -> Path:
        return self.root / "transactions.log"

    @property
    def _git(self) -> Path:
        return self.root / "git.log"

    def marks(self) -> tuple[int, int]:
        return _length(self._transactions), _length(self._git)

    def transactions(self, since: int) -> list[Transaction]:
        lines = self._transactions.read_text().splitlines()[since:]
        return [Transaction(*line.split("\t")) for line in lines]

    def git(self, since: int) -> list[str]:
        return self._git.read_text().splitlines()[since:]


def _length(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def counting(installation: Installation, tmp_path: Path) -> Iterator[Counting]:
    i = installation
    i.document["slack"]["channel"] = CHANNEL
    i.write_config()
    real_git = shutil.which("git", path=i.env["PATH"])
    assert real_git is not None
    noted = tmp_path / "noted"
    (noted / "bin").mkdir(parents=True)
    wrapper = noted / "bin" / "git"
    wrapper.write_text(  # one line per run, whatever newlines its arguments hold
        f'#!/bin/sh\n{{ printf "%s" "$*" | tr "\\n" " "; echo; }} >> "{noted / "git.log"}"\n'
        f'exec {real_git} "$@"\n'
    )
    wrapper.chmod(0o755)
    with SlackStandIn() as slack:
        env = {
            **i.env,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
            "PATH": f"{noted / 'bin'}{os.pathsep}{i.env['PATH']}",
            "PYTHONPATH": os.pathsep.join(p for p in (str(HOOKS), i.env.get("PYTHONPATH")) if p),
            "CHATOPS_TEST_TRANSACTIONS": str(noted / "transactions.log"),
        }
        served = Served(i.config, env)
        try:
            served.start()
            yield Counting(Workspace(i, slack, served), noted)
        finally:
            served.stop()


def _deploy(w: Workspace, version: int) -> float:
    """`/deploy <bot> staging` until it is live; how long that took."""
    started = time.monotonic()
    reply = w.reply(w.command(DEV, "/deploy", f"{w.i.bot} staging"))
    assert f"deploy of {w.i.bot} to staging started" in reply_text(reply)
    live = w.wait_message(started_id(reply), "live")
    assert headline(live) == f"✅ Deploy {w.i.bot} v{version} to staging: live"
    return time.monotonic() - started


def _report(what: str, counts: Counter[str]) -> str:
    lines = [f"{what}: {sum(counts.values())}"]
    lines += [f"  {n:3}  {key}" for key, n in sorted(counts.items())]
    return "\n".join(lines)


def test_one_deploy_stays_within_its_budget(counting: Counting) -> None:
    w = counting.w
    _deploy(w, 1)  # warms serve up: the mirror, GitPython, the build cache
    w.i.repo.commit("second version")
    w.slack.clear()
    transactions_mark, git_mark = counting.marks()

    seconds = _deploy(w, 2)
    w.served.stop()  # waits for the deployment's thread; nothing is left to count

    transactions = counting.transactions(transactions_mark)
    on_path = Counter(t.key for t in transactions if t.on_path)
    waits = Counter(t.key for t in transactions if t.waits)
    others = Counter(t.key for t in transactions if not t.on_path and not t.waits)
    calls = Counter(c.method for c in w.slack.calls())
    git = counting.git(git_mark)
    print(
        f"\none /deploy, live after {seconds:.1f}s",
        _report("transactions on its path", on_path),
        _report("transactions waiting", waits),
        _report("other transactions meanwhile (scheduler, sender, start and stop)", others),
        _report("Slack calls", calls),
        _report("git runs", Counter(line.split(" ")[0] for line in git)),
        sep="\n",
    )

    assert sum(on_path.values()) <= TRANSACTIONS, _report("transactions on its path", on_path)
    assert sum(waits.values()) <= 2 + WAITS_PER_SECOND * seconds, _report("waits", waits)
    assert {method: calls[method] for method in SLACK_CALLS} == SLACK_CALLS
    assert calls["chat.update"] <= SLACK_UPDATES
    assert set(calls) <= {*SLACK_CALLS, "chat.update"}, calls
    assert len(git) <= GIT_RUNS, "\n".join(git)
