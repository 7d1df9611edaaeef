"""``/admin``: who is signed in and how the connection pool is doing.

The routes exist only when Basic-auth users are configured (``HTPASSWD``);
:func:`webkit_app.create_app` puts ``basic_auth`` in front of ``/admin``. As a
second line of defence the views refuse to answer (403) when no middleware
set ``REMOTE_USER``, so registering them without the stack exposes nothing::

    AdminViews(store.pool).register(app)
"""

from __future__ import annotations

import html
from typing import Any

from webob.exc import HTTPForbidden

from webkit_app import App, Request, Response, html_response, json_response

__all__ = ["AdminViews"]

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>webkit_app admin</title></head>
<body><h1>Admin</h1>
<p>Signed in as <strong>{user}</strong>.</p>
<h2>Connection pool (this process)</h2>
<table>
{rows}
</table>
<p><a href="{stats}">{stats}</a> (JSON)</p>
</body></html>
"""
_NO_STORE = {"Cache-Control": "private, no-store"}


class AdminViews:
    """The admin page (HTML) and its data (JSON), for a pool with ``stats()``."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def register(self, app: App) -> None:
        """Add ``/admin`` and ``/admin/stats`` to ``app``."""
        app.add_route("GET", "/admin", self.page, name="admin")
        app.add_route("GET", "/admin/stats", self.stats, name="admin_stats")

    def _data(self, request: Request) -> dict[str, Any]:
        user = request.environ.get("REMOTE_USER")
        if not user:
            raise HTTPForbidden("The admin pages need an authenticating middleware")
        return {"user": user, "pool": self.pool.stats()}

    def page(self, request: Request) -> Response:
        """The admin page: the signed-in user and the pool's counters."""
        data = self._data(request)
        rows = "\n".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                         for k, v in data["pool"].items())
        page = _PAGE.format(user=html.escape(data["user"]), rows=rows,
                            stats=html.escape(request.url_for("admin_stats")))
        return html_response(page, headers=_NO_STORE)

    def stats(self, request: Request) -> Response:
        """``{"user": ..., "pool": {"size": ..., "in_use": ..., ...}}``."""
        return json_response(self._data(request), headers=_NO_STORE)
