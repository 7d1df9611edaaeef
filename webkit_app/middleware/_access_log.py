"""``access_log``: one record per request, written when the body is done.

The record is written on the ``webkit_app.access`` logger at INFO when the
body iterator is exhausted, fails or is closed, so duration and bytes cover a
streamed body. The message is the Apache combined format followed by the
duration in milliseconds and the request id::

    127.0.0.1 - alice [23/Nov/2025:21:40:00 +0000] "GET /notes?page=2 HTTP/1.1" 200 512 "-" "curl/8.5" 3.217 4f1c...

and the record carries ``extra`` fields for JSON formatters: ``method``,
``path``, ``status``, ``bytes``, ``duration_ms``, ``request_id`` and
``remote_user``. Everything is read from the raw environ and escaped, so a
path that is not UTF-8 or holds a newline is logged, not crashed on. The
``Authorization`` header, cookies and the body are never logged.

The client address is ``REMOTE_ADDR``; ``X-Forwarded-For`` is believed only
when ``REMOTE_ADDR`` is one of ``trusted_proxies``, and then the client is its
rightmost entry that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable

from ._request_id import ENVIRON_KEY
from ._wsgi import IterProxy, as_tuple, request_target, wsgi_str

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["AccessLog", "access_log"]

_FORMAT = '%s - %s [%s] "%s %s %s" %d %d "%s" "%s" %.3f %s'
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Anything but printable ASCII, and the quote and backslash, is written \xhh
# (as Apache does), so a header cannot forge or break a log line.
_UNSAFE = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')


def _hex(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# PERF: WSGI environ values are latin-1 text; their escapes are one
# str.translate (C speed) instead of a Python callback per character.
_LATIN1_ESCAPES = {code: f"\\x{code:02x}" for code in range(0x100)
                   if _UNSAFE.fullmatch(chr(code))}


def _field(value: str | None) -> str:
    """A log-safe version of an environ value; ``-`` when absent or empty."""
    if not value:
        return "-"
    # PERF: printable ASCII without a quote or backslash (almost every value)
    # is returned as it is; str methods are cheaper than a regex substitution.
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    if max(value) < "\u0100":
        return value.translate(_LATIN1_ESCAPES)
    return _UNSAFE.sub(_hex, value)


def _fields(values: tuple[str | None, ...]) -> list[str]:
    """:func:`_field` of each value."""
    # PERF: one check over all the values together: almost every one is plain.
    joined = "".join(filter(None, values))
    if joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined:
        return [value or "-" for value in values]
    return [_field(value) for value in values]


_clf_cache: tuple[int, str] = (-1, "")


def _clf_time(wall: float) -> str:
    # PERF: formatted once per second, not per record.
    global _clf_cache
    second = int(wall)
    cached = _clf_cache
    if cached[0] != second:
        tm = time.localtime(second)
        cached = _clf_cache = (second, time.strftime(
            f"%d/{_MONTHS[tm.tm_mon - 1]}/%Y:%H:%M:%S %z", tm))
    return cached[1]


#: a record's attributes that differ from one record to the next
_PER_RECORD = ("msg", "args", "created", "msecs", "relativeCreated", "thread", "threadName",
               "processName", "process")


def _record_template(name: str) -> dict[str, Any]:
    """The attributes every access record on logger ``name`` shares, taken
    from a real ``LogRecord`` (so a Python release's new ones come too), and
    the time logging started (``created - relativeCreated``)."""
    record = logging.LogRecord(name, logging.INFO, __file__, 0, _FORMAT, (), None, "_emit")
    template = {k: v for k, v in vars(record).items() if k not in _PER_RECORD}
    template["relativeCreated"] = record.created - record.relativeCreated / 1000.0
    return template


def _access_record(template: dict[str, Any], args: tuple[Any, ...],
                   extra: dict[str, Any]) -> logging.LogRecord:
    """The ``LogRecord`` that ``makeRecord`` would build, made from ``template``."""
    record = logging.LogRecord.__new__(logging.LogRecord)
    now = time.time()
    # PERF: one dict built from the template and extra, given to the record whole.
    attrs = record.__dict__ = {**template, **extra}
    attrs["msg"], attrs["args"], attrs["created"] = _FORMAT, args, now
    attrs["msecs"] = int((now - int(now)) * 1000) + 0.0
    attrs["relativeCreated"] = (now - template["relativeCreated"]) * 1000
    if logging.logThreads:
        attrs["thread"] = threading.get_ident()
        attrs["threadName"] = threading.current_thread().name
    else:
        attrs["thread"] = attrs["threadName"] = None
    attrs["processName"] = _process_name()
    # NOTE: not cached: a server forking in C (uWSGI) runs no at-fork hook.
    attrs["process"] = os.getpid() if logging.logProcesses else None
    return record


def _process_name() -> str | None:
    """``LogRecord.processName``, as the standard constructor finds it."""
    if not logging.logMultiprocessing:
        return None
    mp = sys.modules.get("multiprocessing")
    if mp is not None:
        try:
            name: str = mp.current_process().name
            return name
        except Exception:  # NOTE: as logging: any failure leaves the default
            pass
    return "MainProcess"


class _LoggedIter(IterProxy):
    """One request until its record is written: its status and byte count,
    and then its body, whose bytes it counts; the record is written when the
    body is done (exhausted, failed or closed).

    PERF: one object per request (it wraps ``start_response`` first, the
    body once the app returned it: :meth:`attach`).
    """

    __slots__ = ("_emit", "environ", "wall", "start", "status", "nbytes", "_server_start",
                 "_write", "_done")
    #: see :func:`~webkit_app.middleware._wsgi.runs_no_code`
    runs_own_code_only = True

    def __init__(self, emit: Callable[[_LoggedIter], None], environ: WSGIEnvironment,
                 start_response: StartResponse) -> None:
        self._iterable = None
        self._emit = emit
        self.environ = environ
        self.wall = time.time()
        self.start = time.perf_counter()
        self.status = 0
        self.nbytes = 0
        self._server_start = start_response
        self._write: Callable[[bytes], object] | None = None
        self._done = False

    def attach(self, iterable: Iterable[bytes]) -> _LoggedIter:
        """Take the app's body (closed again if ``iter()`` of it fails)."""
        IterProxy.__init__(self, iterable)
        return self

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: OptExcInfo | None = None) -> Callable[[bytes], None]:
        # NOTE: a later call (an error handler replacing the headers) wins.
        self.status = int(status[:3])
        self._write = self._server_start(status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> None:
        self.nbytes += len(data)
        self._write(data)  # type: ignore[misc]

    def finish(self, failed: bool = False) -> None:
        """Write the record once; a failure before any byte counts as a 500."""
        if self._done:
            return
        self._done = True
        if (failed and not self.nbytes) or not self.status:
            self.status = 500
        self._emit(self)

    def __next__(self) -> bytes:
        try:
            chunk = next(self._it)
        except StopIteration:
            self.finish()
            raise
        except BaseException:
            self.finish(failed=True)
            raise
        self.nbytes += len(chunk)
        return chunk

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.finish()


class AccessLog:
    """Middleware writing one access-log record per request::

        app = access_log(app, logger="webkit_app.access", exclude_paths=("/healthz",))

    ``logger`` is a logger name or a :class:`logging.Logger`; ``exclude_paths``
    are exact paths (``PATH_INFO``) that are not logged, such as health probes;
    ``trusted_proxies`` are the addresses or networks whose ``X-Forwarded-For``
    names the client (none by default: a client can write that header too).
    """

    def __init__(
        self,
        app: WSGIApplication,
        logger: str | logging.Logger = "webkit_app.access",
        exclude_paths: Iterable[str] | str = (),
        trusted_proxies: Iterable[str] | str = (),
    ) -> None:
        self.app = app
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        # PERF: a frozenset of paths in their WSGI (latin-1) form: one lookup.
        self.exclude_paths = frozenset(wsgi_str(p) for p in as_tuple(exclude_paths))
        self.trusted_proxies = tuple(ipaddress.ip_network(n, strict=False)
                                     for n in as_tuple(trusted_proxies))
        self._template = _record_template(self.logger.name)

    # PERF: a plain WSGI callable: no Request object, no decorator call path.
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") in self.exclude_paths:
            return self.app(environ, start_response)
        entry = _LoggedIter(self._emit, environ, start_response)
        try:
            app_iter = self.app(environ, entry.start_response)
        except BaseException:
            entry.finish(failed=True)
            raise
        return entry.attach(app_iter)

    def _emit(self, entry: _LoggedIter) -> None:
        logger = self.logger
        # PERF: nothing is formatted when access logging is switched off.
        if not logger.isEnabledFor(logging.INFO):
            return
        environ = entry.environ
        duration = (time.perf_counter() - entry.start) * 1000.0
        get = environ.get
        client, method, protocol, referer, agent, user, rid = _fields((
            self._client(environ) if self.trusted_proxies else get("REMOTE_ADDR"),
            get("REQUEST_METHOD"), get("SERVER_PROTOCOL"), get("HTTP_REFERER"),
            get("HTTP_USER_AGENT"), get("REMOTE_USER"), get(ENVIRON_KEY)))
        path = request_target(environ, query=False)
        target = request_target(environ) if get("QUERY_STRING") else path
        status, nbytes = entry.status, entry.nbytes
        extra = {
            "method": method, "path": path,
            "status": status, "bytes": nbytes, "duration_ms": round(duration, 3),
            "request_id": None if rid == "-" else rid, "remote_user": None if user == "-" else user,
        }
        args = (client, user, _clf_time(entry.wall), method, target, protocol, status, nbytes,
                referer, agent, duration, rid)
        # PERF: handle() skips logger.info's caller lookup (a stack walk per
        # record; the caller is always this method) and the record is copied
        # from a template: a LogRecord's constructor re-derives a dozen fields.
        if logging.getLogRecordFactory() is logging.LogRecord:
            record = _access_record(self._template, args, extra)
        else:  # NOTE: a factory the application installed makes every record
            record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, _FORMAT, args,
                                       None, "_emit", extra)
        logger.handle(record)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    def _client(self, environ: WSGIEnvironment) -> str | None:
        """``REMOTE_ADDR``, or the client a trusted proxy names in ``X-Forwarded-For``."""
        client: str | None = environ.get("REMOTE_ADDR")
        if not self.trusted_proxies or not client or not self._trusted(client):
            return client
        # NOTE: each proxy appends the peer it saw, so only the entries right of
        # the last untrusted one were written by proxies we trust.
        for hop in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break
            client = hop
            if not self._trusted(hop):
                break
        return client


access_log = AccessLog
