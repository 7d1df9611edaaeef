"""The in-process harness: WSGI apps called directly, no socket.

Every request gets a fresh environ (a copy of the workload's template with a
new ``wsgi.input``); the body is iterated to the end and closed, as a server
does. Subjects run round-robin, each for a fixed time per round, and the best
round is kept::

    apps = {"raw": build("raw"), "webob": build("webob")}
    for w in WORKLOADS:
        for app in apps.values():
            check(app, w)                       # correct before it is timed
    best = run_rounds(apps, WORKLOADS, rounds=5, seconds=0.3)
    best["raw", "hello"]                        # requests per second
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from .subjects import DEEP_ROUTES, HELLO

__all__ = ["Workload", "WORKLOADS", "BenchError", "environ_for", "call", "check", "run",
           "measure", "run_rounds"]


class BenchError(AssertionError):
    """A subject answered a workload wrongly."""


@dataclass(frozen=True)
class Workload:
    """One request and the answer every subject must give."""

    name: str
    method: str
    path: str
    status: int
    kind: str  # "text", "json" or "any" (only the status is checked)
    expected: Any = None
    query: str = ""
    body: bytes = b""
    content_type: str = ""


_ECHO = {"name": "wsgi", "tags": ["a", "b"], "count": 3, "ok": True}

WORKLOADS: tuple[Workload, ...] = (
    Workload("hello", "GET", "/hello", 200, "text", HELLO),
    Workload("param", "GET", "/users/42", 200, "json", {"id": 42}),
    Workload("deep", "GET", f"/r{DEEP_ROUTES - 1}/abc", 200, "text", "abc"),
    Workload("query", "GET", "/search", 200, "json", {"q": "wsgi", "page": "2"},
             query="q=wsgi&page=2"),
    Workload("json", "POST", "/echo", 200, "json", _ECHO,
             body=json.dumps(_ECHO).encode(), content_type="application/json"),
    Workload("notfound", "GET", "/no/such/page", 404, "any"),
)


def environ_for(w: Workload) -> dict[str, Any]:
    """The environ a server would build for ``w``, without ``wsgi.input``."""
    env = {
        "REQUEST_METHOD": w.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": w.path,
        "QUERY_STRING": w.query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "54321",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench/1.0",
        "HTTP_ACCEPT": "*/*",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate",
        "HTTP_CONNECTION": "keep-alive",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if w.method == "POST":
        env["CONTENT_LENGTH"] = str(len(w.body))
        env["CONTENT_TYPE"] = w.content_type
    return env


def call(app: Callable, w: Workload) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send ``w`` once; return status code, headers and the whole body."""
    seen: list[Any] = []

    def start_response(status, headers, exc_info=None):
        seen[:] = [status, headers]
        return lambda data: chunks.append(data)

    chunks: list[bytes] = []
    env = environ_for(w)
    env["wsgi.input"] = BytesIO(w.body)
    body = app(env, start_response)
    try:
        chunks.extend(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    if not seen:
        raise BenchError(f"{w.name}: start_response was never called")
    return int(seen[0][:3]), seen[1], b"".join(chunks)


def check(app: Callable, w: Workload) -> None:
    """Raise :class:`BenchError` unless ``app`` answers ``w`` correctly."""
    status, headers, body = call(app, w)
    if status != w.status:
        raise BenchError(f"{w.name}: status {status}, expected {w.status}: {body[:200]!r}")
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    length = next((v for k, v in headers if k.lower() == "content-length"), None)
    if length is not None and int(length) != len(body):
        raise BenchError(f"{w.name}: Content-Length {length} but {len(body)} bytes")
    if w.kind == "text":
        if not ctype.startswith("text/plain") or body != w.expected.encode():
            raise BenchError(f"{w.name}: {ctype!r} {body[:200]!r}, expected text {w.expected!r}")
    elif w.kind == "json":
        if not ctype.startswith("application/json") or json.loads(body) != w.expected:
            raise BenchError(f"{w.name}: {ctype!r} {body[:200]!r}, expected JSON {w.expected!r}")


def _start_response(status, headers, exc_info=None):
    return _write


def _write(data: bytes) -> None:
    pass


def run(app: Callable, w: Workload, n: int) -> None:
    """Send ``w`` to ``app`` ``n`` times: a fresh environ each, body consumed and closed."""
    template, data = environ_for(w), w.body
    start_response = _start_response
    for _ in range(n):
        env = template.copy()
        env["wsgi.input"] = BytesIO(data)
        body = app(env, start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()


def measure(app: Callable, w: Workload, seconds: float) -> float:
    """Requests per second of ``app`` on ``w`` over about ``seconds``."""
    batch, done = 16, 0
    gc.collect()
    start = time.perf_counter()
    while True:
        run(app, w, batch)
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed
        # NOTE: batches of about 20 ms keep the clock reads out of the figure.
        batch = max(16, min(batch * 2, int(done / elapsed * 0.02)))


def run_rounds(apps: dict[str, Callable], workloads: Iterable[Workload], rounds: int,
               seconds: float, progress: Callable[[str], None] | None = None,
               ) -> dict[tuple[str, str], float]:
    """Best requests per second for each ``(subject, workload)``, round-robin.

    Each round runs every workload on every subject; the subject order turns
    by one each round, so none always runs first after a change of workload.
    """
    best: dict[tuple[str, str], float] = {}
    names = list(apps)
    workloads = list(workloads)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for w in workloads:
            for name in order:
                rps = measure(apps[name], w, seconds)
                best[name, w.name] = max(best.get((name, w.name), 0.0), rps)
        if progress is not None:
            progress(f"round {r + 1}/{rounds} done")
    return best
