"""The dispatcher through WebTest: 404/405/HEAD/OPTIONS, slashes, url_for,
mounting, handler contract."""

import logging
from wsgiref.validate import validator

import pytest
import webob
from webob.dec import wsgify
from webob.exc import HTTPConflict, HTTPNotFound
from webob.static import DirectoryApp
from webtest import TestApp

from webkit_app import App, Request, json_response, stream, text_response


def make_app(**kwargs):
    app = App(**kwargs)

    @app.route("/users", methods=["GET", "POST"], name="users")
    def users(request):
        assert isinstance(request, Request)
        return text_response(f"{request.method} users")

    @app.route("/users/{id:int}", name="user")
    def user(request):
        return json_response({"id": request.urlvars["id"], "self": request.url_for("user", id=7)})

    @app.route("/dir/", name="dir")
    def directory(request):
        return text_response("dir")

    @app.route("/conflict")
    def conflict(request):
        raise HTTPConflict("already there")

    @app.route("/links")
    def links(request):
        return json_response({
            "query": request.url_for("users", _query={"q": "a b"}),
            "absolute": request.url_for("user", id=3, _absolute=True),
        })

    @app.route("/echo", methods=["PUT"])
    def echo(request):
        return json_response(request.json)

    return app


@pytest.fixture
def testapp():
    return TestApp(validator(make_app()))


def test_get_and_converted_params(testapp):
    assert testapp.get("/users/42").json == {"id": 42, "self": "/users/7"}


def test_unknown_path_is_404_json(testapp):
    res = testapp.get("/nope", status=404)
    assert res.json["status"] == 404 and res.json["title"] == "Not Found"
    assert "/nope" in res.json["detail"]


def test_404_as_html_escapes_the_path(testapp):
    res = testapp.get("/<script>", headers={"Accept": "text/html"}, status=404)
    assert res.content_type == "text/html"
    assert "<script>" not in res.text and "&lt;script&gt;" in res.text


def test_405_has_allow_header(testapp):
    res = testapp.delete("/users", status=405)
    assert res.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert res.json["status"] == 405


def test_head_uses_get_and_drops_body(testapp):
    get = testapp.get("/users/5")
    head = testapp.head("/users/5")
    assert head.body == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.content_type == get.content_type


def test_options_answers_allow(testapp):
    res = testapp.options("/users/1")
    assert res.status_int == 204 and res.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_options_handler_wins():
    app = App()
    app.add_route("OPTIONS", "/x", lambda r: text_response("mine"))
    assert TestApp(app).options("/x").text == "mine"


def test_post_routed(testapp):
    assert testapp.post("/users").text == "POST users"


@pytest.mark.parametrize("path,location", [
    ("/users/", "http://localhost/users"),
    ("/dir", "http://localhost/dir/"),
    ("/users/?a=1", "http://localhost/users?a=1"),
])
def test_trailing_slash_redirects_308(testapp, path, location):
    res = testapp.get(path, status=308)
    assert res.headers["Location"] == location


def test_trailing_slash_redirect_keeps_method(testapp):
    assert testapp.post("/users/", status=308).headers["Location"].endswith("/users")


def test_trailing_slash_redirect_can_be_off():
    TestApp(make_app(redirect_slashes=False)).get("/users/", status=404)


def test_raised_http_exception_is_rendered(testapp):
    res = testapp.get("/conflict", status=409)
    assert res.json == {"status": 409, "title": "Conflict", "detail": "already there"}


@pytest.mark.parametrize("accept,ctype", [
    ("text/plain", "text/plain"),
    ("text/html", "text/html"),
    ("application/json", "application/json"),
    ("*/*", "application/json"),
    ("image/png", "application/json"),
])
def test_error_format_follows_accept(testapp, accept, ctype):
    res = testapp.get("/conflict", headers={"Accept": accept}, status=409)
    assert res.content_type == ctype
    assert "<br" not in res.text


def test_invalid_utf8_path_is_400():
    res = TestApp(make_app()).get("/%ff", status=400)
    assert "UTF-8" in res.json["detail"]


def test_url_for_query_and_absolute(testapp):
    res = testapp.get("/links").json
    assert res == {"query": "/users?q=a+b", "absolute": "http://localhost/users/3"}


def test_url_for_errors():
    app = make_app()
    with pytest.raises(KeyError, match="no route named 'missing'"):
        app.url_for("missing")
    with pytest.raises(KeyError, match="needs parameter"):
        app.url_for("user")


def test_url_for_includes_script_name():
    res = TestApp(make_app(), extra_environ={"SCRIPT_NAME": "/kit"}).get("/users/1")
    assert res.json["self"] == "/kit/users/7"


def test_urlvars_survive_wsgi_hops():
    app = App()

    @wsgify
    def inner(request):
        return text_response(repr(request.urlvars))

    app.add_route("GET", "/x/{n:int}", lambda r: r.get_response(inner))
    assert TestApp(app).get("/x/5").text == "{'n': 5}"


def test_handler_returning_non_response_is_500_naming_handler(caplog):
    app = App()

    def bad_handler(request):
        return "not a response"

    app.add_route("GET", "/bad", bad_handler)
    with caplog.at_level(logging.ERROR, logger="webkit_app"):
        TestApp(app).get("/bad", status=500)
    assert "bad_handler" in caplog.text


def test_returned_foreign_response_with_crlf_header_is_refused():
    app = App()

    def handler(request):
        resp = webob.Response("x")
        resp.headerlist.append(("X-Evil", "a\r\nSet-Cookie: s=1"))
        return resp

    app.add_route("GET", "/evil", handler)
    with pytest.raises(ValueError, match="X-Evil"):
        TestApp(app).get("/evil")


def test_route_after_first_request_is_an_error():
    app = make_app()
    TestApp(app).get("/users")
    with pytest.raises(RuntimeError):
        app.add_route("GET", "/late", lambda r: None)


def test_duplicate_name_and_bad_methods():
    app = make_app()
    with pytest.raises(ValueError, match="already used"):
        app.add_route("GET", "/other", lambda r: None, name="users")
    with pytest.raises(ValueError, match="invalid methods"):
        app.add_route("GE T", "/other", lambda r: None)


def test_routes_listing():
    rows = {r.pattern: r for r in make_app().routes}
    assert rows["/users"].methods == ("GET", "POST") and rows["/users"].name == "users"
    assert rows["/users/{id:int}"].handler.endswith("make_app.<locals>.user")


def test_mount_another_app_shifts_script_name():
    sub = make_app()
    outer = App()
    outer.add_route("GET", "/", lambda r: text_response("outer"))
    outer.mount("/kit", sub)
    t = TestApp(outer)
    assert t.get("/").text == "outer"
    assert t.get("/kit/users/1").json["self"] == "/kit/users/7"
    assert t.get("/kit/users/", status=308).headers["Location"] == "http://localhost/kit/users"
    assert t.get("/kit/nothing", status=404).json["status"] == 404


def test_mount_directory_app(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    outer = App()
    outer.mount("/static", DirectoryApp(str(tmp_path)))
    t = TestApp(outer)
    assert t.get("/static/a.txt").text == "hello"
    t.get("/static/../etc/passwd", status=[403, 404])


def test_mount_wsgify_raising_http_exception():
    @wsgify
    def raiser(request):
        raise HTTPNotFound("inner")

    outer = App()
    outer.mount("/sub", raiser)
    assert TestApp(outer).get("/sub/x", status=404).status_int == 404


def test_allowed_hosts():
    app = make_app(allowed_hosts=["example.com"])
    t = TestApp(app)
    t.get("/users", headers={"Host": "example.com"})
    t.get("/users", headers={"Host": "example.com:8080"})
    for host in ("good.com@evil.com", "evil.com", "example.com.evil.org", "x:abc"):
        res = t.get("/users", headers={"Host": host}, status=400)
        assert "not allowed" in res.json["detail"]


def test_head_closes_unstarted_stream():
    released = []
    app = App()

    def gen():
        try:
            yield b"x"
        finally:
            released.append("gen")

    app.add_route("GET", "/s", lambda r: stream(gen(), on_close=lambda: released.append("cb")))
    TestApp(app).head("/s")
    assert released == ["cb"]  # the generator never started; the callback still ran


@pytest.mark.parametrize("raw_uri,status", [("/a%zz", 400), ("/a%2", 400), ("/a%25zz", 200)])
def test_invalid_percent_escape_left_by_the_server_is_400(raw_uri, status):
    app = App()
    app.add_route("GET", "/{name}", lambda r: text_response(r.urlvars["name"]))
    res = TestApp(app).get("/a%25zz", extra_environ={"RAW_URI": raw_uri}, status=status)
    if status == 200:
        assert res.text == "a%zz"


def test_pool_timeout_in_a_handler_is_503_with_retry_after():
    import sqlite3

    from webkit_app.pool import ConnectionPool

    pool = ConnectionPool(lambda: sqlite3.connect(":memory:", check_same_thread=False),
                          max_size=1, timeout=0.05)
    app = App()

    def handler(request):
        with pool.connection(), pool.connection():  # the second checkout cannot succeed
            return text_response("unreachable")

    app.add_route("GET", "/db", handler)
    res = TestApp(app).get("/db", status=503)
    assert res.headers["Retry-After"] == "1"
    assert res.json["status"] == 503 and "try again" in res.json["detail"]
