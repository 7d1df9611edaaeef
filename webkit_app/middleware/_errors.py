"""``errors``: turn what the app raises into a response, or end it as PEP 3333 says.

* A ``webob.exc`` HTTP exception (raised by the app or while its body is
  iterated) is rendered by :func:`webkit_app.httperror.render_http_error`:
  JSON, HTML or plain text by ``Accept``, as the dispatcher renders it.
* Any other exception is logged with its traceback on the ``webkit_app``
  logger and answered with a generic 500 naming the request id; with
  ``debug=True``, with an HTML page showing the traceback and the environ,
  every value escaped and secrets masked. The page is never interactive.
* Once the first body byte has gone, the status cannot change: the error is
  logged and re-raised with its traceback, so the server closes the connection.

Limitation: only an HTTP exception that reaches this middleware is rendered.
A plain ``webob.dec.wsgify`` app catches the ``webob.exc`` exception it raises
(or takes the one it returns) and calls it as a WSGI app itself, so WebOb
writes its own body: ``{"message": "...<br /><br />...", "code": "404 Not
Found", "title": "Not Found"}`` for JSON, its own HTML or text page otherwise.
What comes back here is a status, headers and a body, no different from an
error page the app built on purpose, and ``WSGIHTTPException.__call__`` (WebOb
1.8) offers no per-request hook, so those responses are not rewritten (that
would take a global patch of ``webob.exc`` or a guess from the body). Decorate
with :class:`webkit_app.wsgify` instead: the same decorator, which renders its
errors as the dispatcher does (a handler of :class:`webkit_app.App`, or a
plain WSGI callable whose exception propagates, are rendered cleanly too)::

    from webkit_app import wsgify

    @wsgify
    def app(req):
        raise HTTPNotFound("no such note")      # {"status": 404, ..., "detail": "no such note"}
"""

from __future__ import annotations

import html
import logging
import re
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable

from webob.exc import HTTPInternalServerError, WSGIHTTPException

from ..httperror import render_http_error
from ..views import SECRET_HEADERS
from ._request_id import ensure_request_id
from ._wsgi import (
    MASK,
    SECRET_WORDS,
    IterProxy,
    as_bool,
    mask_params,
    request_target,
    runs_no_code,
)

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from webob import Response

__all__ = ["ErrorMiddleware", "debug_response", "display_value", "errors", "is_secret_key"]

logger = logging.getLogger("webkit_app")
_GENERIC = "The server encountered an unexpected condition and could not complete the request."
_SECRET_NAME = re.compile(SECRET_WORDS, re.IGNORECASE)
_SIMPLE = (str, bytes, int, float, bool, type(None))
_URL_PASSWORD = re.compile(r"(?<=://)([^/@:\s]*):[^/@\s]*@")
_DEBUG_HEADERS = [
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("X-Content-Type-Options", "nosniff"),
]
_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>500 {title}</title>
<style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f4f4f4;padding:1em;\
overflow:auto}}th{{text-align:left;vertical-align:top;padding-right:1em}}\
td{{font-family:monospace;word-break:break-all}}</style></head>
<body><h1>{title}</h1>
<p><code>{method} {target}</code>, request id <code>{rid}</code>.
Debug mode is on: never enable it in production.</p>
<h2>Traceback</h2><pre>{traceback}</pre>
<h2>Environ</h2><table>
{rows}</table></body></html>
"""


def _safe_str(obj: object) -> str:
    try:
        return str(obj)
    except Exception:  # a broken __str__ must not break the error page
        return f"<unprintable {type(obj).__name__}>"


def is_secret_key(key: str) -> bool:
    """Whether the environ ``key`` holds a credential (``HTTP_AUTHORIZATION``,
    ``HTTP_COOKIE``, ``SECRET_KEY``, ``DB_PASSWORD``...)."""
    if _SECRET_NAME.search(key) is not None:
        return True
    return key.startswith("HTTP_") and key[5:].replace("_", "-").lower() in SECRET_HEADERS


def display_value(key: str, value: Any, limit: int = 2000) -> str:
    """An environ value as a debug page shows it (not escaped): secrets
    masked, passwords in URLs masked, objects by type only, at most ``limit``
    characters. The errors middleware's debug page and the demo's ``/environ``
    both use it, so a value hidden in one is hidden in the other::

        display_value("DATABASE_URL", "postgresql://u:pw@db/app")  # 'postgresql://u:********@db/app'
    """
    if is_secret_key(key):
        return MASK
    if isinstance(value, str):
        text = mask_params(value)
    elif isinstance(value, _SIMPLE) or (
        isinstance(value, tuple) and all(isinstance(v, _SIMPLE) for v in value)
    ):
        text = repr(value)
    else:
        # NOTE: no repr() of objects: a config object's repr may carry its secrets.
        text = f"<{type(value).__module__}.{type(value).__qualname__}>"
    text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    return text if len(text) <= limit else text[:limit] + "..."


def debug_response(exc: BaseException, environ: WSGIEnvironment, rid: str) -> Response:
    """The debug page for ``exc``: HTML, every value escaped, no script, no console."""
    esc = html.escape
    rows = "".join(
        f"<tr><th>{esc(str(key))}</th><td>{esc(display_value(str(key), value))}</td></tr>\n"
        for key, value in sorted(environ.items(), key=lambda item: str(item[0]))
    )
    page = _PAGE.format(
        title=esc(f"{type(exc).__qualname__}: {_safe_str(exc)}"),
        method=esc(str(environ.get("REQUEST_METHOD", ""))),
        target=esc(request_target(environ)),
        rid=esc(rid),
        traceback=esc("".join(traceback.format_exception(exc))),
        rows=rows,
    )
    return HTTPInternalServerError(body=page.encode("utf-8"), content_type="text/html",
                                   charset="utf-8", headers=list(_DEBUG_HEADERS))


class _Call:
    """One request's progress: whether headers were set and the body started."""

    __slots__ = ("_mw", "environ", "_start", "_write", "called", "started")

    def __init__(self, mw: ErrorMiddleware, environ: WSGIEnvironment,
                 start_response: StartResponse) -> None:
        self._mw, self.environ, self._start = mw, environ, start_response
        self._write: Callable[[bytes], object] | None = None
        self.called = self.started = False

    def start_response(self, status: str, headers: list[tuple[str, str]],
                       exc_info: OptExcInfo | None = None) -> Callable[[bytes], None]:
        self.called = True
        self._write = self._start(status, headers, exc_info)
        return self.write

    def write(self, data: bytes) -> None:
        if data:
            self.started = True
        self._write(data)  # type: ignore[misc]

    def recover(self, exc: Exception) -> Iterable[bytes] | None:
        """Start the error response for ``exc``; ``None`` once the body has started."""
        if self.started:
            rid = ensure_request_id(self.environ)
            logger.error("Error after the response started, closing it (request id %s): %s %s",
                         rid, self.environ.get("REQUEST_METHOD"), request_target(self.environ),
                         exc_info=exc, extra={"request_id": rid})
            return None
        resp = self._mw.error_response(exc, self.environ)
        # NOTE: exc_info lets a server replace headers the app already set
        # (a raised exception always has a traceback).
        tb = exc.__traceback__
        exc_info: OptExcInfo | None = (
            (type(exc), exc, tb) if self.called and tb is not None else None)
        start = self._start

        def start_error(status: str, headers: list[tuple[str, str]],
                        _: OptExcInfo | None = None) -> Callable[[bytes], object]:
            return start(status, headers, exc_info)

        return resp(self.environ, start_error)


class _GuardedIter(IterProxy):
    """The app's body; an error before its first byte becomes the error response."""

    __slots__ = ("_call",)

    def __init__(self, iterable: Iterable[bytes], call: _Call) -> None:
        self._call = call
        super().__init__(iterable)

    def __next__(self) -> bytes:
        try:
            chunk = next(self._it)
        except StopIteration:
            raise
        except Exception as exc:
            body = self._call.recover(exc)
            if body is None:
                raise
            self._replace(body)
            return next(self._it, b"")
        if chunk:
            self._call.started = True
        return chunk

    def _replace(self, body: Iterable[bytes]) -> None:
        try:
            self._close_iterable()
        except Exception:
            logger.exception("Error closing a failed response body")
        self._iterable, self._it = body, iter(body)


class ErrorMiddleware:
    """Middleware answering errors cleanly; ``debug=True`` shows a traceback page::

        app = errors(app, debug=False)
    """

    def __init__(self, app: WSGIApplication, debug: bool | str = False) -> None:
        self.app = app
        self.debug = as_bool(debug)

    # PERF: a plain WSGI callable: no Request object, no decorator call path.
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        call = _Call(self, environ, start_response)
        try:
            app_iter = self.app(environ, call.start_response)
            # PERF: nothing that could fail runs while such a body is iterated.
            if runs_no_code(app_iter):
                return app_iter
            return _GuardedIter(app_iter, call)
        except Exception as exc:
            body = call.recover(exc)
            if body is None:
                raise
            return body

    def error_response(self, exc: Exception, environ: WSGIEnvironment) -> Response:
        """The response for ``exc`` (logged unless it is an HTTP exception)."""
        if isinstance(exc, WSGIHTTPException):
            return render_http_error(exc, environ)
        rid = ensure_request_id(environ)
        logger.error("Unhandled exception (request id %s): %s %s", rid,
                     environ.get("REQUEST_METHOD"), request_target(environ),
                     exc_info=exc, extra={"request_id": rid})
        if self.debug:
            return debug_response(exc, environ, rid)
        exc_500 = HTTPInternalServerError(detail=_GENERIC)
        return render_http_error(exc_500, environ, {"request_id": rid})


errors = ErrorMiddleware
