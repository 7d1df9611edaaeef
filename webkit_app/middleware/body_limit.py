"""``body_limit``: the request body limit of :class:`~webkit_app.App`, for any WSGI app.

An ``App`` enforces its own ``max_body_size``; this middleware gives the
same limit to an app that is not one (a Pyramid app, a plain WSGI callable)::

    app = body_limit(pyramid_app, max_size=10 * 1024 * 1024)

- a ``Content-Length`` over ``max_size`` is a 413 before the app runs, and
  one that is not ASCII digits a 400 (``int()`` would take ``+3`` or ``1_0``);
- a body without a length (chunked) is counted while the app reads it: the
  read that passes ``max_size`` raises ``webob.exc.HTTPRequestEntityTooLarge``,
  which :mod:`~webkit_app.middleware.errors` above renders as a 413;
- ``webkit_app.max_body_size`` is set in the environ, so toolkit requests
  further in (``request.json``, ``request.POST``) apply the same limit.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from webob.exc import HTTPBadRequest, HTTPRequestEntityTooLarge

from ..body import content_length
from ..httperror import render_http_error
from ..request import MAX_BODY_KEY
from ._wsgi import wsgify

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from webob import Request

__all__ = ["BodyLimit", "LimitedInput", "body_limit"]


class LimitedInput:
    """A ``wsgi.input`` that raises 413 once more than ``limit`` bytes were read."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream, self._limit, self.count = stream, limit, 0

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self._limit:
            raise HTTPRequestEntityTooLarge(f"Request body exceeds {self._limit} bytes")
        return data

    def _size(self, size: int | None) -> int:
        # NOTE: one byte past the limit is enough to know it was passed.
        room = self._limit - self.count + 1
        return room if size is None or size < 0 else min(size, room)

    def read(self, size: int | None = -1) -> bytes:
        return self._counted(self._stream.read(self._size(size)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self._stream.readline(self._size(size)))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> LimitedInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


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
            length = content_length(environ)
        except HTTPBadRequest as exc:
            return render_http_error(exc, environ)
        if length is None:
            # NOTE: no length (chunked, or a server that marks input terminated):
            # counted as read; the server already bounds a body that has one.
            environ["wsgi.input"] = LimitedInput(environ["wsgi.input"], limit)
        elif length > limit:
            exc = HTTPRequestEntityTooLarge(f"Request body of {length} bytes exceeds {limit}")
            return render_http_error(exc, environ)
        return self.app


body_limit = BodyLimit
