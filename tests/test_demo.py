"""The demo's basic endpoints, through WebTest with lint on."""

from wsgiref.validate import validator

import pytest
from webtest import TestApp

from webkit_app.demo import make_demo


@pytest.fixture
def demo():
    return TestApp(validator(make_demo()))


def test_home_is_html_with_links(demo):
    res = demo.get("/")
    assert res.content_type == "text/html"
    assert 'href="/api/echo"' in res.text and 'href="/users/1"' in res.text


def test_home_links_follow_script_name():
    res = TestApp(make_demo(), extra_environ={"SCRIPT_NAME": "/demo"}).get("/")
    assert 'href="/demo/api"' in res.text


def test_api_index(demo):
    assert demo.get("/api").json["endpoints"]["user"] == "/users/1"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "PROPFIND",
                                    "REPORT", "M-SEARCH", "PURGE"])
@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")  # lint knows the RFC 9110 few
def test_echo_any_method(demo, method):
    res = demo.request("/api/echo?a=1&a=2", method=method, headers={"Cookie": "c=3"})
    assert res.json["method"] == method
    assert res.json["query"] == {"a": ["1", "2"]}
    assert res.json["cookies"] == {"c": "3"}


def test_echo_options_stays_the_automatic_204_with_allow(demo):
    res = demo.options("/api/echo", status=204)
    assert res.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"


@pytest.mark.parametrize("method", ["GET", "POST", "PROPFIND"])
@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
def test_cve_2023_30861_echo_of_cookies_is_private_and_varies_on_cookie(demo, method):
    res = demo.request("/api/echo", method=method, headers={"Cookie": "session=s3cret"})
    assert res.json["cookies"] == {"session": "s3cret"}
    assert res.headers["Vary"] == "Cookie"
    assert res.headers["Cache-Control"] == "private"


def test_echo_form_and_json(demo):
    assert demo.post("/api/echo", {"x": "y"}).json["form"] == {"x": "y"}
    assert demo.post_json("/api/echo", {"k": [1]}).json["json"] == {"k": [1]}


def test_echo_masks_secret_headers(demo):
    res = demo.get("/api/echo", headers={"Authorization": "Basic dTpw", "X-Other": "v"})
    assert res.json["headers"]["Authorization"] == "***"
    assert res.json["headers"]["X-Other"] == "v"


def test_echo_bad_json_is_400(demo):
    res = demo.post("/api/echo", b"{oops", content_type="application/json", status=400)
    assert "Malformed JSON" in res.json["detail"]


def test_users_int_param(demo):
    assert demo.get("/users/12").json == {"id": 12, "name": "user12", "url": "/users/12"}
    demo.get("/users/twelve", status=404)


def test_stream_has_1000_lines_without_length(demo):
    res = demo.get("/stream")
    lines = res.text.splitlines()
    assert len(lines) == 1000 and lines[0] == "line 0" and lines[-1] == "line 999"


def test_stream_is_lazy():
    app = make_demo()
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/stream", "SERVER_NAME": "x",
           "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": None}
    started = []
    body = app(env, lambda status, headers, exc_info=None: started.append(dict(headers)))
    try:
        assert "Content-Length" not in started[0]  # not buffered to compute a length
        it = iter(body)
        assert next(it) == b"line 0\n"  # produced before the other 999 lines exist
        assert next(it) == b"line 1\n"
    finally:
        body.close()


def test_error_and_forbidden(demo):
    assert demo.get("/error", status=400).json["title"] == "Bad Request"
    assert demo.get("/forbidden", status=403).json["title"] == "Forbidden"


def test_method_not_allowed(demo):
    assert demo.post("/users/1", status=405).headers["Allow"] == "GET, HEAD, OPTIONS"
