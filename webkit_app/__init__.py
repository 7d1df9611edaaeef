"""webkit_app: a WebOb request/response toolkit.

Handlers are plain functions ``handler(request) -> Response``; :class:`App`
dispatches to them; middleware lives in :mod:`webkit_app.middleware`.

This package is the toolkit: it imports WebOb, multipart and the standard
library, nothing else. The adapters (:mod:`webkit_app.pyramid`,
:mod:`webkit_app.paste`, :mod:`webkit_app.server`, :mod:`webkit_app.cli`,
:mod:`webkit_app.testing`) need their extras; the reference service lives
in :mod:`webkit_app.demo`.
"""

from .app import ANY_METHOD, App, RouteInfo
from .body import UploadedFile
from .dec import wsgify
from .health import HealthChecks
from .httperror import render_http_error
from .request import Request
from .response import (
    ClosingIterator,
    Response,
    UnsafeRedirect,
    html_response,
    json_response,
    redirect,
    stream,
    text_response,
)
from .routing import new_converter
from .views import request_view

__all__ = [
    "ANY_METHOD",
    "App",
    "ClosingIterator",
    "HealthChecks",
    "Request",
    "Response",
    "RouteInfo",
    "UnsafeRedirect",
    "UploadedFile",
    "html_response",
    "json_response",
    "new_converter",
    "redirect",
    "render_http_error",
    "request_view",
    "stream",
    "text_response",
    "wsgify",
]

