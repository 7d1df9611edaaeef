"""``wsgify``: ``webob.dec.wsgify`` with the toolkit's request and error pages.

The same decorator, used the same way, with two differences:

* the function gets a :class:`webkit_app.Request`, so ``req.json``,
  ``req.GET``, ``req.POST`` and ``req.body`` parse strictly (400, 411, 413,
  415 with a message, never a ``ValueError``);
* a ``webob.exc`` 4xx or 5xx it raises or returns is answered as
  :class:`webkit_app.App` answers it (:func:`~webkit_app.httperror.render_http_error`):
  JSON, HTML or plain text by ``Accept``, every value escaped. WebOb's own
  pages put the detail in an HTML template, ``<br />`` included, even in JSON.

A plain ``webob.dec.wsgify`` renders those errors itself before any middleware
sees them, so the ``errors`` middleware cannot re-render them; this one does
not need it to::

    from webkit_app import wsgify

    @wsgify
    def note(req):
        if "id" not in req.GET:
            raise HTTPBadRequest("id is required")   # {"status": 400, ..., "detail": "id is required"}
        return json_response({"id": req.GET["id"]})

    @wsgify.middleware
    def admin_only(req, app):
        if req.remote_user != "admin":
            raise HTTPForbidden("admins only")
        return app

Any other ``webob.Response`` it returns or raises (a redirect, say) has its
status and headers checked as the dispatcher checks them: CR, LF or other
control characters in a header raise ``ValueError`` instead of reaching the
server (the ``errors`` middleware answers it as a logged 500).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import webob.dec

from .httperror import call_handler
from .request import Request

__all__ = ["wsgify"]


# NOTE: types-WebOb's wsgify is generic (handler parameters, request class);
# WebOb's is not, so the parameters exist for the type checker only.
if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    _WebObWsgify = webob.dec.wsgify[[], Request]
    #: what a wsgify function may return (WebOb's rule)
    _Returned = webob.Response | WSGIApplication | str | None
else:
    _WebObWsgify = webob.dec.wsgify


class wsgify(_WebObWsgify):
    """``webob.dec.wsgify`` giving a :class:`~webkit_app.Request` and the toolkit's error pages."""

    RequestClass = Request

    if TYPE_CHECKING:
        # NOTE: typing only: types-WebOb's own __init__ wants a function of a
        # webob.Request; this one takes a function (or method) of the toolkit's.
        def __init__(
            self,
            func: Callable[[Request], _Returned] | Callable[[Any, Request], _Returned] | None = None,
            RequestClass: type[Request] | None = None,
            args: tuple[Any, ...] = (),
            kwargs: dict[str, Any] | None = None,
            middleware_wraps: WSGIApplication | None = None,
        ) -> None: ...

    def call_func(self, req: Any, *args: Any, **kwargs: Any) -> Any:
        call = functools.partial(super().call_func, req, *args, **kwargs)
        return call_handler(call, req.environ, f"wsgify function {self.func!r}")
