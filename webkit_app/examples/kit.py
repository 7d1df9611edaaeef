"""A small toolkit App used by the README's embedding examples.

::

    kit = make_kit()
    webtest.TestApp(kit).get("/users/7").json   # {'id': 7, 'self': '/users/7'}
"""

from __future__ import annotations

from webob.exc import HTTPForbidden

from webkit_app import App, Request, Response, json_response, redirect

__all__ = ["make_kit"]


def home(request: Request) -> Response:
    """Links built with ``url_for``: they include whatever prefix the App is under."""
    return json_response({
        "user": request.url_for("user", id=7),
        "notes": request.url_for("notes"),
        "file": request.url_for("file", path="docs/a b.txt"),
    })


def user(request: Request) -> Response:
    uid = request.urlvars["id"]
    return json_response({"id": uid, "self": request.url_for("user", id=uid)})


def user_by_name(request: Request) -> Response:
    return json_response({"name": request.urlvars["name"]})


def list_notes(request: Request) -> Response:
    return json_response({"notes": [], "create": request.url_for("create_note")})


def create_note(request: Request) -> Response:
    note = request.json  # strict: 415 / 400 / 413 as under the dispatcher
    return json_response({"note": note}, status=201)


def file(request: Request) -> Response:
    return json_response({"path": request.urlvars["path"]})


def private(request: Request) -> Response:
    raise HTTPForbidden("Members only")


def old_home(request: Request) -> Response:
    return redirect(request.url_for("home"), status=301)


def make_kit() -> App:
    """Build the example App; a fresh one each call (routes are fixed once served)."""
    kit = App()
    kit.add_route("GET", "/", home, name="home")
    kit.add_route("GET", "/users/{id:int}", user, name="user")
    kit.add_route("GET", "/users/{name}", user_by_name, name="user_by_name")
    kit.add_route("GET", "/notes", list_notes, name="notes")
    kit.add_route("POST", "/notes", create_note, name="create_note")
    kit.add_route("GET", "/files/{path:path}", file, name="file")
    kit.add_route("GET", "/private", private, name="private")
    kit.add_route("GET", "/old", old_home, name="old")
    return kit


def app_factory(global_config: dict[str, str] | None = None, **settings: str) -> App:
    """PasteDeploy app factory (``use = call:webkit_app.examples.kit:app_factory``)."""
    return make_kit()
