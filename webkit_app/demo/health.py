"""The demo's health endpoints, built on :mod:`webkit_app.health`.

=================  ==========================================================
``/health/live``   200 ``{"status": "pass"}`` while the process answers
``/health/ready``  the database it uses (``SELECT 1`` through the pool, short
                   checkout timeout; SQLite or PostgreSQL) and, for SQLite, the
                   free disk under the file; 503 on a fail
``/health``        the same document as ``/health/ready``
=================  ==========================================================

All answer ``application/health+json`` with ``Cache-Control: no-store``, and
are outside ``/admin``, so Basic auth never applies to them::

    checks = register_health(app, config, store.pool)
    checks.add("queue:depth", my_check)     # before the first request
"""

from __future__ import annotations

import os
from typing import Any

from webkit_app import App, HealthChecks
from webkit_app.health import ConnectionSource, database_check, disk_check, live

__all__ = ["register_health", "default_checks", "HEALTH_PATHS"]

#: the paths registered here (left out of the access log when configured)
HEALTH_PATHS = ("/health", "/health/live", "/health/ready")


def default_checks(config: Any, pool: ConnectionSource, *,
                   version: str | None = None) -> HealthChecks:
    """The demo's checks: the database through ``pool`` and the disk holding it.

    ::

        checks = default_checks(config, pool)
        checks.add("queue:depth", queue_check)   # more, before the first request
    """
    checks = HealthChecks(timeout=config.health_timeout, version=version)
    checkout = min(0.5, config.health_timeout / 2)
    checks.add("database:responseTime", database_check(pool, checkout_timeout=checkout),
               component_type="datastore")
    if config.database_path:  # NOTE: SQLite: the disk holding the file; PostgreSQL: its own
        checks.add("disk:free", disk_check(os.path.dirname(config.database_path),
                                           config.health_disk_min_bytes), component_type="system")
    return checks


def register_health(app: App, config: Any, pool: ConnectionSource,
                    version: str | None = None) -> HealthChecks:
    """Add the three health routes to ``app``; return the checks to extend."""
    checks = default_checks(config, pool, version=version)
    app.add_route("GET", "/health/live", live, name="health_live")
    app.add_route("GET", "/health/ready", checks.handler, name="health_ready")
    app.add_route("GET", "/health", checks.handler, name="health")
    return checks
