"""``request_id``: one id per request, in the environ, the response and every log record.

An incoming ``X-Request-ID`` is reused when it is short and made of safe
characters (a proxy or load balancer set it); otherwise a random one is made.
The id is stored in ``environ["webkit_app.request_id"]`` (:data:`ENVIRON_KEY`),
sent back in the same header, and visible to :class:`RequestIdFilter` while
the app runs and while its body is iterated.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ._wsgi import IterProxy, runs_no_code

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "ENVIRON_KEY",
    "RequestId",
    "RequestIdFilter",
    "current_request_id",
    "ensure_request_id",
    "get_request_id",
    "new_request_id",
    "request_id",
]

ENVIRON_KEY = "webkit_app.request_id"
# NOTE: an incoming id lands in logs and response headers: short, ASCII, no
# spaces, quotes or control characters.
_SAFE_ID = re.compile(r"[A-Za-z0-9._~:+/=@-]{1,128}").fullmatch
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
_current: ContextVar[str | None] = ContextVar("webkit_app.request_id", default=None)


def new_request_id() -> str:
    """Return a fresh random request id (32 hex digits)."""
    # PERF: one os.urandom call per 128 ids, not one each (0.5 us per id).
    # NOTE: next() on a list iterator is atomic, so threads never share an id;
    # the pool is the process's own (its pid is checked: a forked worker,
    # even one forked by a server in C, draws fresh bytes).
    pool = _pool
    rid = next(pool[1], None) if pool[0] == os.getpid() else None
    if rid is None:
        block = secrets.token_hex(16 * _POOL_SIZE)
        ids = iter([block[i:i + 32] for i in range(0, len(block), 32)])
        _pool[:] = [os.getpid(), ids]
        rid = next(ids)
    return rid


_POOL_SIZE = 128
#: [the pid that drew the ids, an iterator over the ids not handed out yet]
_pool: list[Any] = [-1, iter(())]


def get_request_id(environ: WSGIEnvironment) -> str | None:
    """Return the id :class:`RequestId` stored in ``environ``, or ``None``."""
    return environ.get(ENVIRON_KEY)


def ensure_request_id(environ: WSGIEnvironment) -> str:
    """Return the request's id, making and storing one if no middleware did."""
    rid = environ.get(ENVIRON_KEY)
    if rid is None:
        rid = environ[ENVIRON_KEY] = new_request_id()
    return rid


def current_request_id() -> str | None:
    """Return the id of the request being handled in this context, or ``None``."""
    return _current.get()


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id`` on every record (``default`` outside a request).

    Attach it to a handler, so records propagated from any logger get it::

        handler.addFilter(RequestIdFilter())
        handler.setFormatter(logging.Formatter("%(request_id)s %(message)s"))
    """

    def __init__(self, name: str = "", default: str = "-") -> None:
        super().__init__(name)
        self.default = default

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _current.get() or self.default
        return True


class _ContextIter(IterProxy):
    """Iterate and close the body with the request's id current.

    Built while the id is current (``iter()`` of the body may run its code).
    """

    __slots__ = ("_rid",)

    def __init__(self, iterable: Iterable[bytes], rid: str) -> None:
        self._rid = rid
        super().__init__(iterable)

    def __next__(self) -> bytes:
        token = _current.set(self._rid)
        try:
            return next(self._it)
        finally:
            _current.reset(token)

    def close(self) -> None:
        token = _current.set(self._rid)
        try:
            self._close_iterable()
        finally:
            _current.reset(token)


class RequestId:
    """Middleware giving each request an id, reusing a safe incoming one::

        app = request_id(app, header="X-Request-ID")
    """

    def __init__(self, app: WSGIApplication, header: str = "X-Request-ID") -> None:
        if not _HEADER_NAME.fullmatch(header):
            raise ValueError(f"not a header name: {header!r}")
        self.app = app
        self.header = header
        self._drop = frozenset((header.lower(),))
        # PERF: the environ key is computed once, not per request.
        self._environ_key = "HTTP_" + header.upper().replace("-", "_")

    # PERF: a plain WSGI callable: no Request object, no decorator call path.
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        rid = environ.get(self._environ_key)
        if rid is None or _SAFE_ID(rid) is None:
            rid = new_request_id()
        environ[ENVIRON_KEY] = rid
        drop, header = self._drop, self.header

        def start(status: str, headers: list[tuple[str, str]],
                  exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
            # PERF: rewrite_headers' work without its Vary branch, in one comprehension.
            out = [item for item in headers if item[0].lower() not in drop]
            out.append((header, rid))
            return start_response(status, out, exc_info)

        # PERF: one set() and reset() of the variable, not a copied context
        # per request; the body, iterated after this returns (maybe with other
        # requests in between), sets it again for each chunk.
        token = _current.set(rid)
        try:
            app_iter = self.app(environ, start)
            # PERF: such a body runs no code while it is iterated.
            if runs_no_code(app_iter):
                return app_iter
            return _ContextIter(app_iter, rid)
        finally:
            _current.reset(token)


request_id = RequestId
