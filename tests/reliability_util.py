"""Shared helpers of the reliability tests: the demo on real servers, raw
sockets, worker processes, and a test-only app with fault endpoints.

Servers are started through :mod:`serverutil` (issue 5's helper): each in a
process group of its own, on a free loopback port, killed in ``finally``::

    with demo_server(tmp_path, "gunicorn", WEB_CONCURRENCY="2") as server:
        requests.get(server.url + "/health/live", timeout=5)

The test-only app (``reliability_util:fault_app``) is the demo behind the
production middleware stack plus a few ``/_test/...`` routes that hold a
pool connection, stream slowly, or fail half-way; gunicorn and waitress
import it with ``tests/`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from serverutil import HOST, ServerProcess, free_port, wait_for

__all__ = ["HOST", "Reply", "Server", "demo_server", "exchange", "status_of", "statuses", "worker_pids", "rss_kib",
           "children", "wait_for", "free_port", "HTPASSWD_USER",
           "HTPASSWD_PASSWORD", "write_htpasswd"]

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
HTTP_TIMEOUT = 10.0

#: the user of the htpasswd file the servers here are given
HTPASSWD_USER = "ops"
HTPASSWD_PASSWORD = "c0rrect h\u00f6rse"


def write_htpasswd(path: Path) -> Path:
    """An htpasswd file with :data:`HTPASSWD_USER` (a cheap pbkdf2 hash: tests
    send many requests) and a second user ``other``."""
    from webkit_app.middleware import hash_password

    path.write_text(f"{HTPASSWD_USER}:{hash_password(HTPASSWD_PASSWORD, 'pbkdf2:sha256:1000')}\n"
                    f"other:{hash_password('other-pw', 'pbkdf2:sha256:1000')}\n")
    return path


@dataclass
class Server:
    """A running server: its process, URL, port and folder."""

    process: ServerProcess
    port: int
    dir: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process.proc is not None
        return self.process.proc.pid

    @property
    def output(self) -> str:
        return self.process.output

    @property
    def db_path(self) -> Path:
        return self.dir / "db" / "notes.sqlite3"


def server_env(folder: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a production server with its database in ``folder/db``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DEBUG", "WEB_CONCURRENCY", "WORKERS", "BIND", "WSGI_APP", "CI")}
    (folder / "db").mkdir(parents=True, exist_ok=True)
    (folder / "files").mkdir(parents=True, exist_ok=True)
    env.update(
        SECRET_KEY=secrets.token_urlsafe(32), HOST=HOST, PORT=str(port),
        DATABASE_URL=f"sqlite:///{folder / 'db' / 'notes.sqlite3'}",
        FILES_DIR=str(folder / "files"), LOG_LEVEL="INFO", WEB_CONCURRENCY="2",
        PYTHONDONTWRITEBYTECODE="1", MAX_REQUESTS="0",
        PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    )
    env.update(extra)
    return env


DEMO_APP = "webkit_app.demo.wsgi:application"


def server_argv(kind: str, port: int, app: str | None) -> list[str]:
    if kind == "gunicorn":
        argv = [str(BIN / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py")]
        return argv + ([app] if app else [])
    if kind == "waitress":
        # NOTE: the project's own command, as `make run` serves the demo.
        argv = [sys.executable, "-m", "webkit_app", "serve", "--host", HOST, "--port", str(port)]
        return argv[:4] + [app or DEMO_APP] + argv[4:]
    raise ValueError(f"unknown server {kind!r}")


@contextlib.contextmanager
def demo_server(folder: Path, kind: str = "gunicorn", app: str | None = None,
                ready_path: str = "/health/live", **env: str) -> Iterator[Server]:
    """Serve the demo (or ``app``, ``module:attr``) with ``kind`` on a free port.

    Every process of the server is killed when the block ends, whatever happened.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environ = server_env(folder, port, **env)
    if app and kind == "gunicorn":
        environ["WSGI_APP"] = app
        app = None
    process = ServerProcess(server_argv(kind, port, app), log=folder / f"{kind}.log",
                            env=environ, cwd=folder)
    with process:
        server = Server(process, port, folder)
        process.wait_ready(server.url + ready_path)
        yield server


# -- raw sockets -------------------------------------------------------------------

class Reply(bytes):
    """What a server sent back on one connection; ``closed`` tells whether it
    closed the connection (rather than the read timing out)."""

    closed: bool
    elapsed: float

    @property
    def status(self) -> int | None:
        """The code of the first status line, ``None`` when nothing came back."""
        return status_of(self)


def exchange(port: int, data: bytes, *, timeout: float = 5.0, shut_write: bool = False) -> Reply:
    """Send ``data`` on a new connection and read until the server closes it
    or ``timeout`` seconds pass without a byte.

    ``shut_write`` half-closes the connection after sending: the client has
    no more to say, as when it gives up half-way through a body.
    """
    started = time.monotonic()
    chunks, closed = [], False
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # NOTE: the server may close while we still send
            pass
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, socket.timeout):
                break
            except OSError:  # reset by the server: closed, what came before counts
                closed = True
                break
            if not chunk:
                closed = True
                break
            chunks.append(chunk)
    reply = Reply(b"".join(chunks))
    reply.closed, reply.elapsed = closed, time.monotonic() - started
    return reply


def status_of(response: bytes) -> int | None:
    """The status code of the first response in ``response``; ``None`` if there is none."""
    if not response.startswith(b"HTTP/"):
        return None
    parts = response.split(b"\r\n", 1)[0].split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9]) ")


def statuses(response: bytes) -> list[int]:
    """The codes of every status line in a byte stream (pipelined answers
    follow the previous body without a line break)."""
    return [int(code) for code in _STATUS_LINE.findall(response)]


# -- processes ---------------------------------------------------------------------

def children(pid: int) -> list[int]:
    """Pids of the live direct children of ``pid`` (gunicorn's workers)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return sorted(out)


def worker_pids(server: Server, count: int, timeout: float = 30.0) -> list[int]:
    """Wait until gunicorn's master has ``count`` workers; return their pids."""
    pids = wait_for(lambda: len(children(server.pid)) == count and children(server.pid),
                    timeout)
    assert pids, f"expected {count} workers, got {children(server.pid)}:\n{server.output[-2000:]}"
    return list(pids)  # type: ignore[arg-type]


def rss_kib(pid: int) -> int | None:
    """The resident set size of ``pid`` in KiB (``VmRSS``), ``None`` once it is gone."""
    try:
        for line in Path("/proc", str(pid), "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# -- the test-only app -------------------------------------------------------------

class _Probe:
    """Counters of the ``/_test`` routes in this process (one worker: one probe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.closed: dict[str, int] = {}

    def mark_closed(self, what: str) -> None:
        with self.lock:
            self.closed[what] = self.closed.get(what, 0) + 1


def _build_fault_app():  # a WSGI app
    """The demo behind ``create_app``'s stack, plus test routes (import time: config
    from the environment, as ``webkit_app.demo.wsgi`` does)."""
    from webob.exc import HTTPBadRequest

    from webkit_app import json_response, stream
    from webkit_app.demo import Config, make_demo, make_store
    from webkit_app.demo.factory import wrap
    from webkit_app.settings import configure_logging

    config = Config.from_environ(os.environ)
    configure_logging(config)
    store = make_store(config)
    app = make_demo(config, store=store)
    probe = _Probe()

    def seconds(request, default: float = 1.0) -> float:
        return min(float(request.GET.get("seconds", default)), 30.0)

    def hold(request):
        """Hold a pool connection for ``seconds`` (a slow query)."""
        with store.connection() as conn:
            conn.execute("SELECT 1").fetchone()
            time.sleep(seconds(request))
        return json_response({"held": True})

    def slow(request):
        """Sleep ``seconds`` without the database, then answer."""
        marker = request.GET.get("marker")
        if marker:
            Path(marker).touch()
        time.sleep(seconds(request))
        return json_response({"slept": seconds(request), "pid": os.getpid()})

    def boom(request):
        """A streamed body whose producer fails after three chunks."""
        def chunks():
            for i in range(3):
                yield b"chunk %d\n" % i
            raise RuntimeError("producer failed half-way (a test)")
        return stream(chunks(), on_close=lambda: probe.mark_closed("boom"))

    def trickle(request):
        """Stream for ``seconds`` while holding a pool connection, 8 KiB at a time."""
        stack = contextlib.ExitStack()
        stack.enter_context(store.connection())
        stop = time.monotonic() + seconds(request, 10.0)

        def chunks():
            while time.monotonic() < stop:
                yield b"x" * 8191 + b"\n"
                time.sleep(0.01)

        def release() -> None:
            stack.close()
            probe.mark_closed("trickle")

        return stream(chunks(), on_close=release)

    def upload(request):
        """Read the body while holding a pool connection."""
        try:
            with store.connection():
                size = len(request.body)
        finally:
            probe.mark_closed("upload")
        return json_response({"size": size})

    def raise_(request):
        raise RuntimeError("<script>alert(1)</script> secret=" + config.secret_key[:8])

    def pool(request):
        return json_response({"pool": store.pool.stats(), "closed": dict(probe.closed),
                              "pid": os.getpid()})

    def bad(request):
        raise HTTPBadRequest("a test 400")

    for method, path, handler in (("GET", "/_test/hold", hold), ("GET", "/_test/slow", slow),
                                  ("GET", "/_test/boom", boom), ("GET", "/_test/trickle", trickle),
                                  ("POST", "/_test/upload", upload), ("GET", "/_test/raise", raise_),
                                  ("GET", "/_test/pool", pool), ("GET", "/_test/bad", bad)):
        app.add_route(method, path, handler)
    return wrap(app, config)


def __getattr__(name: str):
    # NOTE: built on first access only, so importing the helpers needs no environment.
    if name == "fault_app":
        value = globals()["fault_app"] = _build_fault_app()
        return value
    raise AttributeError(name)
