"""``body_limit``: the request body limit of :class:`~webkit_app.App`, for any WSGI app.

An ``App`` enforces its own ``max_body_size``; this middleware gives the
same limit to an app that is not one (a Pyramid app, a plain WSGI callable)::

    app = body_limit(pyramid_app, max_size=10 * 1024 * 1024)

- a ``Content-Length`` over ``max_size`` is a 413 before the app runs, and
  one that is not ASCII digits a 400 (``int()`` would take ``+3`` or ``1_0``);
- a body without a length (chunked) is counted while the app reads it: the
  read that passes ``max_size`` raises ``webob.exc.HTTPRequestEntityTooLarge``,
  which :func:`~webkit_app.middleware.errors` above renders as a 413;
- ``webkit_app.max_body_size`` is set in the environ, so toolkit requests
  further in (``request.json``, ``request.POST``) apply the same limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from webob.exc import HTTPBadRequest, HTTPRequestEntityTooLarge

from ..body import LimitedInput, declared_length
from ..httperror import render_http_error
from ..request import MAX_BODY_KEY
from ._wsgi import wsgify

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from webob import Request

__all__ = ["BodyLimit", "LimitedInput", "body_limit"]


class BodyLimit:
    """Middleware refusing request bodies over ``max_size`` bytes (413)."""

    def __init__(self, app: WSGIApplication, max_size: int | str = 10 * 1024 * 1024) -> None:
        size = int(max_size) if isinstance(max_size, str) and max_size.isdigit() else max_size
        if type(size) is not int or size < 0:
            raise ValueError(f"max_size: expected a number of bytes, got {max_size!r}")
        self.app, self.max_size = app, size

    @wsgify
    def __call__(self, req: Request) -> WSGIApplication:
        environ, limit = req.environ, self.max_size
        environ[MAX_BODY_KEY] = min(limit, environ.get(MAX_BODY_KEY, limit))
        try:
            length = declared_length(environ, limit)
        except (HTTPBadRequest, HTTPRequestEntityTooLarge) as exc:
            return render_http_error(exc, environ)
        if length is None:
            # NOTE: no length (chunked, or a server that marks input terminated):
            # counted as read; the server already bounds a body that has one.
            environ["wsgi.input"] = LimitedInput(environ["wsgi.input"], limit)
        return self.app


body_limit = BodyLimit
