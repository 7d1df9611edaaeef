"""request_id: reuse a safe incoming id or make one; environ, header and log records."""

import logging
import logging.config
import re

import pytest
import webtest

from webkit_app.middleware import (
    ENVIRON_KEY,
    RequestIdFilter,
    current_request_id,
    get_request_id,
    request_id,
)

HEX32 = re.compile(r"[0-9a-f]{32}")


class Body:
    """A closing iterator that logs while iterated and records close()."""

    def __init__(self, chunks, events, log=None):
        self._chunks = iter(chunks)
        self.events = events
        self.log = log

    def __iter__(self):
        return self

    def __next__(self):
        chunk = next(self._chunks)
        if self.log:
            self.log.warning("chunk %s", chunk)
        return chunk

    def close(self):
        self.events.append("close")


def echo_app(environ, start_response):
    """Answers with the id it sees in the environ; sets its own X-Request-ID too."""
    rid = environ.get(ENVIRON_KEY, "none").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Request-ID", "from-app")])
    return [rid]


def test_generates_an_id_when_none_is_sent():
    res = webtest.TestApp(request_id(echo_app)).get("/")
    assert HEX32.fullmatch(res.text)
    assert res.headers.getall("X-Request-ID") == [res.text]


def test_each_request_gets_a_new_id():
    app = webtest.TestApp(request_id(echo_app))
    assert app.get("/").text != app.get("/").text


@pytest.mark.parametrize("incoming", [
    "abc-123",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "req_1.2:3+4/5=@~",
    "x" * 128,
])
def test_reuses_a_short_safe_incoming_id(incoming):
    res = webtest.TestApp(request_id(echo_app)).get("/", headers={"X-Request-ID": incoming})
    assert res.text == incoming
    assert res.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", [
    "",
    "a b",
    "x" * 129,
    "<script>alert(1)</script>",
    'a"b',
    "a,b",
    "caf\xc3\xa9",  # UTF-8 bytes as WSGI latin-1
    "a\tb",
])
def test_replaces_an_unsafe_incoming_id(incoming):
    res = webtest.TestApp(request_id(echo_app)).get(
        "/", extra_environ={"HTTP_X_REQUEST_ID": incoming})
    assert HEX32.fullmatch(res.text)
    assert res.headers["X-Request-ID"] == res.text


def test_custom_header_name():
    app = webtest.TestApp(request_id(echo_app, header="X-Correlation-ID"))
    res = app.get("/", headers={"X-Correlation-ID": "corr-1", "X-Request-ID": "other"})
    assert res.text == "corr-1"
    assert res.headers["X-Correlation-ID"] == "corr-1"


def test_the_apps_own_header_is_replaced_not_duplicated():
    res = webtest.TestApp(request_id(echo_app)).get("/", headers={"X-Request-ID": "given"})
    assert res.headers.getall("X-Request-ID") == ["given"]


@pytest.mark.parametrize("header", ["X Request", "X-Request-ID\r\n", ""])
def test_rejects_a_bad_header_name_at_start_up(header):
    with pytest.raises(ValueError):
        request_id(echo_app, header=header)


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []
        self.addFilter(RequestIdFilter())

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def handler():
    log = logging.getLogger("webkit_app.test_request_id")
    h = ListHandler()
    log.addHandler(h)
    log.setLevel(logging.INFO)
    yield h
    log.removeHandler(h)


def test_filter_tags_records_in_the_app_and_while_the_body_is_iterated(handler):
    log = logging.getLogger("webkit_app.test_request_id")
    events = []

    def app(environ, start_response):
        log.warning("in app")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body([b"a", b"b"], events, log)

    res = webtest.TestApp(request_id(app)).get("/", headers={"X-Request-ID": "rid-7"})
    assert res.body == b"ab"
    assert [r.request_id for r in handler.records] == ["rid-7"] * 3
    assert events == ["close"]


def test_filter_uses_the_default_outside_a_request(handler):
    logging.getLogger("webkit_app.test_request_id").warning("idle")
    assert handler.records[-1].request_id == "-"
    assert current_request_id() is None


def test_filter_keeps_an_explicit_request_id(handler):
    logging.getLogger("webkit_app.test_request_id").warning("x", extra={"request_id": "mine"})
    assert handler.records[-1].request_id == "mine"


def test_id_does_not_leak_into_the_next_request_or_the_caller():
    seen = []

    def app(environ, start_response):
        seen.append(current_request_id())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    test_app = webtest.TestApp(request_id(app))
    test_app.get("/", headers={"X-Request-ID": "first"})
    test_app.get("/", headers={"X-Request-ID": "second"})
    assert seen == ["first", "second"]
    assert current_request_id() is None


def test_get_request_id_reads_the_environ():
    assert get_request_id({ENVIRON_KEY: "abc"}) == "abc"
    assert get_request_id({}) is None


def test_filter_resolves_by_its_dotted_path_in_logging_config():
    configurator = logging.config.BaseConfigurator({})
    assert configurator.resolve("webkit_app.middleware.RequestIdFilter") is RequestIdFilter


def test_streamed_body_is_closed_and_not_buffered():
    events = []

    def app(environ, start_response):
        def body():
            start_response("200 OK", [("Content-Type", "text/plain")])
            events.append("first")
            yield b"1"
            events.append("second")
            yield b"2"
        return body()

    iterable = request_id(app)(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.url_scheme": "http",
         "SERVER_NAME": "x", "SERVER_PORT": "80"},
        lambda status, headers, exc_info=None: events.append(dict(headers)["X-Request-ID"]),
    )
    assert next(iter(iterable)) == b"1"
    assert HEX32.fullmatch(events[0]) and events[1:] == ["first"]
    iterable.close()
    assert "second" not in events


def test_a_body_whose_iter_fails_is_closed_and_its_error_propagates():
    closed = []

    class Broken:
        def __iter__(self):
            raise ValueError("no iterator")

        def close(self):
            closed.append(current_request_id())

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Broken()

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_X_REQUEST_ID": "rid-9"}
    with pytest.raises(ValueError, match="no iterator"):
        request_id(app)(environ, lambda status, headers, exc_info=None: None)
    assert closed == ["rid-9"]
    assert current_request_id() is None


def test_a_list_body_is_passed_through_with_the_header_set():
    body = [b"a", b"b"]
    seen = {}

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    out = request_id(app)({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_X_REQUEST_ID": "r1"},
                          lambda status, headers, exc_info=None: seen.update(headers))
    assert out is body
    assert seen["X-Request-ID"] == "r1"
