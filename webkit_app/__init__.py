"""webkit_app: a WebOb request/response toolkit.

Handlers are plain functions ``handler(request) -> Response``; :class:`App`
dispatches to them; middleware lives in :mod:`webkit_app.middleware`.
"""

from .app import ANY_METHOD, App, RouteInfo
from .body import UploadedFile
from .config import Config, ConfigError
from .dec import wsgify
from .health import HealthChecks
from .pool import ConnectionPool, PoolClosed, PoolTimeout
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
from .routing import register_converter
from .views import request_view

__all__ = [
    "ANY_METHOD",
    "App",
    "ClosingIterator",
    "Config",
    "ConfigError",
    "ConnectionPool",
    "HealthChecks",
    "PoolClosed",
    "PoolTimeout",
    "Request",
    "Response",
    "RouteInfo",
    "UnsafeRedirect",
    "UploadedFile",
    "create_app",
    "html_response",
    "json_response",
    "redirect",
    "register_converter",
    "request_view",
    "stream",
    "text_response",
    "wsgify",
]


def create_app(config=None):  # noqa: ANN001, ANN201 - typed in webkit_app.factory
    """Build the demo application behind its middleware stack (see :mod:`webkit_app.factory`)."""
    from .factory import create_app as _create_app

    return _create_app(config)
