"""How long masking takes: a Redactor for N secrets over a 1000-line log (what `/logs` may show).

Every secret is masked in about 20 forms (JSON, URL, hex, base64 at three
alignments in two alphabets), so the pattern grows with the number of secrets.
Prints the time to build the Redactor and to mask the log (target: < 100 ms for
20 secrets, the log of one `/logs 1000`).

    python bench/redact.py [secrets]
"""

from __future__ import annotations

import base64
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatops.domain.redact import MASK, Redactor

TARGET_SECONDS = 0.100


def main(count: int) -> None:
    values = [secrets.token_urlsafe(24) for _ in range(count)]
    lines = [
        f"2026-01-01T09:00:{n % 60:02d}Z INFO GET /api/v1/items?id={n} 200 in {n % 97} ms"
        for n in range(1000)
    ]
    for n, value in enumerate(values):  # a few leaks, as a bot would print them
        basic = base64.b64encode(f"svc:{value}".encode()).decode()
        lines[n * 37 % 1000] += f" token={value} auth=Basic {basic}"
    text = "\n".join(lines)

    started = time.perf_counter()
    redact = Redactor(values)
    built = time.perf_counter() - started
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        masked = redact(text)
        runs.append(time.perf_counter() - started)
    assert not any(v in masked for v in values)
    assert MASK in masked
    best = min(runs)
    print(f"{count} secrets: Redactor built in {built * 1000:.1f} ms")
    print(f"masking {len(lines)} lines ({len(text) // 1024} KiB): {best * 1000:.1f} ms (best of 5)")
    print("OK" if best < TARGET_SECONDS else f"SLOW: over {TARGET_SECONDS * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
