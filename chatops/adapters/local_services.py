"""Private, loopback-only copies of the services chatops talks to, for the demo and the tests.

Each is started from Debian's packages in its own process group, with its own
data directory and a pid file, and stopped by that pid only. Nothing here is
used by `serve` or the operator commands.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LocalService",
    "ServiceUnavailable",
    "free_port",
    "start_dockerd",
    "start_postgres",
    "start_prometheus",
    "start_registry",
    "stop_pidfile",
]

POSTGRES_BIN = Path("/usr/lib/postgresql")


class ServiceUnavailable(RuntimeError):
    """A service could not be started here; the message says what to install."""


@dataclass(slots=True)
class LocalService:
    name: str
    pidfile: Path
    env: dict[str, str] = field(default_factory=dict)
    _stop: Callable[[], None] | None = None
    _start: Callable[[], None] | None = None
    stop_signal: int = signal.SIGTERM

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
        else:
            stop_pidfile(self.pidfile, sig=self.stop_signal)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Stop the process (its data is kept) for the block, then start it again on the same
        address and return once it answers (fault tests take services away under chatops)."""
        if self._start is None:
            raise ServiceUnavailable(f"{self.name} cannot be restarted")
        stop_pidfile(self.pidfile, timeout=60, sig=self.stop_signal)
        try:
            yield
        finally:
            self._start()

    def restart(self) -> None:
        """Stop the process and start it again (see `down`)."""
        with self.down():
            pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, ready: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise ServiceUnavailable(f"{what} did not become ready within {timeout:.0f}s{tail}")


# the services this process started, kept until stopped so that they are reaped, not leaked
_children: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(
    argv: list[str],
    *,
    log: Path,
    pidfile: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> int:
    """Start `argv` in a process group of its own, detached from our stdin; record its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            user=user,
        )
    pidfile.write_text(f"{process.pid}\n")
    _children[process.pid] = process
    return process.pid


def stop_pidfile(pidfile: Path, *, timeout: float = 30.0, sig: int = signal.SIGTERM) -> None:
    """Stop the process group recorded in `pidfile` (`sig`, then KILL), and remove the file."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    child = _children.pop(pid, None)
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    else:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child is not None:
                child.poll()  # reaps it once it has exited
            else:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=10)
    pidfile.unlink(missing_ok=True)


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path is None:
        raise ServiceUnavailable(f"{binary} is not installed: `apt-get install {package}`")
    return path


def start_dockerd(root: Path, *, timeout: float = 60.0) -> LocalService:
    """A Docker Engine of our own (root only): no bridge, no iptables; host networking only."""
    if os.geteuid() != 0:
        raise ServiceUnavailable(
            "no Docker Engine is reachable and a private one needs root: "
            "start Docker (or set DOCKER_HOST), or run as root with Debian's docker.io installed"
        )
    dockerd = _need("dockerd", "docker.io")
    # unix socket paths are limited to ~107 bytes, so the socket lives in a short path
    run = Path(tempfile.mkdtemp(prefix="chatops-dockerd-", dir="/tmp"))
    run.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    socket_path = run / "docker.sock"
    pidfile = root / "dockerd.pid"
    argv = [
        dockerd,
        "--data-root",
        str(root / "data"),
        "--exec-root",
        str(run / "exec"),
        "--host",
        f"unix://{socket_path}",
        "--pidfile",
        str(run / "dockerd-own.pid"),
        "--bridge=none",
        "--iptables=false",
        "--ip-forward=false",
        "--log-level=warn",
    ]
    host = f"unix://{socket_path}"

    def ready() -> bool:
        if not socket_path.exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(str(socket_path))
                sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b"200 OK" in sock.recv(256)
        except OSError:
            return False

    def start() -> None:
        _spawn(argv, log=root / "dockerd.log", pidfile=pidfile)
        try:
            _wait("dockerd", ready, timeout, root / "dockerd.log")
        except ServiceUnavailable:
            stop_pidfile(pidfile)
            raise

    def stop() -> None:
        stop_pidfile(pidfile, timeout=60)
        shutil.rmtree(run, ignore_errors=True)

    start()
    return LocalService("dockerd", pidfile, {"DOCKER_HOST": host}, stop, start)


def start_registry(root: Path, *, port: int | None = None, timeout: float = 30.0) -> LocalService:
    """Debian's docker-registry on 127.0.0.1."""
    binary = _need("docker-registry", "docker-registry")
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    pidfile = root / "registry.pid"

    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /v2/ HTTP/1.0\r\n\r\n")
                return b"200" in sock.recv(64)
        except OSError:
            return False

    def start() -> None:
        _spawn([binary, "serve", str(config)], log=root / "registry.log", pidfile=pidfile)
        try:
            _wait("docker-registry", ready, timeout, root / "registry.log")
        except ServiceUnavailable:
            stop_pidfile(pidfile)
            raise

    start()
    return LocalService("registry", pidfile, {"REGISTRY": f"127.0.0.1:{port}"}, None, start)


def start_prometheus(
    root: Path,
    *,
    targets: list[str],
    scrape_seconds: float = 1.0,
    port: int | None = None,
    timeout: float = 30.0,
) -> LocalService:
    """Debian's prometheus on 127.0.0.1, scraping `targets` (host:port) as job `bots`."""
    binary = _need("prometheus", "prometheus")
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "prometheus.yml"
    listed = ", ".join(f"'{t}'" for t in targets)
    every = f"{max(1, round(scrape_seconds * 1000))}ms"  # Prometheus durations are integers
    config.write_text(
        f"global:\n  scrape_interval: {every}\n  evaluation_interval: {every}\n"
        f"scrape_configs:\n  - job_name: bots\n    static_configs:\n      - targets: [{listed}]\n"
    )
    pidfile = root / "prometheus.pid"
    pid = _spawn(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        log=root / "prometheus.log",
        pidfile=pidfile,
    )

    def ready() -> bool:
        if _children[pid].poll() is not None:
            raise ServiceUnavailable(
                "prometheus exited: "
                + (root / "prometheus.log").read_text(errors="replace")[-2000:]
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /-/ready HTTP/1.0\r\n\r\n")
                return b" 200 " in sock.recv(64)
        except OSError:
            return False

    try:
        _wait("prometheus", ready, timeout, root / "prometheus.log")
    except ServiceUnavailable:
        stop_pidfile(pidfile)
        raise
    return LocalService("prometheus", pidfile, {"PROMETHEUS": f"http://127.0.0.1:{port}"})


def _postgres_bin(name: str) -> str:
    versions = sorted(POSTGRES_BIN.glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    for directory in versions:
        if (directory / name).exists():
            return str(directory / name)
    raise ServiceUnavailable(f"PostgreSQL's {name} is not installed: `apt-get install postgresql`")


def start_postgres(root: Path, *, port: int | None = None, timeout: float = 60.0) -> LocalService:
    """A PostgreSQL cluster of our own on 127.0.0.1 (run as `postgres` when we are root)."""
    initdb, postgres = _postgres_bin("initdb"), _postgres_bin("postgres")
    port = port or free_port()
    user = "postgres" if os.geteuid() == 0 else None
    root.mkdir(parents=True, exist_ok=True)
    # the cluster lives where the postgres user can reach it, whatever the caller's directory
    cluster = Path(tempfile.mkdtemp(prefix="chatops-pg-"))
    cluster.chmod(0o755)
    data = cluster / "data"
    sockets = cluster / "sock"
    sockets.mkdir()
    if user:
        shutil.chown(cluster, user)
        shutil.chown(sockets, user)
    subprocess.run(
        [initdb, "-D", str(data), "-U", "chatops", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        user=user,
    )
    pidfile = root / "postgres.pid"
    argv = [
        postgres,
        "-D",
        str(data),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-k",
        str(sockets),
        "-c",
        "fsync=off",
        "-c",
        "max_connections=200",
    ]

    def ready() -> bool:
        result = subprocess.run(
            [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def start() -> None:
        _spawn(argv, log=root / "postgres.log", pidfile=pidfile, user=user)
        try:
            _wait("postgres", ready, timeout, root / "postgres.log")
        except ServiceUnavailable:
            stop_pidfile(pidfile)
            raise

    start()
    url = f"postgresql+psycopg://chatops@127.0.0.1:{port}/postgres"

    def stop() -> None:
        stop_pidfile(pidfile, timeout=60, sig=signal.SIGINT)
        shutil.rmtree(cluster, ignore_errors=True)

    # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave
    return LocalService(
        "postgres", pidfile, {"POSTGRES_URL": url}, stop, start, stop_signal=signal.SIGINT
    )
