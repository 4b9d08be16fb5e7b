"""The sample bot: a static busybox httpd in a `FROM scratch` image with a HEALTHCHECK.

Used by `chatops demo`, the tests and the benchmarks. It needs the statically
linked busybox of Debian's busybox-static, since no public registry (and so no
base image) can be assumed reachable.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["BUSYBOX", "DOCKERFILE", "busybox_path", "write_sample_bot"]

BUSYBOX = Path("/usr/bin/busybox")

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY www /www
ENV PORT=8080
HEALTHCHECK --interval=250ms --timeout=2s --retries=3 \\
  CMD wget -q -O /dev/null "http://127.0.0.1:$PORT/healthz" || exit 1
CMD exec httpd -f -p "127.0.0.1:$PORT" -h /www
"""


def busybox_path() -> Path:
    """The static busybox binary.

    Raises:
        FileNotFoundError: busybox-static is not installed, with the command that installs it.
    """
    if not BUSYBOX.exists():
        raise FileNotFoundError(
            f"{BUSYBOX} is missing: `apt-get install busybox-static` provides the static busybox "
            "the sample bot is built from"
        )
    return BUSYBOX


def write_sample_bot(
    path: Path,
    *,
    message: str = "hello from mybot",
    healthy: bool = True,
    breaks_after: int | None = None,
) -> None:
    """Write (or rewrite) the sample bot's files into the work tree `path`.

    Args:
        message: the text the bot serves at `/`.
        healthy: False writes a release whose health check fails (no `/healthz`).
        breaks_after: a release that is healthy at first and removes its own `/healthz`
            this many seconds after it starts (it passes the health gate, then fails).
    """
    path.mkdir(parents=True, exist_ok=True)
    dockerfile = DOCKERFILE
    if breaks_after is not None:
        dockerfile = dockerfile.replace(
            "CMD exec httpd",
            f"CMD (sleep {int(breaks_after)}; rm -f /www/healthz) & exec httpd",
        )
    (path / "Dockerfile").write_text(dockerfile)
    target = path / "busybox"
    if not target.exists():
        shutil.copy2(busybox_path(), target)
    www = path / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_text(message + "\n")
    health = www / "healthz"
    if healthy:
        health.write_text("ok\n")
    else:
        health.unlink(missing_ok=True)
