"""What the router matches, decided once: the request path, the Host, and the
URLs the toolkit builds from them.

Every layer that decides by path (the App, ``basic_auth``'s protect and
exempt, ``access_log``'s exclusions, ``cross_origin``'s bypass) calls
:func:`normalized_path`, so none can see a different path from the router's::

    path = normalized_path(environ)   # "/b\\xc3\\xbcro" in the environ -> "/büro"
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

from webob.exc import HTTPBadRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = ["BAD_PERCENT", "check_host", "normalized_path", "quote_query", "relative_location"]

#: a ``%`` not followed by two hex digits (linear: one fixed-width look-ahead)
BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# NOTE: RFC 3986 reg-name or IP literal, then an optional port; no userinfo
# ('localhost@evil.example'), no control bytes. No nested repetition: linear.
_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?").fullmatch
_GOOD_HOSTS: set[str] = set()
_GOOD_HOSTS_MAX = 64
# What a query keeps as it is in a URL the toolkit builds: RFC 3986 query
# characters and existing %XX escapes; control bytes and spaces are escaped.
_QUERY_SAFE = "/?:@!$&'()*+,;=%~-._"
_SLASHES = frozenset("/\\")


def normalized_path(environ: WSGIEnvironment) -> str:
    """The path the router matches: ``PATH_INFO`` decoded as UTF-8, ``/`` when empty.

    :raises HTTPBadRequest: the path is not UTF-8 or does not start with ``/``.
    """
    raw = environ.get("PATH_INFO") or "/"
    # PERF: ASCII paths (almost all) need no decoding.
    if raw.isascii():
        path = raw
    else:
        try:
            path = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise HTTPBadRequest("The request path is not valid UTF-8") from None
    if path[0] != "/":
        # NOTE: a server passes 'GET Xadmin/users/1' through; the router would
        # match it as /admin/... while a prefix check sees 'Xadmin'.
        raise HTTPBadRequest("The request path must start with '/'")
    return path


def check_host(environ: WSGIEnvironment) -> None:
    """Refuse (400) a ``Host`` header that is not a host name or IP literal with
    an optional port: WebOb builds absolute URLs from it."""
    host = environ.get("HTTP_HOST")
    # PERF: a server sees few distinct Hosts; the ones already checked are
    # remembered (a bounded set of short keys: client data cannot grow it).
    if not host or host in _GOOD_HOSTS:
        return  # NOTE: an empty Host is what a request without an authority sends
    if _HOST(host):
        if len(_GOOD_HOSTS) < _GOOD_HOSTS_MAX and len(host) <= 255:
            _GOOD_HOSTS.add(host)
        return
    shown = host[:100].encode("latin-1", "backslashreplace").decode("ascii", "replace")
    raise HTTPBadRequest(f"Host {shown!r} is not a host name with an optional port")


def quote_query(query: str) -> str:
    """A raw WSGI ``QUERY_STRING`` (latin-1 text of its bytes) safe to put in a
    ``Location``: control bytes, spaces and non-ASCII percent-encoded."""
    return quote(query.encode("latin-1", "backslashreplace"), safe=_QUERY_SAFE)


def relative_location(value: str) -> str:
    """A ``Location`` value as sent: kept relative (RFC 9110 allows it), so the
    client's ``Host`` is never reflected; a protocol-relative ``//host`` (or
    ``\\\\host``, ``/\\host``: a browser reads ``\\`` as ``/``) becomes a path
    (``/%2fhost``), as WebOb does for CVE-2024-42353."""
    value = value.replace("\t", "")  # NOTE: browsers drop tabs anywhere in a URL
    # NOTE: browsers read a backslash as '/' in http(s) URLs: \\evil and \/evil
    # go to //evil as much as /\evil does.
    if value[:1] in _SLASHES and value[1:2] in _SLASHES:
        return "/%2f" + value[2:]
    if value and value[0] <= " ":
        # NOTE: browsers strip leading C0 controls and spaces: ' https://evil'
        # would leave the site. As a path it stays on it.
        return "/" + value
    return value
