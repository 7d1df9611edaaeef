"""The application factory: the demo behind the middleware stack its config asks for.

::

    application = create_app()                       # Config.from_environ(os.environ)
    application = create_app(Config.from_settings(settings))
    application = wrap(my_app, config)               # the same stack around any app
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .app import App
from .config import Config, ConfigError, configure_logging
from .demo import make_demo
from .demo.health import HEALTH_PATHS
from .middleware import (
    Layer,
    access_log,
    basic_auth,
    body_limit,
    cors,
    errors,
    request_id,
    stack,
)
from .middleware.basic_auth import load_htpasswd

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["create_app", "wrap", "layers", "admin_users", "ADMIN_PATH", "CORS_METHODS"]

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


def layers(config: Config) -> list[Layer]:
    """The middleware stack for ``config``, top-down in the order requests pass.

    ``request_id`` first, so every record below carries the id; then
    ``access_log``; ``cors`` when origins are configured (above ``errors`` so a
    browser can read a 401 or 500); ``errors``; ``basic_auth`` on ``/admin``
    when users are configured. The body limit is the App's own
    (``max_body_size``).
    """
    exclude = () if config.log_health_checks else HEALTH_PATHS
    out: list[Layer] = [request_id, (access_log, {"exclude_paths": exclude,
                                                  "trusted_proxies": config.trusted_proxies})]
    if config.cors_origins:
        out.append((cors, {"allow_origins": config.cors_origins,
                           "allow_credentials": config.cors_allow_credentials,
                           "allow_methods": CORS_METHODS, "allow_headers": ("Content-Type",),
                           "expose_headers": ("Location", "X-Request-ID")}))
    out.append((errors, {"debug": config.debug}))
    users = admin_users(config)
    if users:
        out.append((basic_auth, {"users": users, "realm": "webkit_app admin",
                                 "protect": (ADMIN_PATH,)}))
    return out


def wrap(app: WSGIApplication, config: Config) -> WSGIApplication:
    """Wrap ``app`` in the middleware stack ``config`` asks for (see :func:`layers`).

    An :class:`~webkit_app.App` limits request bodies itself; any other app
    gets ``body_limit`` with ``max_body_size``, innermost.
    """
    out = layers(config)
    if not isinstance(app, App):
        out.append((body_limit, {"max_size": config.max_body_size}))
    return stack(app, *out)


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
    configure_logging(config)
    return wrap(make_demo(config, health_checks=health_checks), config)
