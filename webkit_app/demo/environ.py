"""``/environ``: the WSGI environ as an HTML table, for debugging only.

:func:`webkit_app.demo.make_demo` registers it only when ``DEBUG`` is on, so
in production the path does not exist (404). Every key and value is
HTML-escaped; secrets are masked: the ``Authorization``, ``Cookie`` and
API-key headers, any key that looks like a secret (``SECRET_KEY``,
``DB_PASSWORD``, ``GITHUB_TOKEN``) and the password of a URL
(``postgres://user:pw@host``)::

    app.add_route("GET", "/environ", show_environ, name="environ")
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from webkit_app import Request, Response, html_response
from webkit_app.middleware import MASK, display_value, is_secret_key

__all__ = ["show_environ", "masked_environ", "is_secret_key"]

_MAX_VALUE = 2000
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>WSGI environ</title></head>
<body><h1>WSGI environ</h1>
<p>Debug mode only. Secrets are shown as {mask}.</p>
<table>
{rows}
</table></body></html>
"""


def masked_environ(environ: Mapping[str, Any]) -> dict[str, str]:
    """The environ as sorted ``key -> printable value``, secrets masked (not escaped)."""
    return {str(key): display_value(str(key), environ[key], _MAX_VALUE)
            for key in sorted(environ, key=str)}


def show_environ(request: Request) -> Response:
    """The request's environ as an HTML table, every value escaped."""
    rows = "\n".join(
        f"<tr><th>{html.escape(key)}</th><td><code>{html.escape(value)}</code></td></tr>"
        for key, value in masked_environ(request.environ).items()
    )
    return html_response(_PAGE.format(rows=rows, mask=MASK), headers=_HEADERS)
