"""Rendering ``webob.exc`` HTTP errors as JSON, HTML or plain text.

One place decides how a 4xx/5xx looks, for the dispatcher and the ``errors``
middleware alike: the status line and title come from ``webob.exc``, the
format from the request's ``Accept`` header (JSON when the client does not
care), and every value is escaped for the format it lands in.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

import webob
from webob.acceptparse import create_accept_header
from webob.exc import HTTPException, WSGIHTTPException

from .response import Response, body_response, check_sendable, merge_vary

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["render_http_error", "render_error", "handler_response", "call_handler", "negotiate", "JSON_TYPE"]

JSON_TYPE = "application/json"
_OFFERS = (JSON_TYPE, "text/html", "text/plain")
_FORMAT_CACHE: dict[str | None, str] = {None: JSON_TYPE, "*/*": JSON_TYPE, "": JSON_TYPE}
# NOTE: the cache is keyed by client data: at most _CACHE_ENTRIES keys of at
# most _CACHE_KEY_CHARS characters (about 100 KB); browsers send under 200.
_CACHE_ENTRIES = 256
_CACHE_KEY_CHARS = 256
_SKIP_HEADERS = frozenset(("content-type", "content-length"))


def negotiate(accept: str | None) -> str:
    """Pick JSON, HTML or plain text for an ``Accept`` header value."""
    fmt = _FORMAT_CACHE.get(accept)
    if fmt is None:
        offers = create_accept_header(accept).acceptable_offers(_OFFERS)
        fmt = offers[0][0] if offers else JSON_TYPE
        # PERF: clients send few distinct values; longer ones are parsed each time.
        if len(_FORMAT_CACHE) < _CACHE_ENTRIES and len(accept or "") <= _CACHE_KEY_CHARS:
            _FORMAT_CACHE[accept] = fmt
    return fmt


def error_detail(exc: WSGIHTTPException) -> str:
    """The human-readable detail of ``exc``, without WebOb's HTML markup."""
    detail = exc.detail if exc.detail is not None else exc.explanation
    return " ".join(str(detail or "").split())


def render_http_error(
    exc: WSGIHTTPException, environ: WSGIEnvironment, extra: dict[str, Any] | None = None
) -> Response:
    """Return a response for ``exc`` in the format the client accepts.

    ``extra`` adds members to the JSON body (for example ``request_id``) and
    a line to the HTML and text bodies.
    """
    headers = [(n, v) for n, v in exc.headerlist if n.lower() not in _SKIP_HEADERS]
    return render_error(exc.code, exc.title, error_detail(exc), environ, headers, extra)


def call_handler(call: Callable[[], Any], environ: WSGIEnvironment, source: str,
                 on_error: Callable[[BaseException], Any] | None = None) -> Any:
    """Call a handler (``call()``) and return what goes to the server: a
    raised ``webob.exc`` is its own response, an exception ``on_error``
    answers (not ``None``) becomes that answer, anything else propagates;
    the result is checked by :func:`handler_response`. One place for the
    App's adapters: ``wsgify`` and the Pyramid views."""
    try:
        resp = call()
    except Exception as exc:
        handled = on_error(exc) if on_error is not None else None
        if handled is not None:
            return handled
        if not isinstance(exc, HTTPException):
            raise
        resp = exc.wsgi_response  # NOTE: a WSGIHTTPException is its own
    return handler_response(resp, environ, source)


@overload
def handler_response(resp: webob.Response, environ: WSGIEnvironment,
                     source: str) -> webob.Response: ...
@overload
def handler_response(resp: object, environ: WSGIEnvironment, source: str) -> object: ...
def handler_response(resp: object, environ: WSGIEnvironment, source: str) -> object:
    """What goes to the server for a response a handler returned or raised.

    A ``webob.exc`` 4xx/5xx is rendered by :func:`render_http_error`; any other
    ``webob.Response`` not built by the toolkit (whose setters check nothing)
    has its status and headers checked, ``ValueError`` naming ``source``
    otherwise; everything else is returned as it is.
    """
    if isinstance(resp, WSGIHTTPException):
        if resp.code >= 400:
            return render_http_error(resp, environ)
        if resp.location:
            return _redirect(resp, source)
    if resp.__class__ is not Response and isinstance(resp, webob.Response):
        check_sendable(resp.status, resp.headerlist, source)
    return resp


def _redirect(exc: WSGIHTTPException, source: str) -> Response:
    """A raised or returned ``webob.exc`` redirect as a toolkit :class:`Response`:
    its headers checked, and its Location kept relative (WebOb's own would make
    it absolute with the client's Host)."""
    check_sendable(exc.status, exc.headerlist, source)
    headers = [(n, v) for n, v in exc.headerlist if n.lower() not in _SKIP_HEADERS]
    return body_response(f"{exc.status}\n".encode(), exc.code, "text/plain; charset=UTF-8",
                         headers)


def render_error(
    code: int, title: str, detail: str, environ: WSGIEnvironment,
    headers: list[tuple[str, str]] | None = None, extra: dict[str, Any] | None = None,
) -> Response:
    """The error body for ``code`` in the format the client accepts, with
    ``headers`` added and ``Vary: Accept`` merged into any ``Vary`` given."""
    fmt = negotiate(environ.get("HTTP_ACCEPT"))
    if fmt == JSON_TYPE:
        doc = {"status": code, "title": title, "detail": detail}
        if extra:
            doc.update(extra)
        body, ctype = json.dumps(doc).encode("utf-8"), JSON_TYPE
    elif fmt == "text/html":
        more = "".join(
            f"<p>{html.escape(str(k))}: {html.escape(str(v))}</p>" for k, v in (extra or {}).items()
        )
        page = (
            f"<!DOCTYPE html>\n<html><head><title>{code} {html.escape(title)}</title></head>"
            f"<body><h1>{code} {html.escape(title)}</h1><p>{html.escape(detail)}</p>{more}"
            "</body></html>\n"
        )
        body, ctype = page.encode("utf-8"), "text/html; charset=utf-8"
    else:
        more = "".join(f"{k}: {v}\n" for k, v in (extra or {}).items())
        body = f"{code} {title}\n\n{detail}\n{more}".encode("utf-8")
        ctype = "text/plain; charset=utf-8"
    return body_response(body, code, ctype, _with_vary_accept(headers or []))


def _with_vary_accept(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with their ``Vary`` values merged into one, after ``Accept``."""
    if not headers:  # PERF: a 404's, and most error pages'
        return [("Vary", "Accept")]
    varies = [value for name, value in headers if name.lower() == "vary"]
    out = [(name, value) for name, value in headers if name.lower() != "vary"]
    out.append(("Vary", merge_vary(("Accept", *varies))))
    return out
