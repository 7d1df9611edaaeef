"""Toolkit handlers as Pyramid views: ``config.include("webkit_app.pyramid")``.

The include adds two directives::

    from pyramid.config import Configurator

    def main(global_config, **settings):
        config = Configurator(settings=settings)
        config.include("webkit_app.pyramid")
        config.add_webkit_routes(kit, prefix="/api")   # every route of an App
        config.add_webkit_error_views()                # optional: toolkit-style errors
        return config.make_wsgi_app()

:func:`add_webkit_routes` registers each route of an :class:`~webkit_app.App`
in Pyramid's own router (``proutes`` lists them; ``request.route_url(name,
...)`` builds them):

* ``/users/{id:int}`` becomes ``/users/{id:[0-9]{1,18}}``; ``{p:path}``
  becomes ``{p:[^/].*}``. A route predicate converts the matched text with the
  toolkit's converters, so ``request.matchdict["id"]`` is an ``int``, and a
  value a converter rejects makes Pyramid try the next route, as the
  toolkit's router would. Routes are registered most specific first
  (literals, then ``uuid``, ``int``, ... ``str``, then ``path``).
* Each handler runs as a Pyramid view with a ``request_method`` predicate.
  It receives the App's own request class (strict parsing, body limit) on
  Pyramid's environ, with ``request.urlvars`` the converted parameters,
  ``request.url_for`` building URLs through Pyramid (prefix and
  ``SCRIPT_NAME`` included; names it does not know fall back to Pyramid's
  routes) and ``request.pyramid_request`` the Pyramid request.
* ``webob.exc`` errors raised or returned by a handler are rendered as the
  toolkit renders them (JSON, HTML or text by ``Accept``).
* 405: Pyramid alone answers 404 when a route matches but no view's
  ``request_method`` does. Here every path also gets a predicate-less
  fallback view, so an unsupported method gets ``405 Method Not Allowed``
  with an ``Allow`` header and ``OPTIONS`` gets ``204`` with ``Allow``, as
  under the toolkit's dispatcher. ``GET`` views answer ``HEAD`` too.
* Apps mounted with :meth:`App.mount` are served with
  :func:`pyramid.wsgi.wsgiapp2` on ``<mount>`` and ``<mount>/*subpath``.

Settings, read under the ``webkit_app.`` prefix as ``pyramid_tm`` reads
``tm.``: ``webkit_app.max_body_size`` (bytes, default the App's own limit) is
the largest request body the toolkit's handlers may read.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, Callable

from webob.exc import HTTPMethodNotAllowed, WSGIHTTPException

from ._extras import require
from .httperror import call_handler, render_http_error
from .middleware import Session, SessionCookie
from .request import MAX_BODY_KEY, SESSION_KEY, Request
from .response import Response
from .routing import ANY_METHOD, Param, Route
from .routing.converters import Converter, get_converter
from .routing.template import shape
from .routing.trie import allow_header
from .settings import SETTINGS_PREFIX, AppSettings

# NOTE: this adapter is Pyramid's: without the extra, one line says how to get it.
PyramidHTTPException = require("pyramid.httpexceptions", "pyramid",
                               "webkit_app.pyramid").HTTPException
wsgiapp2 = require("pyramid.wsgi", "pyramid", "webkit_app.pyramid").wsgiapp2
_interfaces = require("pyramid.interfaces", "pyramid", "webkit_app.pyramid")
implementer = require("zope.interface", "pyramid", "webkit_app.pyramid").implementer

if TYPE_CHECKING:
    from pyramid.config import Configurator

    from .app import App

__all__ = [
    "SETTINGS_PREFIX",
    "ParamsPredicate",
    "PyramidRequestMixin",
    "add_webkit_error_views",
    "add_webkit_routes",
    "http_error_view",
    "includeme",
    "pyramid_pattern",
    "session_factory",
    "set_webkit_session",
]

PREDICATE = "webkit_params"
_ROUTING_ARGS = "wsgiorg.routing_args"
_PYRAMID_REQUEST_KEY = "webkit_app.pyramid_request"
_NAMES_KEY = "webkit_app.pyramid_names"
# NOTE: Pyramid reads a trailing ``*name`` as a remainder and, in a pattern
# without ``{}``, ``:name`` as a placeholder: such literals cannot be translated.
_PYRAMID_SYNTAX = re.compile(r"\*[^/]*$|:[_a-zA-Z]")


def includeme(config: Configurator) -> None:
    """Add the ``add_webkit_routes`` and ``add_webkit_error_views`` directives."""
    config.add_route_predicate(PREDICATE, ParamsPredicate)
    config.add_directive("add_webkit_routes", add_webkit_routes)
    config.add_directive("add_webkit_error_views", add_webkit_error_views)
    config.add_directive("set_webkit_session", set_webkit_session)


# -- one session for Pyramid views and toolkit handlers -------------------------------


@implementer(_interfaces.ISession)
class PyramidSession(Session):
    """The toolkit's session as Pyramid's ``ISession``."""

    __slots__ = ()


def session_factory(secret: str, **options: Any) -> Callable[[Any], Session]:
    """A Pyramid session factory keeping the session in the cookie the
    ``session`` middleware reads and writes (same format, same options)::

        config.set_session_factory(session_factory(os.environ["SECRET_KEY"]))

    Toolkit handlers see the same object as ``request.session``; behind the
    ``session`` middleware, the middleware's session is used.
    """
    cookie = SessionCookie(secret, **options)

    def save(request: Any, response: Any) -> None:
        sess = request.environ[SESSION_KEY]
        if sess.accessed:
            response.headerlist = cookie.response_headers(sess, request.environ,
                                                          response.headerlist)

    def factory(request: Any) -> Session:
        env = request.environ
        found: Session | None = env.get(SESSION_KEY)
        if found is None:
            found = env[SESSION_KEY] = PyramidSession(lambda: cookie.read(env))
            request.add_response_callback(save)
        return found

    return factory


def set_webkit_session(config: Configurator, secret: str, **options: Any) -> None:
    """Directive: :func:`session_factory` as the session factory::

        config.set_webkit_session(os.environ["SECRET_KEY"], max_age=3600)
    """
    config.set_session_factory(session_factory(secret, **options))


# -- patterns and the converting predicate ------------------------------------------


def _regex(conv: Converter) -> str:
    if conv.greedy:
        return "[^/].*"  # NOTE: like the router, the first segment must not be empty
    return conv.regex if conv.regex is not None else "[^/]+"


def pyramid_pattern(route: Route, prefix: str = "") -> str:
    """The Pyramid route pattern matching what ``route`` matches::

        pyramid_pattern(Route("/users/{id:int}", ("GET",), view), "/api")
        # '/api/users/{id:[0-9]{1,18}}'
    """
    parts = []
    for seg in route.segments:
        if isinstance(seg, Param):
            parts.append("{%s:%s}" % (seg.name, _regex(seg.converter)))
        elif _PYRAMID_SYNTAX.search(seg) and (route.is_static or "*" in seg):
            raise ValueError(f"route {route.pattern!r}: segment {seg!r} would be read as "
                             "Pyramid placeholder syntax; rename it")
        else:
            parts.append(seg)
    return prefix.rstrip("/") + "/" + "/".join(parts)


class ParamsPredicate:
    """Route predicate converting ``matchdict`` values with the toolkit's converters.

    A value a converter rejects fails the predicate, so Pyramid goes on to the
    next route (``/items/{id:int}`` then ``/items/{name}``)::

        config.add_route("user", "/users/{id:[0-9]+}", webkit_params=(("id", "int"),))

    A name is a built-in converter; an App's own converter is given as the
    object its router holds: ``(("s", kit.router.converters["slug"]),)``.
    """

    def __init__(self, val: Any, config: Any) -> None:
        self.params = tuple((name, get_converter(conv) if isinstance(conv, str) else conv)
                            for name, conv in val)

    def text(self) -> str:
        return "webkit_params = " + ", ".join(f"{n}:{c.name}" for n, c in self.params)

    phash = text

    def __call__(self, info: dict[str, Any], request: Any) -> bool:
        match = info["match"]
        for name, conv in self.params:
            text = match[name]
            if not conv.greedy and "/" in text:
                return False
            try:
                match[name] = conv.convert(text)
            except ValueError:
                return False
        return True


# -- the request handlers see ---------------------------------------------------------


class PyramidRequestMixin:
    """What a toolkit request gains under Pyramid: ``pyramid_request`` and a
    ``url_for`` that builds through Pyramid's routes."""

    environ: dict[str, Any]

    @property
    def pyramid_request(self) -> Any:
        """The Pyramid request this view was called with."""
        return self.environ[_PYRAMID_REQUEST_KEY]

    def url_for(self, name: str, *, _query: Any = None, _absolute: bool = False,
                **params: Any) -> str:
        """The URL of a toolkit route (or, failing that, a Pyramid route) ``name``::

            request.url_for("user", id=7)     # '/api/users/7' with prefix="/api"
        """
        preq = self.pyramid_request
        found = self.environ.get(_NAMES_KEY, {}).get(name)
        kw: dict[str, Any] = {"_query": _query} if _query else {}
        if found is None:
            pyramid_name, values = name, params
        else:
            pyramid_name, route = found
            route.build(params)  # NOTE: validates names and values as the toolkit does
            convs = {s.name: s.converter for s in route.segments if isinstance(s, Param)}
            values = {k: convs[k].to_url(v) for k, v in params.items()}
        build = preq.route_url if _absolute else preq.route_path
        url: str = build(pyramid_name, **kw, **values)
        return url


# NOTE: a dict, not lru_cache: types-WebOb's Request class does not type as Hashable.
# Keyed by request classes (start-up time), never by client data.
_BRIDGES: dict[type[Request], type[Request]] = {}


def _bridge_class(cls: type[Request]) -> type[Request]:
    bridge = _BRIDGES.get(cls)
    if bridge is None:
        bridge = _BRIDGES[cls] = type("Pyramid" + cls.__name__, (PyramidRequestMixin, cls), {})
    return bridge


# -- registration (start-up time) -------------------------------------------------------


class _Registration:
    """What one :func:`add_webkit_routes` call shares with its views."""

    __slots__ = ("names", "request_class", "max_body_size", "error_response")

    def __init__(self, app: App, max_body_size: int) -> None:
        self.names: dict[str, tuple[str, Route]] = {}
        self.request_class = _bridge_class(app.request_class)
        self.max_body_size = max_body_size
        self.error_response = app.error_response


def add_webkit_routes(config: Configurator, app: App, prefix: str = "", *,
                      name_prefix: str = "") -> None:
    """Register every route of ``app`` (and its mounts) in Pyramid's router::

        config.include("webkit_app.pyramid")
        config.add_webkit_routes(kit, prefix="/api")
        # request.route_url("user", id=7) -> 'http://host/api/users/7'

    Route names are the App's names (after ``name_prefix``); unnamed routes
    get ``webkit_app:<pattern>``. Routes added to ``app`` later are not seen.
    """
    if prefix and (not prefix.startswith("/") or "{" in prefix or "*" in prefix):
        raise ValueError(f"webkit_app prefix {prefix!r} must be a literal path starting with '/'")
    settings = config.get_settings() or {}
    # NOTE: only webkit_app.* keys are ours, read and checked as Config reads them
    # ("10MiB"; a misspelt key is an error); the App's own limit when unset.
    ours = {k: v for k, v in settings.items() if k.startswith(SETTINGS_PREFIX)}
    max_body = AppSettings.read(ours, "max_body_size", default=app.max_body_size)
    reg = _Registration(app, max_body)
    # NOTE: the dispatcher tries mounts first; Pyramid tries routes in order.
    for mount_prefix, sub_app in app.mounts:
        _add_mount(config, prefix.rstrip("/") + mount_prefix, sub_app, name_prefix)
    for routes in _groups(app):
        _add_group(config, reg, routes, prefix, name_prefix)


def _groups(app: App) -> list[list[Route]]:
    """Routes grouped by path shape, the most specific shape first (the trie's order)."""
    groups: dict[tuple[str, ...], list[Route]] = {}
    for route in app.router.routes:
        groups.setdefault(shape(route.segments), []).append(route)

    def rank(routes: list[Route]) -> tuple[tuple[int, str], ...]:
        return tuple((0, "") if isinstance(s, str) else (s.converter.priority, s.converter.name)
                     for s in routes[0].segments)

    return sorted(groups.values(), key=rank)


def _add_group(config: Configurator, reg: _Registration, routes: list[Route], prefix: str,
               name_prefix: str) -> None:
    first = routes[0]
    names = [r.name for r in routes if r.name is not None]
    if names:
        match_name = name_prefix + names[0]
    else:
        match_name = f"{name_prefix}webkit_app:{prefix.rstrip('/')}{first.pattern}"
    params = tuple((s.name, s.converter) for s in first.segments if isinstance(s, Param))
    config.add_route(match_name, pyramid_pattern(first, prefix), **{PREDICATE: params})
    # NOTE: a GET view answers HEAD too; among equal predicates Pyramid tries
    # views in registration order, so an explicit HEAD route goes first.
    any_view = None
    for route in sorted(routes, key=lambda r: "HEAD" not in r.methods):
        if route.name is not None:
            pyramid_name = name_prefix + route.name
            reg.names[route.name] = (pyramid_name, route)
            if pyramid_name != match_name:  # NOTE: static routes only build URLs
                config.add_route(pyramid_name, pyramid_pattern(route, prefix), static=True)
        view = _handler_view(reg, route, first.names)
        if ANY_METHOD in route.methods:
            any_view = view  # NOTE: Pyramid allows one predicate-less view: the fallback
            continue
        config.add_view(view, route_name=match_name, request_method=route.methods)
    config.add_view(_method_not_allowed(routes, any_view), route_name=match_name)


def _add_mount(config: Configurator, path: str, sub_app: Any, name_prefix: str) -> None:
    view = wsgiapp2(sub_app)
    name = f"{name_prefix}webkit_app:mount:{path}"
    # NOTE: ``/kit/*subpath`` does not match ``/kit`` itself: two routes.
    config.add_route(name, path)
    config.add_view(view, route_name=name)
    config.add_route(name + "/*", path + "/*subpath")
    config.add_view(view, route_name=name + "/*")


# -- views (request time) ---------------------------------------------------------------


def _handler_view(reg: _Registration, route: Route,
                  source_names: tuple[str, ...]) -> Callable[[Any], Any]:
    handler, request_class = route.handler, reg.request_class
    # NOTE: routes sharing a path shape may name their parameters differently.
    pairs = tuple(zip(route.names, source_names, strict=True))

    def view(request: Any) -> Any:
        env = request.environ
        matchdict = request.matchdict
        env[_ROUTING_ARGS] = ((), {own: matchdict[src] for own, src in pairs})
        env[MAX_BODY_KEY] = reg.max_body_size
        env[_PYRAMID_REQUEST_KEY] = request
        env[_NAMES_KEY] = reg.names
        if SESSION_KEY not in env and request.registry.queryUtility(
                _interfaces.ISessionFactory) is not None:
            env[SESSION_KEY] = request.session  # NOTE: one session for both
        return call_handler(functools.partial(handler, request_class(env)), env,
                            f"handler {route.handler_name}",
                            functools.partial(reg.error_response, environ=env))

    # NOTE: proutes and pviews show the handler, not this wrapper.
    view.__module__ = getattr(handler, "__module__", None) or __name__
    view.__name__ = view.__qualname__ = route.handler_name.rpartition(".")[2]
    view.__doc__ = handler.__doc__
    return view


def _method_not_allowed(routes: list[Route],
                        any_view: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    allow = allow_header(m for r in routes for m in r.methods)

    def method_not_allowed(request: Any) -> Any:
        """The fallback view of a toolkit path: 204 for OPTIONS, the ANY_METHOD
        handler if there is one, else 405, with Allow (as the dispatcher answers)."""
        if request.method == "OPTIONS":
            return Response(status=204, headerlist=[("Allow", allow)])
        if any_view is not None:
            return any_view(request)
        exc = HTTPMethodNotAllowed(f"Method {request.method[:20]!r} is not allowed here; "
                                   f"use {allow}", headers=[("Allow", allow)])
        return render_http_error(exc, request.environ)

    return method_not_allowed


def http_error_view(exc: Any, request: Any) -> Any:
    """Exception view rendering an HTTP error (``webob.exc`` or
    ``pyramid.httpexceptions``) as the toolkit does; redirects pass through."""
    if exc.code < 400:
        return exc
    return render_http_error(exc, request.environ)


def add_webkit_error_views(config: Configurator) -> None:
    """Render every 4xx/5xx HTTP exception, Pyramid's 404 included, as the toolkit does::

        config.add_webkit_error_views()
    """
    for context in (WSGIHTTPException, PyramidHTTPException):
        config.add_exception_view(http_error_view, context=context)
