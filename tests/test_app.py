"""The dispatcher through WebTest: 404/405/HEAD/OPTIONS, slashes, url_for,
mounting, handler contract."""

import logging
from wsgiref.validate import validator

import pytest
import webob
from webob.dec import wsgify
from webob.exc import (
    HTTPConflict,
    HTTPCreated,
    HTTPException,
    HTTPFound,
    HTTPNotFound,
    HTTPNotModified,
    HTTPSeeOther,
    HTTPTemporaryRedirect,
)
from webob.static import DirectoryApp
from webtest import TestApp

from webkit_app import App, Request, json_response, stream, text_response
from webkit_app.app import ANY_METHOD
from webkit_app.middleware import ErrorMiddleware
from webkit_app.pool import PoolTimeout


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
    ("/users/", "/users"),
    ("/dir", "/dir/"),
    ("/users/?a=1", "/users?a=1"),
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
    assert t.get("/kit/users/", status=308).headers["Location"] == "/kit/users"
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


def test_the_dispatcher_knows_no_pool():
    import sqlite3

    from webkit_app.pool import ConnectionPool

    pool = ConnectionPool(lambda: sqlite3.connect(":memory:", check_same_thread=False),
                          max_size=1, timeout=0.05)
    app = App()

    def handler(request):
        with pool.connection(), pool.connection():  # the second checkout cannot succeed
            return text_response("unreachable")

    app.add_route("GET", "/db", handler)
    with pytest.raises(PoolTimeout, match="no database connection free"):
        TestApp(app).get("/db")  # the application maps it (add_error_handler), not the App


# -- every response the App sends is checked (webob.exc below 400 once skipped it) -----------

INJECTED = {
    "crlf_value": ("X-Note", "a\r\nSet-Cookie: admin=1"),
    "lf_value": ("X-Note", "a\nSet-Cookie: admin=1"),
    "nul_value": ("X-Note", "a\x00b"),
    "non_latin1_value": ("X-Note", "snow \u2603"),
    "crlf_name": ("X-Note\r\nSet-Cookie", "admin=1"),
}


def _injected(make, header):
    resp = make()
    resp.headerlist.append(header)  # a webob.exc / webob.Response header list checks nothing
    return resp


def _bad_status(make, status):
    resp = make()
    resp.status = status  # webob takes any "<int> <text>"
    return resp


UNSENDABLE = {
    "returned_found": lambda h: _injected(lambda: HTTPFound(location="/next"), h),
    "returned_see_other": lambda h: _injected(lambda: HTTPSeeOther(location="/next"), h),
    "returned_307": lambda h: _injected(lambda: HTTPTemporaryRedirect(location="/next"), h),
    "returned_not_modified": lambda h: _injected(HTTPNotModified, h),
    "returned_created": lambda h: _injected(HTTPCreated, h),
    "returned_conflict_4xx": lambda h: _injected(lambda: HTTPConflict("x"), h),
    "returned_webob_response": lambda h: _injected(lambda: webob.Response("x"), h),
    "returned_webob_subclass": lambda h: _injected(lambda: type("Mine", (webob.Response,), {})("x"), h),
}


def _raise(resp):
    if isinstance(resp, HTTPException):
        raise resp
    raise HTTPException("wrapped", resp)  # webob.exc's bare form wraps any response


def _handler(case, header):
    if case.startswith("raised_"):
        build = UNSENDABLE["returned_" + case.removeprefix("raised_")]
        return lambda request: _raise(build(header))
    return lambda request: UNSENDABLE[case](header)


CASES = list(UNSENDABLE) + [c.replace("returned_", "raised_") for c in UNSENDABLE]


def _unsafe_app(handler):
    app = App()
    app.add_route("GET", "/unsafe", handler)
    return app


@pytest.mark.parametrize("header", list(INJECTED.values()), ids=list(INJECTED))
@pytest.mark.parametrize("case", CASES)
def test_header_injection_through_webob_exc_or_foreign_response_is_refused(case, header):
    with pytest.raises(ValueError, match="X-Note"):
        TestApp(_unsafe_app(_handler(case, header))).get("/unsafe")


@pytest.mark.parametrize("status", ["302 Found\r\nSet-Cookie: admin=1", "302 Sn\u2603w", "999 Nope",
                                    "302\tFound", "0302 Found"])
@pytest.mark.parametrize("how", ["returned", "raised"])
def test_bad_status_on_a_webob_exc_redirect_is_refused(how, status):
    def handler(request):
        resp = _bad_status(lambda: HTTPFound(location="/next"), status)
        if how == "raised":
            raise resp
        return resp

    with pytest.raises(ValueError, match="status"):
        TestApp(_unsafe_app(handler)).get("/unsafe")


@pytest.mark.parametrize("case", ["returned_found", "raised_found", "returned_webob_response",
                                  "raised_webob_response"])
def test_header_injection_becomes_a_logged_500_that_never_reaches_the_server(case, caplog):
    served = []

    def start_response(status, headers, exc_info=None):
        served.append((status, headers))

    app = ErrorMiddleware(_unsafe_app(_handler(case, INJECTED["crlf_value"])))
    env = webob.Request.blank("/unsafe").environ
    with caplog.at_level(logging.ERROR, logger="webkit_app"):
        b"".join(app(env, start_response))
    assert [status for status, _ in served] == ["500 Internal Server Error"]
    assert not any("admin" in name + value for name, value in served[0][1])
    assert "X-Note" in caplog.text  # the refusal is logged, naming the header
    res = TestApp(validator(app), lint=True).get("/unsafe", status=500)
    assert "Set-Cookie" not in res.headers


@pytest.mark.parametrize("how", ["returned", "raised"])
def test_valid_webob_exc_redirect_with_extra_header_still_works(how):
    def handler(request):
        resp = HTTPFound(location="/next")
        resp.headers["X-Note"] = "caf\xe9 fine"
        if how == "raised":
            raise resp
        return resp

    res = TestApp(validator(_unsafe_app(handler))).get("/unsafe", status=302)
    assert res.headers["Location"] == "/next"
    assert res.headers["X-Note"] == "caf\xe9 fine"


@pytest.mark.parametrize("how", ["start_response", "raised_found"])
def test_header_injection_from_a_mounted_app_is_refused(how):
    def raw(environ, start_response):
        if how == "raised_found":
            _raise(_injected(lambda: HTTPFound(location="/next"), INJECTED["crlf_value"]))
        start_response("200 OK", [("X-Note", "a\r\nSet-Cookie: admin=1")])
        return [b"x"]

    outer = App()
    outer.mount("/raw", raw)
    with pytest.raises(ValueError, match="X-Note"):
        TestApp(outer).get("/raw/x")


# -- mounts and routes that clash are refused at registration ----------------------------------

MOUNT_CLASHES = [
    # route pattern, mount prefix
    ("/sub/x", "/sub"),
    ("/sub", "/sub"),
    ("/sub/", "/sub"),
    ("/sub/{id:int}", "/sub"),
    ("/sub/{p:path}", "/sub"),
    ("/a/b/c", "/a/b"),
    ("/a/b", "/a/b/"),
]


@pytest.mark.parametrize("pattern,prefix", MOUNT_CLASHES)
def test_mount_over_an_existing_route_raises_naming_both(pattern, prefix):
    app = App()
    app.add_route("GET", pattern, lambda r: text_response("route"))
    with pytest.raises(ValueError) as info:
        app.mount(prefix, DirectoryApp("."))
    assert repr(pattern) in str(info.value) and repr(prefix.rstrip("/")) in str(info.value)
    assert app.mounts == []


@pytest.mark.parametrize("pattern,prefix", MOUNT_CLASHES)
def test_route_under_an_existing_mount_raises_naming_both(pattern, prefix):
    app = App()
    app.mount(prefix, DirectoryApp("."))
    with pytest.raises(ValueError) as info:
        app.add_route("GET", pattern, lambda r: text_response("route"))
    assert repr(pattern) in str(info.value) and repr(prefix.rstrip("/")) in str(info.value)
    assert app.router.routes == []


def _plain_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"mount"]


@pytest.mark.parametrize("pattern,prefix,path,served_by", [
    ("/subway", "/sub", "/subway", "route"),
    ("/", "/sub", "/", "route"),
    ("/a", "/a/b", "/a", "route"),
    ("/a/{x}/c", "/a/b", "/a/z/c", "route"),
    ("/{name}/x", "/sub", "/other/x", "route"),
    ("/{name}/x", "/sub", "/sub/x", "mount"),  # the mount takes its prefix from a parameter
])
def test_mount_beside_routes_it_does_not_hide_is_allowed(pattern, prefix, path, served_by):
    app = App()
    app.add_route("GET", pattern, lambda r: text_response("route"))
    app.mount(prefix, _plain_app)
    assert TestApp(validator(app)).get(path).text == served_by


# -- app.url_for has no request, so no host --------------------------------------------------

def test_app_url_for_absolute_raises_type_error_naming_request_url_for():
    app = make_app()
    with pytest.raises(TypeError, match=r"request\.url_for\(\.\.\., _absolute=True\)"):
        app.url_for("user", id=3, _absolute=True)
    assert app.url_for("user", id=3, _absolute=False) == "/users/3"


# -- any-method routes -------------------------------------------------------------------------

def make_any_app():
    app = App()
    app.add_route(["GET", "POST"], "/e", lambda r: text_response("named " + r.method))
    app.add_route(ANY_METHOD, "/e", lambda r: text_response("any " + r.method))
    app.add_route(ANY_METHOD, "/only-any", lambda r: text_response("any " + r.method))
    return app


@pytest.mark.parametrize("path,method,status,text", [
    ("/e", "GET", 200, "named GET"),
    ("/e", "POST", 200, "named POST"),
    ("/e", "HEAD", 200, ""),
    ("/e", "PROPFIND", 200, "any PROPFIND"),
    ("/e", "M-SEARCH", 200, "any M-SEARCH"),
    ("/e", "DELETE", 200, "any DELETE"),
    ("/only-any", "PUT", 200, "any PUT"),
    ("/only-any", "HEAD", 200, ""),
])
@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")  # lint knows the RFC 9110 few
def test_any_method_route_takes_the_methods_not_named(path, method, status, text):
    res = TestApp(validator(make_any_app())).request(path, method=method, status=status)
    assert res.text == text


@pytest.mark.parametrize("path,allow", [("/e", "GET, HEAD, OPTIONS, POST"),
                                        ("/only-any", "OPTIONS")])
def test_any_method_route_leaves_options_automatic_and_allow_by_name(path, allow):
    res = TestApp(validator(make_any_app())).options(path, status=204)
    assert res.headers["Allow"] == allow


def test_any_method_route_twice_conflicts():
    app = make_any_app()
    with pytest.raises(ValueError, match="conflicts"):
        app.add_route("*", "/e", lambda r: text_response("again"))


@pytest.mark.parametrize("methods", ["GE T", "", "GET\r\n", "G\u00c9T", "GET/1", ["GET", "P OST"]])
def test_methods_must_be_http_tokens(methods):
    with pytest.raises(ValueError, match="invalid methods"):
        App().add_route(methods, "/x", lambda r: None)
