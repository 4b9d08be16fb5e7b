"""Counts a `chatops serve`'s database transactions, for tests/e2e/test_deploy_budget.py.

Python imports `sitecustomize` at start-up from PYTHONPATH; the budget test puts
this directory there for the serve it starts and names a file in
CHATOPS_TEST_TRANSACTIONS. Every transaction begun on any SQLAlchemy engine then
appends one line to that file: the thread that began it, and the two innermost
chatops functions (outside the store adapter) that led to it, e.g.
`chatops-deploy-2  services/attempt.py:check  services/attempt.py:look`. The test
tells the /deploy's transactions from the scheduler's by them. It listens through
SQLAlchemy's own event API, on every Engine; nothing is patched.
"""

from __future__ import annotations

import os

_PATH = os.environ.get("CHATOPS_TEST_TRANSACTIONS", "")

if _PATH:
    import sys
    import threading
    from typing import Any

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _guard = threading.Lock()
    _PACKAGE = f"{os.sep}chatops{os.sep}"
    _STORE = f"{_PACKAGE}adapters{os.sep}db{os.sep}"

    def _callers() -> list[str]:
        found: list[str] = []
        frame = sys._getframe(2)
        while frame is not None and len(found) < 2:
            name = frame.f_code.co_filename
            if _PACKAGE in name and _STORE not in name and "site-packages" not in name:
                found.append(f"{name.rpartition(_PACKAGE)[2]}:{frame.f_code.co_name}")
            frame = frame.f_back
        return found + ["?"] * (2 - len(found))

    def _begin(_connection: Any) -> None:
        line = "\t".join([threading.current_thread().name, *_callers()]) + "\n"
        with _guard, open(_PATH, "a", encoding="utf-8") as out:
            out.write(line)

    event.listen(Engine, "begin", _begin)
