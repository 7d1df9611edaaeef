"""PasteDeploy factories: your App, the demo, and each middleware as a filter.

Declared as entry points in ``pyproject.toml``, used from an ini file::

    [app:main]
    use = egg:webkit_app
    app = mypkg.web:app
    webkit_app.debug = false

    [app:demo]
    use = egg:webkit_app#demo

    [filter:cors]
    use = egg:webkit_app#cors
    allow_origins = https://app.example.com https://admin.example.com
    allow_credentials = true

    [pipeline:main]
    pipeline = request_id access_log cors errors demo

Ini values are strings: each filter option is coerced (booleans
``true/false/on/off/yes/no/1/0``, integers, lists separated by commas,
spaces or newlines, paths relative to the ini file's folder) and checked
when the file is loaded; a bad or unknown option raises :class:`ValueError`
naming the filter, the option and what is expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .settings import as_boolean, as_integer, as_items

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = [
    "access_log_filter",
    "app_factory",
    "demo_factory",
    "basic_auth_filter",
    "cors_filter",
    "cross_origin_filter",
    "errors_filter",
    "request_id_filter",
    "session_filter",
]

Filter = Callable[["WSGIApplication"], "WSGIApplication"]
Coerce = Callable[[str, Mapping[str, str]], Any]
_seconds = as_integer(0, 10**9)
#: options whose values an error message never shows
_SECRET_OPTIONS = frozenset(("users", "secret", "fallback_secrets"))


def app_factory(global_config: Mapping[str, str], **settings: str) -> WSGIApplication:
    """``[app:main] use = egg:webkit_app`` and ``app = mypkg.web:app``: your
    application, by dotted name, behind the middleware stack the section's
    settings ask for.

    ``app`` names a WSGI application (an :class:`~webkit_app.App`, or any
    WSGI callable); ``app_factory = mypkg.web:make_app`` names a function
    called with the section's settings instead. The other keys are
    :class:`~webkit_app.settings.AppSettings` (bare or prefixed
    ``webkit_app.``), and environment variables win over them.
    ``middleware = false`` returns the app alone, for a ``[pipeline:...]``
    that composes the filters itself::

        app = app_factory({"here": "/srv/app"}, app="mypkg.web:app")
    """
    from .factory import load_object, make_app, wrap
    from .settings import AppSettings

    settings = dict(settings)
    middleware = _middleware_option(settings)
    spec, factory_spec = settings.pop("app", None), settings.pop("app_factory", None)
    if (spec is None) == (factory_spec is None):
        raise ValueError("[app] needs one of app = mypkg.web:app (a WSGI application) or "
                         "app_factory = mypkg.web:make_app (called with the settings)")
    try:
        target = load_object((spec or factory_spec or "").strip())
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"[app] {'app' if spec else 'app_factory'} = "
                         f"{spec or factory_spec!r}: {exc}") from None
    ours = {k: v for k, v in settings.items() if _is_ours(k)}
    app = target(global_config, **settings) if factory_spec else target
    if not callable(app):
        raise ValueError(f"[app] app = {spec!r} is a {type(app).__name__}, not a WSGI application")
    app_settings = AppSettings.from_settings(ours, environ=os.environ)
    return make_app(app, app_settings) if middleware else wrap(app, app_settings, [])


def demo_factory(global_config: Mapping[str, str], **settings: str) -> WSGIApplication:
    """``[app:demo] use = egg:webkit_app#demo``: the reference notes service.

    Settings are the demo's :class:`~webkit_app.demo.Config` keys, bare or
    prefixed ``webkit_app.``; environment variables (``SECRET_KEY``,
    ``DATABASE_URL``...) win over the ini, so secrets stay out of the file.
    ``middleware = false`` returns the App alone.
    """
    from .demo import Config, create_app, make_demo

    settings = dict(settings)
    middleware = _middleware_option(settings)
    config = Config.from_settings(settings, environ=os.environ)
    config.require_secret()
    return create_app(config) if middleware else make_demo(config)


def _middleware_option(settings: dict[str, str]) -> bool:
    value = settings.pop("middleware", "true")
    try:
        return as_boolean(value)
    except ValueError as exc:
        raise ValueError(f"[app] middleware = {value!r}: {exc}") from None


def _is_ours(key: str) -> bool:
    """Keys AppSettings reads: prefixed ones, and the bare names of its fields."""
    from .settings import AppSettings

    bare = key.removeprefix("webkit_app.")
    return key != bare or bare in {f.name for f in AppSettings.declared()}


# -- coercion ---------------------------------------------------------------------------


def _text(value: str, global_config: Mapping[str, str]) -> str:
    return value.strip()


def _boolean(value: str, global_config: Mapping[str, str]) -> bool:
    return as_boolean(value)


def _integer(value: str, global_config: Mapping[str, str]) -> int:
    try:
        return _seconds(value)
    except ValueError:
        raise ValueError("expected a whole number of seconds, 0 or more") from None


def _items(value: str, global_config: Mapping[str, str]) -> tuple[str, ...]:
    return as_items(value)


def _path(value: str, global_config: Mapping[str, str]) -> str:
    path = os.path.expanduser(value.strip())
    if not path:
        raise ValueError("expected a file path")
    here = global_config.get("here") or os.getcwd()
    path = os.path.normpath(os.path.join(here, path))
    if not os.path.isfile(path):
        raise ValueError(f"no such file: {path}")
    return path


def _users(value: str, global_config: Mapping[str, str]) -> dict[str, str]:
    users: dict[str, str] = {}
    for line in value.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not name.strip() or not stored.strip():
            raise ValueError("expected one 'user:hash' per line (hash from "
                             "webkit_app.middleware.hash_password)")
        users[name.strip()] = stored.strip()
    return users


def _options(filter_name: str, local: Mapping[str, str], global_config: Mapping[str, str],
             spec: Mapping[str, Coerce]) -> dict[str, Any]:
    """Coerce ``local`` by ``spec``; errors name the filter, the option and the value."""
    unknown = sorted(set(local) - set(spec))
    if unknown:
        raise ValueError(f"[filter:{filter_name}] unknown option(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(spec))})")
    out = {}
    for key, value in local.items():
        try:
            out[key] = spec[key](value, global_config)
        except ValueError as exc:
            # NOTE: never echo a secret (password hashes, signing keys) into a log.
            shown = "" if key in _SECRET_OPTIONS else f" = {value!r}"
            raise ValueError(f"[filter:{filter_name}] {key}{shown}: {exc}") from None
    return out


def _filter(name: str, middleware: Callable[..., WSGIApplication],
            options: dict[str, Any]) -> Filter:
    def make_filter(app: WSGIApplication) -> WSGIApplication:
        return middleware(app, **options)

    make_filter.__name__ = make_filter.__qualname__ = f"{name}_filter"
    return make_filter


# -- the filters --------------------------------------------------------------------------


def access_log_filter(global_config: Mapping[str, str], **local: str) -> Filter:
    """``[filter:access_log] use = egg:webkit_app#access_log``; options
    ``logger`` (a logger name), ``exclude_paths`` (a list of exact paths) and
    ``trusted_proxies`` (addresses or networks whose X-Forwarded-For is believed)."""
    from .middleware import access_log

    spec = {"logger": _text, "exclude_paths": _items, "trusted_proxies": _items}
    options = _options("access_log", local, global_config, spec)
    return _filter("access_log", access_log, options)


def request_id_filter(global_config: Mapping[str, str], **local: str) -> Filter:
    """``[filter:request_id] use = egg:webkit_app#request_id``; option ``header``."""
    from .middleware import request_id

    options = _options("request_id", local, global_config, {"header": _text})
    return _filter("request_id", request_id, options)


def basic_auth_filter(global_config: Mapping[str, str], **local: str) -> Filter:
    """``[filter:basic_auth] use = egg:webkit_app#basic_auth``; options
    ``htpasswd`` (relative to the ini file), ``users`` (``user:hash`` lines),
    ``realm``, ``protect`` and ``exempt`` (lists of path prefixes)."""
    from .middleware import basic_auth

    spec = {"users": _users, "htpasswd": _path, "realm": _text,
            "protect": _items, "exempt": _items}
    options = _options("basic_auth", local, global_config, spec)
    if not options.get("users") and not options.get("htpasswd"):
        raise ValueError("[filter:basic_auth] needs an htpasswd file or users")
    return _filter("basic_auth", basic_auth, options)


def cors_filter(global_config: Mapping[str, str], **local: str) -> Filter:
    """``[filter:cors] use = egg:webkit_app#cors``; options ``allow_origins``,
    ``allow_methods``, ``allow_headers``, ``expose_headers`` (lists),
    ``allow_origin_regex``, ``allow_credentials``, ``allow_private_network``
    (booleans) and ``max_age`` (seconds)."""
    from .middleware import cors

    spec = {"allow_origins": _items, "allow_origin_regex": _text, "allow_methods": _items,
            "allow_headers": _items, "expose_headers": _items, "allow_credentials": _boolean,
            "allow_private_network": _boolean, "max_age": _integer}
    options = _options("cors", local, global_config, spec)
    try:
        cors(_no_app, **options)  # NOTE: check option combinations at load time
    except (ValueError, re.error) as exc:
        raise ValueError(f"[filter:cors] {exc}") from None
    return _filter("cors", cors, options)


def errors_filter(global_config: Mapping[str, str], **local: str) -> Filter:
    """``[filter:errors] use = egg:webkit_app#errors``; option ``debug``
    (a boolean: a traceback page; never in production)."""
    from .middleware import errors

    options = _options("errors", local, global_config, {"debug": _boolean})
    return _filter("errors", errors, options)


def session_filter(global_config: Mapping[str, str], **local: str) -> Filter:
    """``[filter:session] use = egg:webkit_app#session``; options ``secret``
    and ``fallback_secrets`` (the environment's ``SECRET_KEY`` and
    ``SECRET_KEY_FALLBACKS`` win, so production files hold no secret),
    ``cookie_name``, ``max_age`` (seconds), ``path``, ``domain``, ``secure``
    (a boolean; unset: over https only), ``httponly`` and ``samesite``."""
    from .middleware import session

    spec = {"secret": _text, "fallback_secrets": _items, "cookie_name": _text,
            "max_age": _integer, "path": _text, "domain": _text, "secure": _boolean,
            "httponly": _boolean, "samesite": _text}
    options = _options("session", local, global_config, spec)
    secret, fallbacks = (os.environ.get(name, "").strip()
                         for name in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"))
    if secret:
        options["secret"] = secret
    if fallbacks:
        options["fallback_secrets"] = as_items(fallbacks)
    if not options.get("secret"):
        raise ValueError("[filter:session] needs a secret: set SECRET_KEY in the environment "
                         "(or secret = ... in a development file)")
    try:
        session(_no_app, **options)  # NOTE: check the secret and the options at load time
    except ValueError as exc:
        raise ValueError(f"[filter:session] {exc}") from None
    return _filter("session", session, options)


def cross_origin_filter(global_config: Mapping[str, str], **local: str) -> Filter:
    """``[filter:cross_origin] use = egg:webkit_app#cross_origin``; options
    ``trusted_origins`` (exact origins) and ``bypass`` (paths; ending in ``/``:
    everything below)."""
    from .middleware import cross_origin

    spec = {"trusted_origins": _items, "bypass": _items}
    options = _options("cross_origin", local, global_config, spec)
    try:
        cross_origin(_no_app, **options)
    except ValueError as exc:
        raise ValueError(f"[filter:cross_origin] {exc}") from None
    return _filter("cross_origin", cross_origin, options)


def _no_app(environ: Any, start_response: Any) -> Any:  # pragma: no cover - never called
    raise AssertionError("placeholder app")
