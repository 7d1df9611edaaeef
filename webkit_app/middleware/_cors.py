"""``cors``: the Fetch standard's CORS protocol, deny by default.

* Origins are matched exactly and case-sensitively against ``allow_origins``,
  or must *fully* match one of ``allow_origin_regex`` (an origin over 512
  characters never does); ``Origin: null`` is
  refused unless ``"null"`` is listed; ``"*"`` is refused with credentials.
* A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
  for an allowed origin, method and headers answers 204 without calling the
  app; any other preflight answers 403 with no CORS headers.
* Other responses from an allowed origin get ``Access-Control-Allow-Origin``
  (the origin itself unless ``"*"`` is configured), ``-Expose-Headers`` and
  ``-Allow-Credentials``; error responses from the app included.
* Every response carries ``Vary: Origin`` (rejections too, so a cache never
  serves one origin's answer to another). The middleware owns the
  ``Access-Control-*`` response headers: the app's are replaced, never doubled.
* Private network access (``Access-Control-Allow-Private-Network``) is off
  unless ``allow_private_network=True`` (flask-cors CVE-2024-6221).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING

from webob.exc import HTTPForbidden

from ..httperror import render_http_error
from ._wsgi import as_bool, as_tuple, merge_vary, rewrite_headers, wsgify

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from webob import Request

__all__ = ["CORS", "cors"]

_PREFLIGHT_KEY = "HTTP_ACCESS_CONTROL_REQUEST_METHOD"
# An HTTP token (RFC 9110): what a reflected method or header name must be.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_NO_CONTENT = f"204 {HTTPStatus.NO_CONTENT.phrase}"
# NOTE: a real origin is under 300 characters (scheme, a host of at most 253,
# a port); a longer one is never run through ``allow_origin_regex``, so a
# pattern that backtracks costs a bounded time per request.
_MAX_ORIGIN_CHARS = 512
_VARY = ("Origin",)
_PREFLIGHT_VARY = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers",
                   "Access-Control-Request-Private-Network")
_OWNED = frozenset(name.lower() for name in (
    "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers", "Access-Control-Max-Age",
    "Access-Control-Allow-Private-Network",
))


def _regexes(
    value: str | re.Pattern[str] | Iterable[str | re.Pattern[str]] | None,
) -> tuple[re.Pattern[str], ...]:
    if value is None:
        return ()
    if isinstance(value, (str, re.Pattern)):
        value = (value,)
    return tuple(re.compile(v) for v in value)


def _no_content(headers: list[tuple[str, str]], environ: WSGIEnvironment,
                start_response: StartResponse) -> list[bytes]:
    start_response(_NO_CONTENT, headers)
    return []


class CORS:
    """Middleware answering CORS preflights and decorating cross-origin responses::

        app = cors(app, allow_origins=("https://app.example.com",),
                   allow_methods=("GET", "POST", "DELETE"), allow_headers=("Content-Type",),
                   allow_credentials=True)

    Tuple options also accept comma or whitespace separated strings (ini files).
    """

    def __init__(
        self,
        app: WSGIApplication,
        allow_origins: Iterable[str] | str = (),
        allow_origin_regex: str | re.Pattern[str] | Iterable[str] | None = None,
        allow_methods: Iterable[str] | str = ("GET", "HEAD", "POST"),
        allow_headers: Iterable[str] | str = (),
        expose_headers: Iterable[str] | str = (),
        allow_credentials: bool | str = False,
        max_age: int | str | None = 600,
        allow_private_network: bool | str = False,
    ) -> None:
        origins = as_tuple(allow_origins)
        credentials = as_bool(allow_credentials)
        if "*" in origins and credentials:
            raise ValueError('allow_origins "*" cannot be used with allow_credentials')
        methods = tuple(m.upper() for m in as_tuple(allow_methods))
        headers = tuple(h.lower() for h in as_tuple(allow_headers))
        self.app = app
        self._any_origin = "*" in origins
        self._origins = frozenset(origins) - {"*"}
        self._regexes = _regexes(allow_origin_regex)
        self._any_method, self._methods = "*" in methods, frozenset(methods) - {"*"}
        self._any_header, self._headers = "*" in headers, frozenset(headers) - {"*"}
        self._private_network = as_bool(allow_private_network)
        # PERF: every constant header is built once, here.
        common = [("Access-Control-Allow-Credentials", "true")] if credentials else []
        expose = ", ".join(as_tuple(expose_headers))
        self._actual = common + ([("Access-Control-Expose-Headers", expose)] if expose else [])
        self._preflight = list(common)
        if not self._any_method:
            self._preflight.append(("Access-Control-Allow-Methods", ", ".join(methods)))
        if max_age not in (None, ""):
            self._preflight.append(("Access-Control-Max-Age", str(int(max_age))))
        if headers and not self._any_header:
            self._preflight.append(("Access-Control-Allow-Headers", ", ".join(headers)))
        self._no_cors = partial(self._decorate, ())  # PERF: the same for every such request

    def origin_allowed(self, origin: str) -> bool:
        """Whether ``origin`` (the exact ``Origin`` header value) is allowed."""
        if origin in self._origins:
            return True
        if origin == "null":
            return False
        if self._any_origin:
            return True
        return len(origin) <= _MAX_ORIGIN_CHARS and any(r.fullmatch(origin) for r in self._regexes)

    def _allow_origin(self, origin: str) -> tuple[str, str]:
        value = "*" if self._any_origin and origin not in self._origins else origin
        return ("Access-Control-Allow-Origin", value)

    @wsgify
    def __call__(self, req: Request) -> WSGIApplication:
        environ = req.environ
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return self._no_cors
        if environ.get("REQUEST_METHOD") == "OPTIONS" and _PREFLIGHT_KEY in environ:
            return self._answer_preflight(environ, origin)
        if self.origin_allowed(origin):
            return partial(self._decorate, (self._allow_origin(origin), *self._actual))
        return self._no_cors

    def _decorate(self, add: tuple[tuple[str, str], ...], environ: WSGIEnvironment,
                  start_response: StartResponse) -> Iterable[bytes]:
        """Call the app; its ``Access-Control-*`` headers are replaced by ``add``."""

        def start(status: str, headers: list[tuple[str, str]],
                  exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
            return start_response(status, rewrite_headers(headers, _OWNED, _VARY, add), exc_info)

        return self.app(environ, start)

    def _preflight_denial(self, environ: WSGIEnvironment, origin: str) -> str | None:
        """Why this preflight is refused, or ``None`` when it is allowed."""
        if not self.origin_allowed(origin):
            return "origin not allowed"
        method = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"].strip()
        if not (method in self._methods or self._any_method and _TOKEN.fullmatch(method)):
            return "method not allowed"
        asked = _asked_headers(environ)
        if not (self._headers.issuperset(asked)
                or self._any_header and all(_TOKEN.fullmatch(h) for h in asked)):
            return "header not allowed"
        return None

    def _answer_preflight(self, environ: WSGIEnvironment, origin: str) -> WSGIApplication:
        reason = self._preflight_denial(environ, origin)
        if reason is not None:
            exc = HTTPForbidden(detail=f"CORS preflight refused: {reason}")
            resp = render_http_error(exc, environ)
            resp.headers["Vary"] = merge_vary(resp.headers.getall("Vary"), *_PREFLIGHT_VARY)
            return resp
        headers = [self._allow_origin(origin), *self._preflight]
        if self._any_method:  # validated above: a token
            method = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"].strip()
            headers.append(("Access-Control-Allow-Methods", method))
        asked = _asked_headers(environ)
        if self._any_header and asked:
            headers.append(("Access-Control-Allow-Headers", ", ".join(asked)))
        if self._private_network and environ.get(
                "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", "").strip().lower() == "true":
            headers.append(("Access-Control-Allow-Private-Network", "true"))
        headers.append(("Vary", ", ".join(_PREFLIGHT_VARY)))
        return partial(_no_content, headers)


def _asked_headers(environ: WSGIEnvironment) -> list[str]:
    value = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
    return [h for h in (part.strip().lower() for part in value.split(",")) if h]


cors = CORS
