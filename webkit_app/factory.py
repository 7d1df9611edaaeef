"""The application factory: any WSGI app behind the middleware stack its settings ask for.

Part of the toolkit: it knows the middleware and :class:`~webkit_app.settings.AppSettings`,
nothing of any particular application. A project's ``wsgi.py`` is two lines::

    from webkit_app.factory import make_app
    application = make_app(app)                      # settings from os.environ

    application = wrap(app, AppSettings.from_settings(settings))   # no logging set-up
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from .app import App
from .middleware import Layer, access_log, body_limit, cors, errors, request_id, stack
from .settings import AppSettings, configure_logging

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import WSGIApplication

__all__ = ["CORS_METHODS", "get_attribute", "layers", "load_object", "make_app",
           "parse_dotted", "wrap"]

#: what ``cors`` answers cross-origin when the settings list origins
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def layers(settings: AppSettings, *, exclude_paths: Iterable[str] = (),
           cors_methods: Iterable[str] = CORS_METHODS) -> list[Layer]:
    """The middleware stack for ``settings``, top-down in the order requests pass.

    ``request_id`` first, so every record below carries the id; then
    ``access_log`` (``exclude_paths`` are not logged); ``cors`` when origins
    are configured (above ``errors`` so a browser can read a 401 or 500);
    ``errors`` last, with a debug page only when ``settings.debug``.
    """
    out: list[Layer] = [request_id, (access_log, {"exclude_paths": tuple(exclude_paths),
                                                  "trusted_proxies": settings.trusted_proxies})]
    if settings.cors_origins:
        out.append((cors, {"allow_origins": settings.cors_origins,
                           "allow_credentials": settings.cors_allow_credentials,
                           "allow_methods": tuple(cors_methods),
                           "allow_headers": ("Content-Type",),
                           "expose_headers": ("Location", "X-Request-ID")}))
    out.append((errors, {"debug": settings.debug}))
    return out


def wrap(app: WSGIApplication, settings: AppSettings,
         with_layers: Iterable[Layer] | None = None) -> WSGIApplication:
    """Wrap ``app`` in ``with_layers`` (default: :func:`layers` for ``settings``).

    An :class:`~webkit_app.App` limits request bodies itself; any other app
    gets ``body_limit`` with ``max_body_size``, innermost.
    """
    out = list(layers(settings) if with_layers is None else with_layers)
    if not isinstance(app, App):
        out.append((body_limit, {"max_size": settings.max_body_size}))
    return stack(app, *out)


def make_app(app: WSGIApplication, settings: AppSettings | None = None) -> WSGIApplication:
    """``app`` ready for a server: logging configured and the stack of :func:`wrap`.

    ``settings`` defaults to ``AppSettings.from_environ(os.environ)``.
    """
    if settings is None:
        settings = AppSettings.from_environ(os.environ)
    settings.require_secret()
    configure_logging(settings)
    return wrap(app, settings)


def parse_dotted(spec: str, default_attr: str | None = None) -> tuple[str, str]:
    """``(module, attribute)`` of ``module:attribute``. Without a colon, the last
    dotted part is the attribute, or, given ``default_attr``, the whole spec
    is the module::

        parse_dotted("mypkg.web:app")                 # ('mypkg.web', 'app')
        parse_dotted("mypkg.wsgi", "application")     # ('mypkg.wsgi', 'application')
    """
    module_name, colon, attr = spec.partition(":")
    if not colon and default_attr is None:
        module_name, _, attr = spec.rpartition(".")
    attr = attr or default_attr or ""
    if not module_name or not attr or not all(
            p.isidentifier() for p in module_name.split(".") + attr.split(".")):
        raise ValueError(f"{spec!r} is not a dotted name like mypkg.web:app")
    return module_name, attr


def get_attribute(obj: Any, attr: str) -> Any:
    """``obj.a.b`` for ``attr`` ``"a.b"``; ``AttributeError`` naming what is missing."""
    for name in attr.split("."):
        obj = getattr(obj, name)
    return obj


def load_object(spec: str) -> Any:
    """The object named ``module:attribute`` (or ``module.attribute``)::

        app = load_object("mypkg.web:app")
    """
    module_name, attr = parse_dotted(spec)
    return get_attribute(importlib.import_module(module_name), attr)
