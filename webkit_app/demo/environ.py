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
import re
from collections.abc import Mapping
from typing import Any

from webkit_app import Request, Response, html_response
from webkit_app.middleware import MASK, SECRET_WORDS, mask_params
from webkit_app.views import SECRET_HEADERS

__all__ = ["show_environ", "masked_environ", "is_secret_key"]

# NOTE: the same rule as the errors middleware's debug page, so a key masked
# there is masked here too.
_SECRET_KEY = re.compile(SECRET_WORDS, re.IGNORECASE).search
_URL_PASSWORD = re.compile(r"(?<=://)([^/@:\s]*):[^/@\s]*@")
_SIMPLE = (str, bytes, int, float, bool, type(None))
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


def is_secret_key(key: str) -> bool:
    """Whether the environ ``key`` holds a credential (``HTTP_AUTHORIZATION``, ``SECRET_KEY``)."""
    if _SECRET_KEY(key) is not None:
        return True
    return key.startswith("HTTP_") and key[5:].replace("_", "-").lower() in SECRET_HEADERS


def _shown(key: str, value: Any) -> str:
    if is_secret_key(key):
        return MASK
    if isinstance(value, str):
        text = mask_params(value)
    elif isinstance(value, _SIMPLE) or (
        isinstance(value, tuple) and all(isinstance(v, _SIMPLE) for v in value)
    ):
        text = repr(value)
    else:
        # NOTE: objects by type only: a config object's repr may carry its secrets.
        text = f"<{type(value).__module__}.{type(value).__qualname__}>"
    text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "..."


def masked_environ(environ: Mapping[str, Any]) -> dict[str, str]:
    """The environ as sorted ``key -> printable value``, secrets masked (not escaped)."""
    return {str(key): _shown(str(key), environ[key]) for key in sorted(environ, key=str)}


def show_environ(request: Request) -> Response:
    """The request's environ as an HTML table, every value escaped."""
    rows = "\n".join(
        f"<tr><th>{html.escape(key)}</th><td><code>{html.escape(value)}</code></td></tr>"
        for key, value in masked_environ(request.environ).items()
    )
    return html_response(_PAGE.format(rows=rows, mask=MASK), headers=_HEADERS)
