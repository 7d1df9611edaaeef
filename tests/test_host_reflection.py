"""Hostile input round 2: what the toolkit builds from request data.

- The Host header is never reflected into a Location (RFC 9110 allows a
  relative one): the toolkit's Response keeps it as set, and webob.exc
  redirects are re-sent as toolkit responses; a Host that is not a host name
  with an optional port is a 400 even without ALLOWED_HOSTS.
- No control byte reaches a response header from the query or the Host.
- A PATH_INFO that does not start with '/' is a 400 in one place
  (webkit_app.paths.normalized_path), which every path-deciding layer uses.
"""

from __future__ import annotations

import pytest
import webob
from webob.exc import HTTPFound, HTTPMovedPermanently
from webtest import TestApp

from webkit_app import App, Response, json_response, redirect, text_response
from webkit_app.middleware import access_log, basic_auth, errors, hash_password, request_id, stack
from webkit_app.paths import check_host, normalized_path, quote_query, relative_location

HOSTS = [
    pytest.param("localhost@evil.example", id="userinfo"),
    pytest.param("localhost:80@evil.example", id="port-then-userinfo"),
    pytest.param("a\x01b", id="control-byte"),
    pytest.param("a b", id="space"),
    pytest.param("evil.example/path", id="slash"),
    pytest.param("evil.example\\x", id="backslash"),
    pytest.param("x:abc", id="letters-in-port"),
    pytest.param("h\xe9", id="non-ascii"),
    pytest.param("a?b", id="question-mark"),
    pytest.param("a#b", id="hash"),
    pytest.param(":80", id="port-without-host"),
    pytest.param(":", id="colon-alone"),
]


def make_app() -> App:
    app = App()
    app.add_route("GET", "/api", lambda request: text_response("api"), name="api")
    app.add_route("POST", "/notes", lambda request: json_response(
        {"id": 1}, status=201, headers={"Location": request.url_for("api")}))
    app.add_route("GET", "/go", lambda request: redirect("/api"))

    def raised(request):
        raise HTTPFound(location="/api")

    app.add_route("GET", "/raised", raised)
    app.add_route("GET", "/returned", lambda request: HTTPMovedPermanently(location="/api"))
    app.add_route("GET", "/admin/users/{id:int}", lambda request: text_response("secret"))
    return app


@pytest.mark.parametrize("host", HOSTS)
def test_a_host_that_is_no_host_name_is_a_400(host):
    res = TestApp(make_app()).get("/api", headers={"Host": host}, status=400,
                                  extra_environ={"HTTP_HOST": host})
    assert "is not a host name with an optional port" in res.json["detail"]
    assert all(ord(c) >= 0x20 for _, v in res.headerlist for c in v)


@pytest.mark.parametrize("host", ["example.com", "example.com:8080", "127.0.0.1:1",
                                  "[::1]:8000", "[2001:db8::1]", "xn--bcher-kva.example",
                                  "localhost:", ""])
def test_real_hosts_pass(host):
    check_host({"HTTP_HOST": host})


@pytest.mark.parametrize("path, method", [
    pytest.param("/api/", "GET", id="slash-redirect-308"),
    pytest.param("/notes", "POST", id="created-201"),
    pytest.param("/go", "GET", id="redirect-helper"),
    pytest.param("/raised", "GET", id="raised-webob-exc"),
    pytest.param("/returned", "GET", id="returned-webob-exc"),
])
def test_location_is_relative_whatever_the_host(path, method):
    res = TestApp(make_app()).request(path, method=method, headers={"Host": "evil.example"},
                                      expect_errors=True)
    assert res.status_int in (201, 301, 302, 303, 308)
    assert res.headers["Location"] in ("/api", "/api/"), res.headers["Location"]
    assert "evil" not in str(res.headerlist)


def test_a_raised_redirect_keeps_its_own_headers_and_status():
    app = App()

    def moved(request):
        raise HTTPMovedPermanently(location="/new", headers=[("X-Why", "renamed")])

    app.add_route("GET", "/old", moved)
    res = TestApp(app).get("/old", status=301)
    assert res.headers["Location"] == "/new" and res.headers["X-Why"] == "renamed"
    assert res.text == "301 Moved Permanently\n"


@pytest.mark.parametrize("query, expected", [
    pytest.param("a=\x1b[31m", "a=%1B%5B31m", id="escape-sequence"),
    pytest.param("a=\x00", "a=%00", id="nul"),
    pytest.param("a=b c", "a=b%20c", id="space"),
    pytest.param("a=\xe9", "a=%E9", id="latin-1-byte"),
    pytest.param("a=%41&b=%zz", "a=%41&b=%zz", id="escapes-kept"),
])
def test_the_slash_redirect_percent_encodes_the_query(query, expected):
    req = webob.Request.blank("/api/")
    req.environ["QUERY_STRING"] = query  # NOTE: raw, as a server passes it
    res = req.get_response(make_app())
    assert res.status_int == 308
    assert res.headers["Location"] == "/api?" + expected
    assert quote_query(query) == expected


@pytest.mark.parametrize("value, expected", [
    ("/a", "/a"), ("//evil.example/x", "/%2fevil.example/x"), ("/\\evil", "/%2fevil"),
    ("/\t/evil", "/%2fevil"), ("https://ok.example/", "https://ok.example/"),
    (" https://evil.example/", "/ https://evil.example/"), ("\x1f//evil", "/\x1f//evil"),
    ("\t//evil", "/%2fevil"), ("", ""),
])
def test_relative_location_turns_protocol_relative_into_a_path(value, expected):
    assert relative_location(value) == expected


def test_webob_still_routes_location_through_abs_headerlist():
    """The reliance on WebOb's private hook, in one place: if a WebOb release
    stops calling it, Locations would become absolute again and this fails."""
    assert callable(getattr(webob.Response, "_abs_headerlist", None))
    resp = Response(status=302, headers={"Location": "/x"})
    seen = []
    resp.__call__(webob.Request.blank("/", headers={"Host": "evil.example"}).environ,
                  lambda status, headers, exc_info=None: seen.extend(headers))
    assert ("Location", "/x") in seen


@pytest.mark.parametrize("path_info", ["Xadmin/users/1", "admin/users/1", "xadmin/users/1"])
def test_a_path_without_a_leading_slash_is_a_400_everywhere(path_info):
    users = {"ann": hash_password("pw")}
    protected = stack(make_app(), request_id, access_log, errors,
                      (basic_auth, {"users": users, "protect": ("/admin",)}))
    for app in (make_app(), protected):
        # NOTE: WebTest's lint refuses such an environ; waitress passes it (test_raw_sockets)
        res = TestApp(app, lint=False).get("/", extra_environ={"PATH_INFO": path_info},
                                           status=400)
        assert res.json["detail"] == "The request path must start with '/'"
    with pytest.raises(webob.exc.HTTPBadRequest, match="must start with"):
        normalized_path({"PATH_INFO": path_info})


def test_the_cache_of_checked_hosts_is_bounded():
    from webkit_app import paths

    for i in range(1000):
        check_host({"HTTP_HOST": f"h{i}.example:{i}"})
    check_host({"HTTP_HOST": "a" * 10_000})
    assert len(paths._GOOD_HOSTS) <= paths._GOOD_HOSTS_MAX
    assert all(len(h) <= 255 for h in paths._GOOD_HOSTS)
    with pytest.raises(webob.exc.HTTPBadRequest, match="not a host name"):
        check_host({"HTTP_HOST": "localhost@evil.example"})  # never cached as good
