"""body_limit: App's body limit for any WSGI app, and create_app's wrap() using it."""

from io import BytesIO

import pytest
import webtest
from webob import Request as WebObRequest
from webob.dec import wsgify
from webob.exc import HTTPRequestEntityTooLarge

from webkit_app import App, Request
from webkit_app.body import LimitedInput
from webkit_app.demo import Config
from webkit_app.demo.factory import wrap
from webkit_app.middleware import body_limit, errors, stack
from webkit_app.response import json_response, text_response

SECRET = "body-limit-test-" + "k3y" * 12


@wsgify
def reader(req):
    """A plain WebOb app reading the whole body (as a Pyramid view would)."""
    data = req.body_file.read()
    return text_response(f"{len(data)} bytes")


def chunked(app, body: bytes, **kw):
    """POST ``body`` with no Content-Length and the input marked terminated (chunked)."""
    environ = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked", **kw}
    req = WebObRequest.blank("/", method="POST", environ=environ)
    req.environ["wsgi.input"] = BytesIO(body)
    if "CONTENT_LENGTH" not in kw:
        req.environ.pop("CONTENT_LENGTH", None)
    return req.get_response(app)


@pytest.fixture
def limited():
    return webtest.TestApp(stack(reader, errors, (body_limit, {"max_size": 10})))


@pytest.mark.parametrize(("size", "status"), [(0, 200), (10, 200), (11, 413), (10_000, 413)])
def test_content_length_over_the_limit_is_413_before_the_app(limited, size, status):
    res = limited.post("/", b"x" * size, content_type="application/octet-stream", status=status)
    assert res.text == f"{size} bytes" if status == 200 else "exceeds 10" in res.text


@pytest.mark.parametrize("length", ["abc", "+3", "1_0", "-1", "\u0663"])
def test_content_length_not_ascii_digits_is_400(length):
    res = chunked(stack(reader, errors, (body_limit, {"max_size": 10})), b"abc",
                  CONTENT_LENGTH=length)
    assert res.status_int == 400 and "not a decimal number" in res.text


@pytest.mark.parametrize(("size", "status"), [(10, 200), (11, 413), (5000, 413)])
def test_a_body_without_length_is_cut_off_at_the_limit(size, status):
    res = chunked(stack(reader, errors, (body_limit, {"max_size": 10})), b"y" * size)
    assert res.status_int == status
    if status == 413:
        assert "exceeds 10 bytes" in res.text


def test_limited_input_reads_lines_and_counts():
    stream = LimitedInput(BytesIO(b"ab\ncd\nef"), 8)
    assert stream.readline() == b"ab\n" and list(stream) == [b"cd\n", b"ef"]
    assert stream.count == 8 and stream.read() == b""
    with pytest.raises(HTTPRequestEntityTooLarge, match="exceeds 3 bytes"):
        LimitedInput(BytesIO(b"abcd"), 3).read()
    with pytest.raises(HTTPRequestEntityTooLarge):
        LimitedInput(BytesIO(b"abcd\n"), 3).readlines()


def test_toolkit_requests_inside_get_the_same_limit():
    seen = {}

    @wsgify(RequestClass=Request)
    def app(req):
        seen["limit"] = req.max_body_size
        return json_response(req.json)

    t = webtest.TestApp(stack(app, errors, (body_limit, {"max_size": 64})))
    t.post_json("/", {"a": 1})
    assert seen["limit"] == 64
    t.post_json("/", {"a": "b" * 100}, status=413)


def test_wrap_limits_bodies_of_an_app_that_is_not_an_app():
    """Regression: the body limit was only the App's own, so wrap() around a plain
    WSGI app (README: "the same stack around any app") let any size through."""
    config = Config(secret_key=SECRET, max_body_size=10)
    t = webtest.TestApp(wrap(reader, config))
    t.post("/", b"x" * 10, content_type="application/octet-stream", status=200)
    t.post("/", b"x" * 1000, content_type="application/octet-stream", status=413)


def test_wrap_leaves_an_app_to_its_own_limit():
    app = App(max_body_size=10)
    app.add_route("POST", "/", lambda request: text_response(str(len(request.body))))
    wrapped = wrap(app, Config(secret_key=SECRET, max_body_size=10))
    inner = wrapped
    while not isinstance(inner, App):  # NOTE: every layer keeps the next one as .app
        assert not isinstance(inner, body_limit)
        inner = inner.app


@pytest.mark.parametrize("bad", [-1, "ten", 1.5, None])
def test_bad_max_size_is_refused(bad):
    with pytest.raises(ValueError, match="max_size"):
        body_limit(reader, max_size=bad)
