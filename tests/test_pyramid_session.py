"""One session for Pyramid views and toolkit handlers, in the ``session`` middleware's cookie."""

import pytest
from pyramid.config import Configurator
from pyramid.interfaces import ISession
from webtest import TestApp

from webkit_app import App, json_response, text_response
from webkit_app.middleware import session

SECRET = "p" * 16 + "yramid-and-toolkit-share-this"


def kit():
    app = App()

    def remember(request):
        request.session["kit"] = request.GET["v"]
        return text_response("kit stored")

    app.add_route("GET", "/kit/remember", remember)
    app.add_route("GET", "/kit/show", lambda r: json_response(dict(r.session)))
    return app


def make(set_session=True, **options):
    config = Configurator()
    config.include("webkit_app.pyramid")
    if set_session:
        config.set_webkit_session(SECRET, **options)

    def pyramid_remember(request):
        request.session["pyramid"] = request.GET["v"]
        request.session.flash("from pyramid")
        return text_response("pyramid stored")

    def pyramid_show(request):
        return json_response({**request.session, "is_isession": ISession.providedBy(
            request.session), "flash": request.session.peek_flash()})

    config.add_route("remember", "/p/remember")
    config.add_view(pyramid_remember, route_name="remember")
    config.add_route("show", "/p/show")
    config.add_view(pyramid_show, route_name="show")
    config.add_webkit_routes(kit())
    return config.make_wsgi_app()


def test_pyramid_views_and_toolkit_handlers_share_one_session():
    t = TestApp(make())
    t.get("/p/remember", {"v": "p1"})
    assert t.get("/kit/show").json == {"pyramid": "p1", "_f_": ["from pyramid"]}
    t.get("/kit/remember", {"v": "k1"})
    shown = t.get("/p/show").json
    assert shown["pyramid"] == "p1" and shown["kit"] == "k1" and shown["is_isession"] is True
    assert shown["flash"] == ["from pyramid"]


def test_the_cookie_is_the_middlewares_format_both_ways():
    pyramid_app = TestApp(make())
    cookie = pyramid_app.get("/p/remember", {"v": "p1"}).headers["Set-Cookie"]
    value = cookie.split(";")[0].partition("=")[2]
    kit_app = TestApp(session(kit(), secret=SECRET))
    assert kit_app.get("/kit/show", headers={"Cookie": f"session={value}"}).json["pyramid"] == "p1"
    back = kit_app.get("/kit/remember", {"v": "k2"}).headers["Set-Cookie"]
    value = back.split(";")[0].partition("=")[2]
    assert pyramid_app.get("/p/show", headers={"Cookie": f"session={value}"}).json["kit"] == "k2"


def test_pyramid_responses_get_the_middlewares_headers():
    t = TestApp(make(max_age=60))
    res = t.get("/p/remember", {"v": "x"})
    assert "; Max-Age=60; " in res.headers["Set-Cookie"] and "HttpOnly" in res.headers["Set-Cookie"]
    shown = t.get("/p/show")
    assert "Set-Cookie" not in shown.headers
    assert shown.headers["Vary"] == "Cookie" and shown.headers["Cache-Control"] == "private"


def test_behind_the_middleware_pyramid_uses_its_session():
    t = TestApp(session(make(), secret=SECRET))
    t.get("/p/remember", {"v": "p1"})
    assert t.get("/kit/show").json["pyramid"] == "p1"


def test_a_tampered_cookie_is_an_empty_pyramid_session():
    t = TestApp(make())
    assert t.get("/p/show", headers={"Cookie": "session=forged"}).json["is_isession"] is True
    assert "pyramid" not in t.get("/p/show", headers={"Cookie": "session=forged"}).json


def test_without_a_session_factory_toolkit_handlers_say_what_is_missing():
    t = TestApp(make(set_session=False))
    with pytest.raises(RuntimeError, match="request.session needs the session middleware"):
        t.get("/kit/show")


def test_a_short_secret_fails_at_configuration():
    with pytest.raises(ValueError, match="at least 32 characters"):
        config = Configurator()
        config.include("webkit_app.pyramid")
        config.set_webkit_session("short")
