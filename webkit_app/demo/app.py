"""The demo application: the guide's examples and the production pieces as endpoints.

``make_demo(config)`` returns a plain :class:`~webkit_app.App` (routes only);
:func:`webkit_app.demo.create_app` wraps it in the middleware stack. Building it
opens nothing: the notes store's pool connects, and creates its schema, on
the first request of each process::

    app = make_demo(Config.from_environ(os.environ))
    app = make_demo(config, store=NotesStore(path))   # tests: inspect the store
    app = make_demo(config, health_checks={"queue:depth": queue_depth})
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from webkit_app import App, Request, Response
from webkit_app.middleware import load_htpasswd
from webkit_app.pool import PoolTimeout

from . import views
from .admin import AdminViews
from .environ import show_environ
from .files import Downloads
from .health import register_health
from .notes import NotesAPI
from .pages import NotePages
from .store import NotesStore, Store, unavailable

__all__ = ["make_demo", "make_store", "pool_timeout"]

log = logging.getLogger("webkit_app.demo")


def _version() -> str | None:
    try:
        return metadata.version("webkit_app")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return None


def pool_timeout(request: Request, exc: PoolTimeout) -> Response:
    """Every connection busy: 503, and when to try again."""
    log.warning("%s %s: %s", request.method, request.path_info, exc)
    raise unavailable("The database is busy; try again shortly", exc.retry_after)


def make_store(config: Any, **overrides: Any) -> Store:
    """The notes store ``config`` describes, SQLite or PostgreSQL (nothing is
    opened yet); ``overrides`` replace the pool settings (tests)."""
    options = {"pool_size": config.pool_size, "pool_timeout": config.pool_timeout, **overrides}
    if config.database_backend == "postgresql":
        from .postgres import PostgresNotesStore  # NOTE: the postgres extra, only when used

        return PostgresNotesStore(config.database_url, **options)
    return NotesStore(config.database_path, **options)


def _add_store_error_handlers(app: App, store: Store) -> None:
    app.add_error_handler(PoolTimeout, pool_timeout)
    # NOTE: a store whose driver raises its own errors (PostgreSQL) says how
    # to answer them; the SQLite store turns its errors into 503s itself.
    handlers = getattr(store, "error_handlers", None)
    for exc_type, handler in (handlers() if handlers is not None else {}).items():
        app.add_error_handler(exc_type, handler)


def make_demo(config: Any = None, *, store: Store | None = None,
              health_checks: Mapping[str, Callable[[], Any]] | None = None) -> App:
    """Build the demo :class:`App` (routes only, no middleware).

    Without a ``config`` only the stateless endpoints are registered. With
    one: the notes API, the health checks (the database, the disk, and
    ``health_checks``, ``{"component:measurement": check}``), ``/download``,
    ``/admin`` when Basic-auth users are configured, ``/environ`` when
    ``debug`` is on.
    """
    if config is None:
        app = App()
        views.register(app)
        return app
    app = App(max_body_size=config.max_body_size, allowed_hosts=config.allowed_hosts or None)
    views.register(app)
    store = store if store is not None else make_store(config)
    _add_store_error_handlers(app, store)
    NotesAPI(store).register(app)
    checks = register_health(app, config, store.pool, version=_version())
    for name, check in (health_checks or {}).items():
        checks.add(name, check)
    app.add_route("GET", "/download/{name:path}", Downloads(str(config.files_dir)).download,
                  name="download")
    if config.htpasswd:
        AdminViews(store.pool).register(app)
        # NOTE: the pages read request.session: the stack's session middleware.
        NotePages(store, load_htpasswd(str(config.htpasswd))).register(app)
    if config.debug:
        # NOTE: not registered at all otherwise, so production answers 404.
        app.add_route("GET", "/environ", show_environ, name="environ")
    return app
