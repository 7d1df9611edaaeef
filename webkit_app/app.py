"""The dispatcher: a table of ``handler(request) -> Response`` functions as
one WSGI application.

::

    app = App()

    @app.route("/users/{id:int}", name="user")
    def show_user(request):
        return json_response({"id": request.urlvars["id"]})
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlencode

import webob
from webob.exc import (
    HTTPBadRequest,
    HTTPException,
    HTTPInternalServerError,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    WSGIHTTPException,
)

from .body import DEFAULT_MAX_BODY_SIZE, declared_length
from .httperror import handler_response, render_error, render_http_error
from .paths import BAD_PERCENT, check_host, normalized_path, quote_query
from .request import APP_KEY, MAX_BODY_KEY, Request
from .response import Response, check_sendable
from .routing import ANY_METHOD, Converter, Endpoint, Route, Router, new_converter
from .routing.template import dotted_name

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["App", "RouteInfo", "ANY_METHOD"]

log = logging.getLogger("webkit_app")
#: an HTTP method (RFC 9110 token), as routes may name it
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Z]+").fullmatch
Handler = Callable[[Request], webob.Response]
#: ``error_handler(request, exc) -> Response``
ErrorHandler = Callable[[Request, Any], webob.Response]
_ROUTING_ARGS = "wsgiorg.routing_args"


class RouteInfo(NamedTuple):
    """One row of :attr:`App.routes`."""

    name: str | None
    methods: tuple[str, ...]
    pattern: str
    handler: str


class App:
    """A WSGI application dispatching to handlers by path and method.

    :param redirect_slashes: answer ``/users/`` with a 308 to ``/users``
        (or the reverse) when only the other exists.
    :param max_body_size: the largest request body handlers may read.
    :param allowed_hosts: if given, a request whose Host is not listed gets 400.
    :param converters: this App's own path converters by name, beside the
        built-ins (see :meth:`add_converter`).
    """

    def __init__(
        self,
        *,
        redirect_slashes: bool = True,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        allowed_hosts: Iterable[str] | None = None,
        request_class: type[Request] = Request,
        converters: Mapping[str, Converter] | None = None,
    ) -> None:
        self.router = Router(converters)
        self.redirect_slashes = redirect_slashes
        self.max_body_size = max_body_size
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts) if allowed_hosts else None
        self.request_class = request_class
        self._names: dict[str, Route] = {}
        self._mounts: list[tuple[str, WSGIApplication]] = []
        self._error_handlers: dict[type[BaseException], ErrorHandler] = {}
        self._started = False

    # -- registration (start-up time) ---------------------------------------

    def add_converter(self, name: str, regex: str, to_python: Callable[[str], Any] = str,
                      to_url: Callable[[Any], str] = str, *, priority: int = 30) -> Converter:
        """Make ``{x:name}`` usable in this App's patterns (routes added after it)::

            app.add_converter("slug", r"[a-z0-9]+(?:-[a-z0-9]+)*")
            app.add_route("GET", "/posts/{slug:slug}", show)
        """
        if self._started:
            raise RuntimeError(f"cannot add converter {name!r}: the app has served requests")
        converter = new_converter(name, regex, to_python, to_url, priority=priority)
        self.router.add_converter(name, converter)
        return converter

    def add_route(self, method: str | Sequence[str], pattern: str, handler: Handler,
                  name: str | None = None, max_body_size: int | None = None) -> Route:
        """Register ``handler`` for ``method`` (or several) on ``pattern``.

        A method is any HTTP token; ``"*"`` (:data:`ANY_METHOD`) takes every
        method the route's other handlers do not, except OPTIONS, which the
        App answers unless a handler is registered for it by name.
        ``max_body_size`` replaces the App's body limit for this route::

            app.add_route(["GET", "POST", "*"], "/echo", echo)
            app.add_route("POST", "/notes", create, max_body_size=64 * 1024)
        """
        if self._started:
            raise RuntimeError(f"cannot add route {pattern!r}: the app has served requests")
        methods = (method,) if isinstance(method, str) else tuple(method)
        methods = tuple(dict.fromkeys(m.upper() for m in methods))
        if not methods or not all(_METHOD(m) for m in methods):
            raise ValueError(f"route {pattern!r}: invalid methods {methods!r}")
        if not callable(handler):
            raise TypeError(f"route {pattern!r}: handler {handler!r} is not callable")
        if name is not None and name in self._names:
            raise ValueError(f"route name {name!r} for {pattern!r} is already used by "
                             f"{self._names[name].pattern!r}")
        if max_body_size is not None and (type(max_body_size) is not int or max_body_size < 0):
            raise ValueError(f"route {pattern!r}: max_body_size must be a number of bytes, "
                             f"not {max_body_size!r}")
        route = Route(pattern, methods, handler, name, max_body_size, self.router.converters)
        for prefix, app in self._mounts:
            _check_mount_clash(prefix, app, route)
        self.router.add(route)
        if name is not None:
            self._names[name] = route
        return route

    def route(self, pattern: str, methods: Sequence[str] = ("GET",),
              name: str | None = None, max_body_size: int | None = None,
              ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add_route`::

            @app.route("/notes", methods=["GET", "POST"], name="notes")
            def notes(request): ...
        """
        def register(handler: Handler) -> Handler:
            self.add_route(methods, pattern, handler, name, max_body_size)
            return handler

        return register

    def add_error_handler(self, exc_type: type[BaseException], handler: ErrorHandler) -> None:
        """Answer ``exc_type`` (and its subclasses), raised by a handler, with
        ``handler(request, exc)``, as Flask's ``errorhandler`` and Pyramid's
        exception views do. The most specific registered class wins.

        ``webob.exc`` classes work too, for raised errors and for the App's
        own answers: ``HTTPNotFound`` renders a 404 differently,
        ``HTTPMethodNotAllowed`` a 405 (its ``Allow`` header is set)::

            app.add_error_handler(PoolTimeout, lambda request, exc: HTTPServiceUnavailable(
                "try again", headers=[("Retry-After", str(exc.retry_after))]))
        """
        if self._started:
            raise RuntimeError(f"cannot add an error handler for {exc_type!r}: "
                               "the app has served requests")
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise TypeError(f"error handler: {exc_type!r} is not an exception class")
        if not issubclass(exc_type, Exception):
            # NOTE: KeyboardInterrupt, SystemExit, GeneratorExit end the process or
            # the generator; the App never catches them, so the handler would never run.
            raise TypeError(f"error handler: {exc_type.__name__} is not an Exception subclass, "
                            "so it is never handled; register Exception to answer every error")
        if not callable(handler):
            raise TypeError(f"error handler for {exc_type.__name__}: {handler!r} is not callable")
        self._error_handlers[exc_type] = handler

    def error_handler(self, exc_type: type[BaseException]) -> Callable[[ErrorHandler], ErrorHandler]:
        """Decorator form of :meth:`add_error_handler`::

            @app.error_handler(HTTPNotFound)
            def not_found(request, exc):
                return html_response(f"<h1>Nothing at {escape(request.path)}</h1>", status=404)
        """
        def register(handler: ErrorHandler) -> ErrorHandler:
            self.add_error_handler(exc_type, handler)
            return handler

        return register

    def error_handler_for(self, exc: BaseException) -> ErrorHandler | None:
        """The handler registered for ``exc``'s class or its nearest base, if any."""
        if not self._error_handlers:
            return None
        for cls in type(exc).__mro__:
            handler = self._error_handlers.get(cls)
            if handler is not None:
                return handler
        return None

    def error_response(self, exc: BaseException,
                       environ: WSGIEnvironment) -> webob.Response | None:
        """The response for ``exc`` from its error handler, checked as a
        handler's; ``None`` when no handler takes it. Adapters (Pyramid)
        call this so every embedding answers alike."""
        handler = self.error_handler_for(exc)
        if handler is None:
            return None
        try:
            resp = handler(self.request_class(environ), exc)
        except HTTPException as raised:
            resp = raised.wsgi_response
        return _checked(resp, environ, f"error handler {dotted_name(handler)}")

    def mount(self, prefix: str, app: WSGIApplication) -> None:
        """Delegate ``prefix`` and everything below it to another WSGI app,
        with SCRIPT_NAME and PATH_INFO shifted."""
        if self._started:
            raise RuntimeError(f"cannot mount {prefix!r}: the app has served requests")
        prefix = prefix.rstrip("/")
        if not prefix.startswith("/") or "{" in prefix:
            raise ValueError(f"mount prefix {prefix!r} must be a literal path starting with '/'")
        if any(p == prefix for p, _ in self._mounts):
            raise ValueError(f"mount prefix {prefix!r} is already mounted")
        for route in self.router.routes:
            _check_mount_clash(prefix, app, route)
        self._mounts.append((prefix, app))
        self._mounts.sort(key=lambda m: -len(m[0]))

    @property
    def mounts(self) -> list[tuple[str, WSGIApplication]]:
        """The mounted apps as ``(prefix, app)``, longest prefix first."""
        return list(self._mounts)

    @property
    def routes(self) -> list[RouteInfo]:
        """Every route: name, methods, pattern and handler's dotted name."""
        rows = [RouteInfo(r.name, r.methods, r.pattern, r.handler_name) for r in self.router.routes]
        rows += [RouteInfo(None, ("*",), p + "/*", dotted_name(a)) for p, a in self._mounts]
        return rows

    def url_for(self, name: str, *, _query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
                _script_name: str = "", _absolute: bool = False, **params: Any) -> str:
        """Build the path of a named route, percent-encoded, after ``_script_name``.

        Absolute URLs need the scheme and host of a request:
        ``request.url_for(name, _absolute=True)``.
        """
        if _absolute:
            # NOTE: no host is trustworthy without a request (allowed_hosts may list several).
            raise TypeError(f"app.url_for({name!r}) cannot build an absolute URL: it has no "
                            "request to take the scheme and host from; use "
                            "request.url_for(..., _absolute=True)")
        route = self._names.get(name)
        if route is None:
            raise KeyError(f"no route named {name!r} (known: {', '.join(sorted(self._names))})")
        path = quote(_script_name, safe="/@:!$&'()*+,;=-._~") + route.build(params)
        if _query:
            path += "?" + urlencode(_query, doseq=True)
        return path

    # -- serving (request time) ---------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self._started = True
        resp: WSGIApplication | None
        try:
            resp = self._dispatch(environ)
        except Exception as exc:
            resp = self.error_response(exc, environ) if self._error_handlers else None
            if resp is None:
                if not isinstance(exc, HTTPException):
                    raise
                # NOTE: a WSGIHTTPException is its own wsgi_response
                resp = handler_response(exc.wsgi_response,
                                        environ, f"raised {type(exc).__name__}")
        if isinstance(resp, WSGIHTTPException) and resp.code >= 400:
            resp = render_http_error(resp, environ)
        return resp(environ, start_response)

    def _dispatch(self, environ: WSGIEnvironment) -> WSGIApplication:
        path = environ.get("PATH_INFO") or "/"
        # PERF: an ASCII path starting with '/' (almost every one) is already
        # what normalized_path would return; the rest go through it.
        if not (path.isascii() and path[0] == "/"):
            path = normalized_path(environ)
        if "%" in path:  # NOTE: rare; a server left an invalid escape undecoded
            _check_raw_uri(environ)
        if self.allowed_hosts is not None:
            self._check_host(environ, self.allowed_hosts)
        else:
            check_host(environ)
        if self._mounts:
            mounted = self._find_mount(path)
            if mounted is not None:
                return _Mounted(*mounted)
        found = self.router.match(path)
        if found is None:
            return self._not_found(environ, path)
        endpoint, values = found
        method = environ["REQUEST_METHOD"]
        route = endpoint.routes.get(method)
        if route is None:
            # NOTE: off the hot path: explicit methods are in the dict.
            route = endpoint.any if method != "OPTIONS" else None
            if route is None:
                return self._no_method(environ, endpoint)
        environ[_ROUTING_ARGS] = ((), dict(zip(route.names, values, strict=True)) if values else {})
        environ[APP_KEY] = self
        limit = environ[MAX_BODY_KEY] = (
            self.max_body_size if route.max_body_size is None else route.max_body_size)
        if environ.get("CONTENT_LENGTH"):
            # NOTE: refused before the handler runs, whatever it reads the body with.
            declared_length(environ, limit)
        return self._call(route, self.request_class(environ))

    def _call(self, route: Route, request: Request) -> webob.Response:
        resp: webob.Response = route.handler(request)
        # PERF: a Response checked its status and headers as they were set.
        if resp.__class__ is Response:
            return resp
        return _checked(resp, request.environ, f"handler {route.handler_name}")

    def _check_host(self, environ: WSGIEnvironment, allowed_hosts: frozenset[str]) -> None:
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        name, colon, port = host.rpartition(":") if not host.endswith("]") else ("", "", "")
        # NOTE: the port must be digits, or 'localhost:80@evil.example' would
        # pass as 'localhost' and then name evil.example in absolute URLs.
        if not colon:
            name = host
        elif not (port.isascii() and port.isdigit()):
            name = ""
        if name.lower() not in allowed_hosts:
            raise HTTPBadRequest(f"Host {host[:100]!r} is not allowed")
        check_host(environ)

    def _find_mount(self, path: str) -> tuple[str, WSGIApplication] | None:
        for prefix, app in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, app
        return None

    def _not_found(self, environ: WSGIEnvironment, path: str) -> Response:
        if self.redirect_slashes and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            if self.router.match(other) is not None:
                return _slash_redirect(environ, other)
        detail = f"No route matches {path[:200]!r}"
        if self._error_handlers:
            raise HTTPNotFound(detail)  # NOTE: an error handler may answer it
        # PERF: rendered directly; a webob.exc instance costs a full Response.
        return render_error(404, "Not Found", detail, environ)

    def _no_method(self, environ: WSGIEnvironment, endpoint: Endpoint) -> Response:
        method = environ["REQUEST_METHOD"]
        if method == "OPTIONS":
            return Response(status=204, headerlist=[("Allow", endpoint.allow)])
        detail = f"Method {method[:20]!r} is not allowed here; use {endpoint.allow}"
        if self._error_handlers:
            raise HTTPMethodNotAllowed(detail, headers=[("Allow", endpoint.allow)])
        return render_error(405, "Method Not Allowed", detail, environ,
                            [("Allow", endpoint.allow)])


def _checked(resp: object, environ: WSGIEnvironment, source: str) -> webob.Response:
    """What a handler (or error handler) returned, checked; a 500 if it is no response."""
    if isinstance(resp, webob.Response):
        return handler_response(resp, environ, source)
    log.error("%s for %s returned %s, not a webob.Response",
              source, environ.get("PATH_INFO"), type(resp).__name__)
    return HTTPInternalServerError("The handler did not return a response")


def _check_mount_clash(prefix: str, app: Any, route: Route) -> None:
    """``ValueError`` naming both if the mount at ``prefix`` would serve every
    path of ``route`` (its leading literals are the prefix's segments)."""
    # NOTE: a parameter segment is not a clash: the mount takes only its own prefix.
    wanted = prefix[1:].split("/")
    if route.segments[:len(wanted)] == wanted:
        raise ValueError(f"route {route.pattern!r} ({route.handler_name}) conflicts with the "
                         f"mount {prefix!r} ({dotted_name(app)}), which serves every path below it")


def _check_raw_uri(environ: WSGIEnvironment) -> None:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if BAD_PERCENT.search(raw.split("?", 1)[0]):
        raise HTTPBadRequest("Invalid percent-encoding in the request path")


def _slash_redirect(environ: WSGIEnvironment, path: str) -> Response:
    # NOTE: 308 keeps the method and body; the location keeps SCRIPT_NAME.
    # NOTE: SCRIPT_NAME is raw (latin-1 str of the URL's bytes), ``path`` decoded text.
    location = quote(environ.get("SCRIPT_NAME", "").encode("latin-1") + path.encode("utf-8"),
                     safe="/@:!$&'()*+,;=-._~")
    if environ.get("QUERY_STRING"):
        location += "?" + quote_query(environ["QUERY_STRING"])
    resp = Response(status=308, content_type="text/plain", charset="utf-8",
                    body=b"Permanent Redirect\n")
    resp.headerlist.append(("Location", location))
    return resp


class _Mounted:
    """Calls a mounted app with SCRIPT_NAME and PATH_INFO shifted by ``prefix``."""

    __slots__ = ("prefix", "app")

    def __init__(self, prefix: str, app: WSGIApplication) -> None:
        self.prefix, self.app = prefix, app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw = environ.get("PATH_INFO", "")
        # NOTE: shift the raw (latin-1) PATH_INFO by the prefix's raw length.
        cut = len(self.prefix.encode("utf-8"))
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + raw[:cut]
        environ["PATH_INFO"] = raw[cut:]
        # NOTE: a mounted app's status and headers are checked as any handler's.
        start_response = _checking(start_response, self.prefix)
        try:
            return self.app(environ, start_response)
        except HTTPException as exc:  # a plain WSGI app raising webob.exc errors
            if isinstance(exc, WSGIHTTPException) and exc.code >= 400:
                return render_http_error(exc, environ)(environ, start_response)
            return exc(environ, start_response)


def _checking(start_response: StartResponse, prefix: str) -> StartResponse:
    """``start_response``, refusing a status or header that would break the response."""
    def checked(status: str, headers: list[tuple[str, str]],
                exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
        check_sendable(status, headers, f"the app mounted at {prefix!r}")
        return start_response(status, headers, exc_info)

    return checked
