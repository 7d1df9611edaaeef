"""The demo's basic endpoints: home, API index, echo, users, stream, errors."""

from __future__ import annotations

from collections.abc import Iterator

from webob.exc import HTTPBadRequest, HTTPForbidden

from webkit_app import ANY_METHOD, App, Request, Response, html_response, json_response, stream
from webkit_app.views import request_view

STREAM_LINES = 1000
#: the echo's methods by name (listed in Allow); every other one but OPTIONS
#: (the App's automatic 204) reaches it through an ANY_METHOD route
ECHO_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: the echo reflects the request's cookies: no shared cache may keep it for
#: another client (the shape of Flask's CVE-2023-30861)
_ECHO_HEADERS = {"Vary": "Cookie", "Cache-Control": "private"}

_HOME = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>webkit_app demo</title></head>
<body><h1>webkit_app demo</h1>
<ul>
<li><a href="{api}">{api}</a>: the API index (JSON)</li>
<li><a href="{echo}">{echo}</a>: echoes method, query, form, JSON and cookies</li>
<li><a href="{user}">{user}</a>: a path parameter converted to int</li>
<li><a href="{stream}">{stream}</a>: {lines} lines, produced lazily</li>
</ul></body></html>
"""


def home(request: Request) -> Response:
    """The HTML home page, its links built with ``url_for``."""
    return html_response(_HOME.format(
        api=request.url_for("api"), echo=request.url_for("echo"),
        user=request.url_for("user", id=1), stream=request.url_for("stream"), lines=STREAM_LINES,
    ))


def api_index(request: Request) -> Response:
    """A JSON index of the API's endpoints."""
    return json_response({
        "name": "webkit_app demo",
        "endpoints": {
            "echo": request.url_for("echo"),
            "user": request.url_for("user", id=1),
            "stream": request.url_for("stream"),
        },
    })


def echo(request: Request) -> Response:
    """Echo the request: method, query params, form data, JSON, cookies."""
    return json_response(request_view(request), headers=_ECHO_HEADERS)


def user(request: Request) -> Response:
    """A user by integer id."""
    uid = request.urlvars["id"]
    return json_response({"id": uid, "name": f"user{uid}", "url": request.url_for("user", id=uid)})


def _lines(count: int) -> Iterator[bytes]:
    for i in range(count):
        yield b"line %d\n" % i


def stream_lines(request: Request) -> Response:
    """1000 lines, each produced as it is sent, never buffered."""
    return stream(_lines(STREAM_LINES), content_type="text/plain")


def error(request: Request) -> Response:
    """A 400 raised as an HTTP exception."""
    raise HTTPBadRequest("This endpoint always answers 400 (a demo of webob.exc)")


def forbidden(request: Request) -> HTTPForbidden:
    """A 403 returned as an HTTP exception."""
    return HTTPForbidden("You may not see this (a demo of a returned webob.exc)")


def register(app: App) -> None:
    """Add these endpoints to ``app``."""
    app.add_route("GET", "/", home, name="home")
    app.add_route("GET", "/api", api_index, name="api")
    app.add_route(ECHO_METHODS, "/api/echo", echo, name="echo")
    app.add_route(ANY_METHOD, "/api/echo", echo)  # NOTE: PROPFIND, REPORT, ...: "any method"
    app.add_route("GET", "/users/{id:int}", user, name="user")
    app.add_route("GET", "/stream", stream_lines, name="stream")
    app.add_route("GET", "/error", error, name="error")
    app.add_route("GET", "/forbidden", forbidden, name="forbidden")
