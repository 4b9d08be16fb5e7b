"""What a hostile body costs `chatops serve`: a 400 MB POST to /webhooks/git, declared and streamed.

Starts `chatops serve` (no Docker needed) and sends, to the git webhook:

1. headers declaring a 400 MB body, and no body: how long until the answer;
2. a 400 MB body streamed in chunks (no Content-Length): how much of it is sent
   before the answer, and the serve process's peak memory (VmHWM) before and after;
3. a body that stalls after one byte: how long until serve gives up on it.

    python bench/http_edge.py
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatops.adapters.db.schema import upgrade
from tests.e2e.serving import Served

SECRET = "bench-secret"  # noqa: S105 (a throwaway webhook secret)
BODY = 400 * 1024 * 1024
CHUNK = 1024 * 1024


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve_pid(served: Served) -> int:
    """The pid of the serve process itself (python -m chatops)."""
    assert served.process is not None
    return served.process.pid


def request(port: int, headers: bytes) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=60)
    client.sendall(b"POST /webhooks/git HTTP/1.1\r\nHost: bench\r\n" + headers)
    return client


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = root / "chatops.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database_url": "sqlite:///chatops.db",
                    "workdir": "work",
                    "environments": {"staging": {"deployers": ["*"]}},
                }
            )
        )
        upgrade(f"sqlite:///{root / 'chatops.db'}")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_"))}
        env["CHATOPS_GIT_WEBHOOK_SECRET"] = SECRET
        env["CHATOPS_HTTP_BODY_TIMEOUT_SECONDS"] = "5"
        served = Served(config, env).start()
        try:
            pid = serve_pid(served)
            before = peak_rss_mb(pid)

            started = time.perf_counter()
            with request(served.port, f"Content-Length: {BODY}\r\n\r\n".encode()) as client:
                answer = client.recv(4096).split(b"\r\n", 1)[0].decode()
            declared = time.perf_counter() - started
            print(
                f"declared {BODY >> 20} MB, no body sent: {answer!r} after {declared * 1000:.0f} ms"
            )

            sent = 0
            with request(served.port, b"Transfer-Encoding: chunked\r\n\r\n") as client:
                chunk = b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n"
                try:
                    while sent < BODY:
                        client.sendall(chunk)
                        sent += CHUNK
                except OSError:
                    pass  # serve answered and closed the connection
                client.settimeout(10)
                try:
                    answer = client.recv(4096).split(b"\r\n", 1)[0].decode()
                except OSError as exc:
                    answer = f"no answer read ({exc.__class__.__name__})"
            after = peak_rss_mb(pid)
            print(
                f"streamed {BODY >> 20} MB chunked: {answer!r} after {sent >> 20} MB sent; "
                f"serve's peak RSS {before:.0f} MB before, {after:.0f} MB after"
            )

            started = time.perf_counter()
            with request(served.port, b"Content-Length: 100\r\n\r\n{") as client:
                answer = client.recv(4096).split(b"\r\n", 1)[0].decode()
            stalled = time.perf_counter() - started
            print(f"body stalled after 1 byte: {answer!r} after {stalled:.1f} s (timeout 5 s)")
        finally:
            served.stop()


if __name__ == "__main__":
    main()
