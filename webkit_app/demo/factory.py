"""The demo's factory: its App behind the toolkit's middleware stack, plus Basic auth.

::

    application = create_app()                       # Config.from_environ(os.environ)
    application = create_app(Config.from_settings(settings))
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from webkit_app.factory import layers as toolkit_layers
from webkit_app.factory import wrap as toolkit_wrap
from webkit_app.middleware import (
    Layer,
    SessionCookie,
    basic_auth,
    cross_origin,
    load_htpasswd,
    session,
)
from webkit_app.settings import ConfigError, configure_logging

from .app import make_demo
from .config import Config
from .health import HEALTH_PATHS

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["ADMIN_PATH", "CORS_METHODS", "admin_users", "create_app", "layers", "wrap"]

log = logging.getLogger("webkit_app.demo")

#: the prefix Basic auth protects
ADMIN_PATH = "/admin"
#: what the demo's API answers cross-origin
CORS_METHODS = ("GET", "HEAD", "POST", "DELETE")


def admin_users(config: Config) -> dict[str, str]:
    """The htpasswd users allowed on ``/admin`` (all, or those in ``admin_users``)."""
    if not config.htpasswd:
        return {}
    users = load_htpasswd(str(config.htpasswd))
    if config.admin_users:
        missing = sorted(set(config.admin_users) - set(users))
        if missing:
            raise ConfigError(f"ADMIN_USERS={','.join(config.admin_users)!r}: "
                              f"{', '.join(missing)} not in {config.htpasswd}")
        users = {name: users[name] for name in config.admin_users}
    return users


def _auth_layers(config: Config) -> list[Layer]:
    users = admin_users(config)
    if not users:
        return []
    return [(basic_auth, {"users": users, "realm": "webkit_app admin", "protect": (ADMIN_PATH,)})]


def _session_secret(config: Config) -> str:
    if not config.debug:
        return config.secret_key
    try:
        SessionCookie(config.secret_key)  # NOTE: the middleware's own check of the key
    except ValueError:
        pass
    else:
        return config.secret_key
    # NOTE: DEBUG needs no SECRET_KEY; sessions then last as long as the process.
    log.warning("SECRET_KEY unset or short with DEBUG on: sessions are signed with a random "
                "key, lost at restart and not shared between worker processes")
    return secrets.token_urlsafe(32)


def _session_layers(config: Config) -> list[Layer]:
    """``cross_origin`` (origins CORS allows are trusted; with ``*`` the JSON
    API is left out of it), then ``session`` signed with ``SECRET_KEY``."""
    cors = tuple(o for o in config.cors_origins if o != "*")
    bypass = ("/api/",) if "*" in config.cors_origins else ()
    return [(cross_origin, {"trusted_origins": (*config.csrf_trusted_origins, *cors),
                            "bypass": bypass}),
            (session, {"secret": _session_secret(config),
                       "fallback_secrets": config.secret_key_fallbacks,
                       "max_age": config.session_max_age})]


def layers(config: Config) -> list[Layer]:
    """The demo's stack: the toolkit's (health checks not logged unless
    ``log_health_checks``), ``cross_origin`` and ``session``, then
    ``basic_auth`` on ``/admin`` when users are configured."""
    exclude = () if config.log_health_checks else HEALTH_PATHS
    return [*toolkit_layers(config, exclude_paths=exclude, cors_methods=CORS_METHODS),
            *_session_layers(config), *_auth_layers(config)]


def wrap(app: WSGIApplication, config: Config) -> WSGIApplication:
    """Wrap ``app`` in the demo's stack (see :func:`layers`)."""
    return toolkit_wrap(app, config, layers(config))


def create_app(config: Config | None = None, *,
               health_checks: Mapping[str, Callable[[], Any]] | None = None) -> WSGIApplication:
    """Build the demo application behind its middleware stack.

    ``config`` defaults to ``Config.from_environ(os.environ)``; logging is
    configured from it. ``health_checks`` (``{"component:measurement":
    check}``) join the database and disk checks of ``/health/ready``.
    Nothing connects to the database here.
    """
    if config is None:
        config = Config.from_environ(os.environ)
    config.require_secret()
    configure_logging(config)
    return wrap(make_demo(config, health_checks=health_checks), config)
