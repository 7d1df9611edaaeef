"""Health checks answering in the IETF ``application/health+json`` format.

Part of the toolkit: the checks registry, the format and two generic checks
(a database reached through any pool with ``connection(timeout=...)``, the
free disk) serve any application. Which checks an application runs, and on
which paths, is the application's choice: the demo wires its own in
:mod:`webkit_app.demo.health`.

``/health/live`` says the process answers and checks nothing; ``/health/ready``
and ``/health`` run every registered check, each with a timeout, and answer
503 when one fails::

    checks = HealthChecks(version="1")
    checks.add("database:responseTime", database_check(pool), component_type="datastore")
    checks.add("disk:free", disk_check("/var/lib/app", 100 * 2**20), component_type="system")
    app.add_route("GET", "/health/live", live)
    app.add_route("GET", "/health/ready", checks.handler)
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, cast

import webob

__all__ = ["HealthChecks", "Observation", "live", "database_check", "disk_check",
           "ConnectionSource", "CONTENT_TYPE", "PASS", "WARN", "FAIL"]

log = logging.getLogger("webkit_app.health")

CONTENT_TYPE = "application/health+json"
PASS, WARN, FAIL = "pass", "warn", "fail"
_RANK = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True, slots=True)
class Observation:
    """What a check saw: its status and, optionally, a value with its unit.

    A check function returns one of these; ``None`` or ``True`` mean pass,
    ``False`` means fail, and an exception is a fail whose message becomes
    the ``output``::

        def queue_check() -> Observation:
            depth = queue.depth()
            return Observation(WARN if depth > 1000 else PASS, depth, "messages")
    """

    status: str = PASS
    value: Any = None
    unit: str | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        if self.status not in _RANK:
            raise ValueError(f"status {self.status!r}: expected pass, warn or fail")


@dataclass(frozen=True, slots=True)
class _Check:
    name: str
    func: Callable[[], Any]
    component_type: str
    timeout: float


def _respond(body: dict[str, Any], status: int) -> webob.Response:
    # NOTE: a plain Response, not webob.exc.HTTPServiceUnavailable: the
    # dispatcher re-renders returned HTTP errors, which would lose this body.
    # NOTE: cast: types-WebOb types charset as str; WebOb takes None (no charset parameter).
    resp = webob.Response(json_body=body, status=status, content_type=CONTENT_TYPE,
                          charset=cast(str, None))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def live(request: webob.Request) -> webob.Response:
    """``/health/live``: 200 ``{"status": "pass"}`` while the process answers; checks nothing."""
    return _respond({"status": PASS}, 200)


class HealthChecks:
    """A registry of health checks and the handler reporting them.

    Each check runs in its own daemon thread; one that exceeds its timeout
    is reported ``fail`` and is not started again until it has finished, so
    a hung dependency costs one thread, not one per probe::

        checks = HealthChecks(version="1", timeout=2.0)
        checks.add("cache:responseTime", ping_cache, component_type="datastore")
        app.route("/health", checks.handler)    # 200, or 503 when a check fails
        checks.run()                            # the health+json document
    """

    def __init__(self, *, timeout: float = 2.0, version: str | None = None,
                 release_id: str | None = None, service_id: str | None = None,
                 description: str | None = None) -> None:
        self.timeout = timeout
        meta = {"version": version, "releaseId": release_id, "serviceId": service_id,
                "description": description}
        self._meta = {k: v for k, v in meta.items() if v is not None}
        self._checks: dict[str, _Check] = {}
        self._running: dict[str, Future[dict[str, Any]]] = {}
        self._last: dict[str, str] = {}
        self._lock = threading.Lock()
        self._started = False

    def add(self, name: str, func: Callable[[], Any], *, component_type: str = "component",
            timeout: float | None = None) -> None:
        """Register ``func`` under ``name`` (``"component:measurement"``), before the first run."""
        if self._started:
            raise RuntimeError(f"health check {name!r} added after the first run")
        if not name or name in self._checks:
            raise ValueError(f"health check name {name!r} is empty or already taken")
        timeout = self.timeout if timeout is None else timeout
        if not timeout > 0:
            raise ValueError(f"timeout={timeout!r}: expected a number of seconds > 0")
        self._checks[name] = _Check(name, func, component_type, float(timeout))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._checks)

    def run(self) -> dict[str, Any]:
        """Run every check at once; return the ``application/health+json`` document."""
        self._started = True
        started = time.monotonic()
        pending = [(check, self._start(check)) for check in self._checks.values()]
        results: dict[str, list[dict[str, Any]]] = {}
        for check, future in pending:
            remaining = check.timeout - (time.monotonic() - started)
            try:
                entry = future.result(timeout=max(0.0, remaining))
            except TimeoutError:
                entry = _entry(check, Observation(FAIL, output=f"timed out after "
                                                  f"{check.timeout:g} s"), _now(), None)
            results[check.name] = [entry]
            self._log_change(check.name, entry)
        status = max((e[0]["status"] for e in results.values()), key=_RANK.__getitem__,
                     default=PASS)
        body: dict[str, Any] = {"status": status, **self._meta}
        if results:
            body["checks"] = results
        return body

    def handler(self, request: webob.Request) -> webob.Response:
        """``/health/ready`` and ``/health``: the document, 200 (pass, warn) or 503 (fail)."""
        body = self.run()
        return _respond(body, 503 if body["status"] == FAIL else 200)

    def _start(self, check: _Check) -> Future[dict[str, Any]]:
        with self._lock:
            future = self._running.get(check.name)
            if future is None or future.done():
                future = _in_thread(lambda: _observe(check), f"health:{check.name}")
                self._running[check.name] = future
        return future

    def _log_change(self, name: str, entry: dict[str, Any]) -> None:
        # NOTE: probes come every few seconds; log changes, not every result
        status, before = entry["status"], self._last.get(name, PASS)
        self._last[name] = status
        if status != before:
            level = logging.INFO if status == PASS else logging.WARNING
            log.log(level, "health check %s: %s -> %s %s", name, before, status,
                    entry.get("output", ""))


def _in_thread(func: Callable[[], dict[str, Any]], name: str) -> Future[dict[str, Any]]:
    # NOTE: not a ThreadPoolExecutor: its threads are joined at exit, so a
    # hung check would keep the server from stopping. A daemon thread is not.
    # PERF: one short-lived thread per check per probe; probes are rare.
    future: Future[dict[str, Any]] = Future()

    def target() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(func())
        except BaseException as exc:  # pragma: no cover - _observe catches Exception
            future.set_exception(exc)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _observe(check: _Check) -> dict[str, Any]:
    stamp, started = _now(), time.perf_counter()
    try:
        result = check.func()
        if isinstance(result, Observation):
            obs = result
        elif result is None or result is True:
            obs = Observation(PASS)
        elif result is False:
            obs = Observation(FAIL, output="check returned False")
        else:
            obs = Observation(PASS, result)
    except Exception as exc:
        log.debug("health check %s raised", check.name, exc_info=True)
        obs = Observation(FAIL, output=f"{type(exc).__name__}: {exc}"[:500])
    return _entry(check, obs, stamp, (time.perf_counter() - started) * 1000)


def _entry(check: _Check, obs: Observation, stamp: str, ms: float | None) -> dict[str, Any]:
    value = obs.value
    if not isinstance(value, int | float | str | bool | None):
        value = str(value)  # NOTE: the document must stay JSON
    entry = {"componentType": check.component_type, "observedValue": value,
             "observedUnit": obs.unit, "status": obs.status, "time": stamp,
             "output": obs.output, "duration_ms": None if ms is None else round(ms, 3)}
    return {k: v for k, v in entry.items() if v is not None}


# -- built-in checks -------------------------------------------------------------


class ConnectionSource(Protocol):
    """What :func:`database_check` needs of a pool: a connection, waiting at
    most ``timeout`` seconds (:class:`webkit_app.pool.ConnectionPool` has it)."""

    def connection(self, timeout: float | None = None) -> AbstractContextManager[Any]: ...


def database_check(pool: ConnectionSource, *,
                   checkout_timeout: float = 0.5) -> Callable[[], Observation]:
    """``SELECT 1`` through ``pool``, waiting at most ``checkout_timeout`` for a connection.

    Observes the round trip in milliseconds; an exhausted pool is a fail.
    """
    from .pool import select_one  # NOTE: the pool module only when a database is checked

    def check() -> Observation:
        started = time.perf_counter()
        with pool.connection(timeout=checkout_timeout) as conn:
            select_one(conn)
        return Observation(PASS, round((time.perf_counter() - started) * 1000, 3), "ms")
    return check


def disk_check(path: str, min_free_bytes: int, *,
               warn_free_bytes: int | None = None) -> Callable[[], Observation]:
    """Free bytes on ``path``'s file system: fail below ``min_free_bytes``, warn below
    ``warn_free_bytes``."""
    def check() -> Observation:
        free = shutil.disk_usage(path).free
        if free < min_free_bytes:
            return Observation(FAIL, free, "bytes", f"{free} bytes free, below {min_free_bytes}")
        if warn_free_bytes is not None and free < warn_free_bytes:
            return Observation(WARN, free, "bytes", f"{free} bytes free, below {warn_free_bytes}")
        return Observation(PASS, free, "bytes")
    return check
