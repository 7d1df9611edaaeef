"""``cross_origin``: refuse cross-origin browser requests that change state (CSRF).

The algorithm of Go 1.25's ``net/http.CrossOriginProtection``, which needs
no token in forms or JavaScript:

1. ``GET``, ``HEAD`` and ``OPTIONS`` pass (they must not change state).
2. ``Sec-Fetch-Site: same-origin`` or ``none`` (the user typed the URL)
   passes; any other value (``same-site``, ``cross-site``) is refused.
3. Without ``Sec-Fetch-Site`` (browsers before 2023, non-browser clients):
   no ``Origin`` passes; an ``Origin`` whose host and port are the request's
   ``Host`` passes; any other ``Origin``, ``null`` included, is refused.
4. A refused request still passes when its ``Origin`` is one of
   ``trusted_origins`` or its path is one of ``bypass`` (a webhook).

A refusal is a 403 rendered as every error is (JSON, HTML or text by
``Accept``), saying why. Only browsers send these headers, so ``curl`` and
server-to-server calls pass; put authentication, not this, in front of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from webob.exc import HTTPBadRequest, HTTPForbidden

from ..httperror import render_http_error
from ..settings import as_origins
from ._wsgi import as_tuple, normalized_path

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["CrossOrigin", "cross_origin"]

_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_SAME_ORIGIN = frozenset(("same-origin", "none"))
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# NOTE: an Origin is scheme://host[:port]; anything more is not one a browser sends.
_NOT_IN_HOST = frozenset("/?#@\\")


def _trusted(origins: Iterable[str] | str) -> frozenset[str]:
    found = as_origins(as_tuple(origins))
    if "*" in found or "null" in found:
        raise ValueError("cross_origin trusted_origins are exact origins like "
                         "https://app.example.com, not '*' or 'null'")
    return frozenset(found)


def _bypass(paths: Iterable[str] | str) -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact paths, and subtrees for entries ending in ``/`` (as Go's ServeMux)."""
    exact, prefixes = set(), []
    for path in as_tuple(paths):
        if not path.startswith("/"):
            raise ValueError(f"cross_origin bypass paths start with '/': {path!r}")
        if path.endswith("/") and path != "/":
            prefixes.append(path)
        else:
            exact.add(path)
    return frozenset(exact), tuple(prefixes)


def request_host(environ: WSGIEnvironment) -> str:
    """The request's ``Host`` (``host[:port]``), lower-cased."""
    host: str = environ.get("HTTP_HOST") or ""
    if not host:
        host = environ.get("SERVER_NAME", "")
        port = environ.get("SERVER_PORT", "")
        if port and port != _DEFAULT_PORTS.get(environ.get("wsgi.url_scheme", "")):
            host += ":" + port
    return host.lower()


def origin_host(origin: str) -> str | None:
    """The ``host[:port]`` of an ``Origin`` value, lower-cased; ``None`` for
    ``null`` or anything not shaped ``scheme://host[:port]``."""
    scheme, sep, host = origin.partition("://")
    if not sep or not scheme or not host or not _NOT_IN_HOST.isdisjoint(host):
        return None
    return host.lower()


class CrossOrigin:
    """Middleware refusing cross-origin state-changing browser requests with 403::

        app = cross_origin(app, trusted_origins=("https://admin.example.com",),
                           bypass=("/hooks/payments",))

    ``trusted_origins`` are exact origins whose requests pass; ``bypass``
    lists paths that skip the check, exactly or, ending in ``/``, with all
    below (matched on the path the router matches).
    """

    def __init__(self, app: WSGIApplication, trusted_origins: Iterable[str] | str = (),
                 bypass: Iterable[str] | str = ()) -> None:
        self.app = app
        self.trusted_origins = _trusted(trusted_origins)
        self._exact, self._prefixes = _bypass(bypass)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # PERF: safe methods, most requests, decide on one set lookup.
        if environ.get("REQUEST_METHOD") in _SAFE_METHODS:
            return self.app(environ, start_response)
        reason = self.refusal(environ)
        if reason is None:
            return self.app(environ, start_response)
        try:
            if self._bypassed(environ):
                return self.app(environ, start_response)
            error: HTTPBadRequest | HTTPForbidden = HTTPForbidden(reason)
        except HTTPBadRequest as exc:
            error = exc
        return render_http_error(error, environ)(environ, start_response)

    def refusal(self, environ: WSGIEnvironment) -> str | None:
        """Why the request is refused, or ``None`` when it passes (bypass aside)."""
        site = environ.get("HTTP_SEC_FETCH_SITE")
        origin = environ.get("HTTP_ORIGIN")
        if site:
            if site in _SAME_ORIGIN or origin in self.trusted_origins:
                return None
            return (f"Cross-origin request refused: Sec-Fetch-Site is {site[:40]!r}, "
                    "and the Origin is not a trusted one")
        if not origin:
            return None
        if origin_host(origin) == request_host(environ) or origin in self.trusted_origins:
            return None
        return (f"Cross-origin request refused: the Origin {origin[:100]!r} does not match "
                "the Host, and is not a trusted origin (the browser sent no Sec-Fetch-Site)")

    def _bypassed(self, environ: WSGIEnvironment) -> bool:
        if not self._exact and not self._prefixes:
            return False
        path = normalized_path(environ)
        # NOTE: a path with empty, "." or ".." segments never skips the check:
        # a lenient server or proxy might resolve it to a protected one.
        if "//" in path or "/./" in path + "/" or "/../" in path + "/":
            return False
        return path in self._exact or path.startswith(self._prefixes)


cross_origin = CrossOrigin
