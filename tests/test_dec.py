"""webkit_app.wsgify: webob.dec.wsgify with the strict Request and the toolkit's error pages."""

import logging

import pytest
import webob
import webob.dec
import webtest
from webob.exc import HTTPForbidden, HTTPFound, HTTPNotFound, HTTPServiceUnavailable

from webkit_app import Request, json_response, text_response, wsgify
from webkit_app.middleware import errors


@wsgify
def note(req):
    if "id" not in req.GET:
        raise HTTPNotFound("no note <b>here</b>")
    return json_response({"id": req.GET["id"], "request": type(req).__name__})


@wsgify
def echo(req):
    return json_response(req.json)


def test_the_function_gets_the_toolkits_request():
    res = webtest.TestApp(note).get("/?id=7")
    assert res.json == {"id": "7", "request": "Request"}
    assert issubclass(wsgify.RequestClass, Request)


def test_a_raised_error_is_rendered_as_the_dispatcher_renders_it():
    res = webtest.TestApp(note).get("/", status=404)
    assert res.content_type == "application/json"
    assert res.json == {"status": 404, "title": "Not Found", "detail": "no note <b>here</b>"}


def test_an_error_page_in_html_escapes_the_detail():
    res = webtest.TestApp(note).get("/", headers={"Accept": "text/html"}, status=404)
    assert res.content_type == "text/html"
    assert "&lt;b&gt;here&lt;/b&gt;" in res.text and "<b>" not in res.text


def test_a_returned_error_keeps_its_status_and_headers():
    @wsgify
    def busy(req):
        return HTTPServiceUnavailable("try later", headers=[("Retry-After", "5")])

    res = webtest.TestApp(busy).get("/", headers={"Accept": "text/plain"}, status=503)
    assert res.headers["Retry-After"] == "5"
    assert res.content_type == "text/plain" and "try later" in res.text


@pytest.mark.parametrize("body, status, detail", [
    (b"{", 400, "Malformed JSON"),
    (b"1e999", 400, "out of range"),
])
def test_strict_parsing_errors_are_clean_4xx(body, status, detail):
    res = webtest.TestApp(echo).post("/", body, content_type="application/json", status=status)
    assert detail in res.json["detail"]


def test_a_wrong_content_type_is_415():
    res = webtest.TestApp(echo).post("/", b"{}", content_type="text/plain", status=415)
    assert res.json["status"] == 415


def test_a_raised_redirect_passes_through():
    @wsgify
    def moved(req):
        raise HTTPFound(location="/elsewhere")

    res = webtest.TestApp(moved).get("/", status=302)
    assert res.headers["Location"].endswith("/elsewhere")


@pytest.mark.parametrize("raise_it", [False, True])
def test_a_header_with_a_newline_never_reaches_the_server(raise_it, caplog):
    @wsgify
    def injected(req):
        resp = HTTPFound(location="/ok")
        resp.headers["X-Next"] = "a\r\nSet-Cookie: admin=1"
        if raise_it:
            raise resp
        return resp

    with pytest.raises(ValueError, match="X-Next"):
        webtest.TestApp(injected).get("/")
    with caplog.at_level(logging.ERROR, logger="webkit_app"):
        res = webtest.TestApp(errors(injected)).get("/", status=500)
    assert "Set-Cookie" not in res.headers and "admin=1" not in res.text


def test_a_plain_webob_response_with_safe_headers_is_sent_as_it_is():
    @wsgify
    def plain(req):
        return webob.Response(b"ok", content_type="text/plain", headers={"X-Ok": "1"})

    res = webtest.TestApp(plain).get("/")
    assert res.body == b"ok" and res.headers["X-Ok"] == "1"


def test_strings_and_none_keep_webobs_meaning():
    @wsgify
    def greeting(req):
        return "hello"

    @wsgify
    def via_response(req):
        req.response.text = "set on req.response"
        return None

    assert webtest.TestApp(greeting).get("/").text == "hello"
    assert webtest.TestApp(via_response).get("/").text == "set on req.response"


def test_middleware_form_renders_its_errors_and_passes_requests_on():
    @wsgify.middleware
    def admin_only(req, app):
        if req.headers.get("X-User") != "admin":
            raise HTTPForbidden("admins only")
        return app

    app = webtest.TestApp(admin_only(note))
    assert app.get("/?id=1", headers={"X-User": "admin"}).json["id"] == "1"
    res = app.get("/?id=1", status=403)
    assert res.json == {"status": 403, "title": "Forbidden", "detail": "admins only"}


def test_a_method_decorated_on_a_class_works():
    class Greeter:
        def __init__(self, name):
            self.name = name

        @wsgify
        def __call__(self, req):
            if req.path_info != "/":
                raise HTTPNotFound(f"nothing at {req.path_info}")
            return text_response(f"hello {self.name}")

    app = webtest.TestApp(Greeter("ada"))
    assert app.get("/").text == "hello ada"
    assert app.get("/x", status=404).json["detail"] == "nothing at /x"


def test_under_the_errors_middleware_the_rendering_is_the_same():
    # NOTE: with webob.dec.wsgify the errors middleware gets WebOb's own body.
    res = webtest.TestApp(errors(note)).get("/", status=404)
    assert res.json == {"status": 404, "title": "Not Found", "detail": "no note <b>here</b>"}

    @webob.dec.wsgify
    def plain(req):
        raise HTTPNotFound("no note")

    webobs = webtest.TestApp(errors(plain)).get("/", headers={"Accept": "application/json"},
                                                 status=404)
    assert webobs.json["code"] == "404 Not Found" and "<br />" in webobs.json["message"]
