"""stack/compose, and the whole middleware stack around plain WSGI apps: streaming, close, errors."""

import base64
import logging
import threading

import pytest
import webtest
from webtest.lint import middleware as lint

from webkit_app.middleware import (
    access_log,
    basic_auth,
    compose,
    cors,
    errors,
    hash_password,
    request_id,
    stack,
)

A = "https://a.com"
USERS = {"admin": hash_password("s3cret", "pbkdf2:sha256:1000")}
AUTH = "Basic " + base64.b64encode(b"admin:s3cret").decode()


def tagger(name, order):
    """A middleware factory recording the order requests pass through."""

    def middleware(app, **kw):
        def wrapped(environ, start_response):
            order.append((name, kw))
            return app(environ, start_response)
        return wrapped

    return middleware


def ok_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_stack_reads_top_down_in_request_order():
    order = []
    app = stack(ok_app, tagger("outer", order), (tagger("middle", order), {"x": 1}),
                tagger("inner", order))
    webtest.TestApp(app).get("/")
    assert order == [("outer", {}), ("middle", {"x": 1}), ("inner", {})]


def test_compose_builds_a_reusable_wrapper():
    order = []
    wrap = compose(tagger("a", order), tagger("b", order))
    webtest.TestApp(wrap(ok_app)).get("/")
    webtest.TestApp(wrap(ok_app)).get("/")
    assert [name for name, _ in order] == ["a", "b", "a", "b"]


def test_an_empty_stack_is_the_app():
    assert stack(ok_app) is ok_app


@pytest.mark.parametrize("layer", [
    "errors",
    None,
    (errors,),
    (errors, {"debug": True}, "extra"),
    (errors, ["debug"]),
    ("errors", {}),
])
def test_bad_layers_are_refused_at_start_up(layer):
    with pytest.raises(TypeError):
        stack(ok_app, layer)


class Stream:
    """A streamed body holding a resource: yields chunks one by one, records close()."""

    def __init__(self, events, gate=None):
        self.events, self.gate, self.index = events, gate, 0

    def __iter__(self):
        return self

    def __next__(self):
        self.index += 1
        if self.index == 2 and self.gate is not None:
            self.events.append("waiting")
            assert self.gate.wait(5), "the first chunk never got out"
        if self.index > 3:
            self.events.append("exhausted")
            raise StopIteration
        self.events.append(f"chunk{self.index}")
        return f"chunk{self.index};".encode()

    def close(self):
        self.events.append("close")


def stream_app(events, gate=None):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["REQUEST_METHOD"] == "HEAD":
            return _Empty(events)
        return Stream(events, gate)
    return app


class _Empty:
    def __init__(self, events):
        self.events = events

    def __iter__(self):
        return iter(())

    def close(self):
        self.events.append("close")


def full_stack(app, logger="test.stack.access"):
    return stack(
        app,
        request_id,
        (access_log, {"logger": logger}),
        (cors, {"allow_origins": (A,), "allow_credentials": True}),
        errors,
        (basic_auth, {"users": USERS, "protect": ("/admin",)}),
    )


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def access():
    logger = logging.getLogger("test.stack.access")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)


def test_a_streamed_response_goes_through_the_whole_stack_unbuffered(access):
    events, gate, seen = [], threading.Event(), {}
    app = lint(full_stack(stream_app(events, gate)))

    def start_response(status, headers, exc_info=None):
        seen.update(status=status, headers=dict(headers))

    environ = webtest.TestRequest.blank("/admin/feed", headers={
        "Origin": A, "Authorization": AUTH}).environ
    body = app(environ, start_response)
    it = iter(body)
    # The first chunk is out while the generator is still blocked on the gate.
    assert next(it) == b"chunk1;"
    assert events == ["chunk1"] and access.records == []
    assert seen["status"] == "200 OK"
    assert seen["headers"]["Access-Control-Allow-Origin"] == A
    assert seen["headers"]["Cache-Control"] == "private"
    assert len(seen["headers"]["X-Request-ID"]) == 32
    gate.set()
    assert list(it) == [b"chunk2;", b"chunk3;"]
    body.close()
    assert events == ["chunk1", "waiting", "chunk2", "chunk3", "exhausted", "close"]
    [record] = access.records
    assert (record.status, record.bytes, record.remote_user) == (200, 21, "admin")
    assert record.request_id == seen["headers"]["X-Request-ID"]


def test_streamed_body_through_webtest_is_whole_and_closed(access):
    events = []
    res = webtest.TestApp(full_stack(stream_app(events))).get("/feed", headers={"Origin": A})
    assert res.body == b"chunk1;chunk2;chunk3;"
    assert events[-1] == "close" and events.count("close") == 1
    assert res.headers.getall("Vary") == ["Origin"]


def test_closing_early_releases_the_inner_body(access):
    events = []
    app = lint(full_stack(stream_app(events)))
    body = app(webtest.TestRequest.blank("/feed").environ, lambda s, h, e=None: None)
    assert next(iter(body)) == b"chunk1;"
    body.close()
    assert events == ["chunk1", "close"]
    assert [r.bytes for r in access.records] == [7]


def test_head_through_the_stack_closes_the_body(access):
    events = []
    res = webtest.TestApp(full_stack(stream_app(events))).head("/feed")
    assert res.body == b"" and events == ["close"]


def test_an_exception_becomes_a_500_with_cors_headers_and_is_logged_once(access, caplog):
    caplog.set_level(logging.ERROR, logger="webkit_app")
    app = webtest.TestApp(full_stack(stream_app([])))
    res = app.get("/boom", headers={"Origin": A, "X-Request-ID": "rid-500"}, status=500)
    assert res.json["request_id"] == "rid-500"
    assert res.headers["Access-Control-Allow-Origin"] == A
    assert res.headers["X-Request-ID"] == "rid-500"
    assert [(r.status, r.request_id) for r in access.records] == [(500, "rid-500")]
    assert [r.request_id for r in caplog.records if r.name == "webkit_app"] == ["rid-500"]


def test_protected_paths_need_credentials_and_preflights_do_not(access):
    app = webtest.TestApp(full_stack(ok_app))
    res = app.get("/admin/x", headers={"Origin": A}, status=401)
    assert res.headers["Access-Control-Allow-Origin"] == A  # the browser can read the 401
    app.options("/admin/x", headers={"Origin": A, "Access-Control-Request-Method": "GET"},
                status=204)
    assert app.get("/public").text == "ok"
    assert [r.status for r in access.records] == [401, 204, 200]
