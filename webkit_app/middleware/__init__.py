"""WSGI middleware, one private module per concern, and :func:`stack` to compose them.

This package is the public API: import every name from ``webkit_app.middleware``
(the ``_``-prefixed modules behind it may move). No submodule is reached under a
public name: ``webkit_app.middleware.request_id`` is the middleware, not a module.

Each middleware is called as ``middleware(app, **config)`` and returns a WSGI
app; none buffers a streamed body, and all forward ``close()``. A stack reads
top-down in the order a request passes through it::

    from webkit_app.middleware import access_log, basic_auth, cors, errors, request_id, stack

    application = stack(
        app,
        request_id,                                   # outermost: ids every log record
        access_log,                                   # sees the final status, 500s included
        (cors, {"allow_origins": ("https://app.example.com",)}),
        errors,                                       # errors below get CORS headers
        (basic_auth, {"users": users, "protect": ("/admin",)}),
    )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Union

from ..settings import MASK
from ._access_log import AccessLog, access_log
from ._basic_auth import BasicAuth, basic_auth, check_password, hash_password, load_htpasswd
from ._body_limit import BodyLimit, body_limit
from ._cors import CORS, cors
from ._cross_origin import CrossOrigin, cross_origin
from ._errors import ErrorMiddleware, display_value, errors, is_secret_key
from ._request_id import (
    ENVIRON_KEY,
    RequestId,
    RequestIdFilter,
    current_request_id,
    get_request_id,
    request_id,
)
from ._session import Session, SessionCookie, SessionMiddleware, SessionTooLarge, session
from ._wsgi import SECRET_WORDS, mask_params

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = [
    "CORS",
    "ENVIRON_KEY",
    "MASK",
    "SECRET_WORDS",
    "AccessLog",
    "BasicAuth",
    "BodyLimit",
    "CrossOrigin",
    "ErrorMiddleware",
    "Layer",
    "RequestId",
    "RequestIdFilter",
    "Session",
    "SessionCookie",
    "SessionMiddleware",
    "SessionTooLarge",
    "access_log",
    "basic_auth",
    "body_limit",
    "check_password",
    "compose",
    "cors",
    "cross_origin",
    "current_request_id",
    "display_value",
    "errors",
    "is_secret_key",
    "get_request_id",
    "hash_password",
    "load_htpasswd",
    "mask_params",
    "request_id",
    "session",
    "stack",
]

Layer = Union[Callable[..., Any], tuple[Callable[..., Any], Mapping[str, Any]]]


def _as_pair(layer: Layer) -> tuple[Callable[..., Any], Mapping[str, Any]]:
    if isinstance(layer, tuple):
        if len(layer) != 2 or not callable(layer[0]) or not isinstance(layer[1], Mapping):
            raise TypeError(f"a layer pair is (middleware, kwargs), got {layer!r}")
        return layer[0], layer[1]
    if not callable(layer):
        raise TypeError(f"a layer is a middleware or a (middleware, kwargs) pair: {layer!r}")
    return layer, {}


def compose(*layers: Layer) -> Callable[[WSGIApplication], WSGIApplication]:
    """Return a function wrapping an app in ``layers``, the first one outermost::

        wrap = compose(request_id, access_log, (errors, {"debug": True}))
        application = wrap(app)
    """
    pairs = [_as_pair(layer) for layer in layers]

    def wrap(app: WSGIApplication) -> WSGIApplication:
        for middleware, kwargs in reversed(pairs):
            app = middleware(app, **kwargs)
        return app

    return wrap


def stack(app: WSGIApplication, *layers: Layer) -> WSGIApplication:
    """Wrap ``app`` in ``layers``, listed top-down in the order requests pass::

        application = stack(app, request_id, access_log, errors)
    """
    return compose(*layers)(app)
