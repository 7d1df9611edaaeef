"""access_log: one combined-format record per request, written when the body is done."""

import base64
import logging
import re
import time

import pytest
import webtest
from webtest.lint import middleware as lint

from webkit_app.middleware import access_log, request_id

COMBINED = re.compile(
    r'(?P<host>\S+) - (?P<user>\S+) \[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" '
    r'"(?P<agent>[^"]*)" (?P<ms>\d+\.\d{3}) (?P<rid>\S+)'
)


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)

    @property
    def lines(self):
        return [r.getMessage() for r in self.records]


@pytest.fixture
def log():
    logger = logging.getLogger("test.access_log")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)


class Body:
    """A closing iterator over chunks: records close(), sleeps, can fail."""

    def __init__(self, chunks, events, sleep=0.0, fail_after=None):
        self.chunks, self.events, self.sleep, self.fail_after = list(chunks), events, sleep, fail_after
        self.sent = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.sent == self.fail_after:
            raise RuntimeError("mid-stream failure")
        if self.sent == len(self.chunks):
            raise StopIteration
        time.sleep(self.sleep)
        self.sent += 1
        return self.chunks[self.sent - 1]

    def close(self):
        self.events.append("close")


def stream_app(events, chunks=(b"hello", b" world"), **kw):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/user":
            environ["REMOTE_USER"] = "alice"
        start_response("200 OK", [("Content-Type", "text/plain")])
        head = environ["REQUEST_METHOD"] == "HEAD"
        return Body(() if head else chunks, events, **kw)
    return app


def make(app, **kw):
    return webtest.TestApp(access_log(app, logger=logging.getLogger("test.access_log"), **kw))


def test_one_combined_record_with_duration_and_request_id(log):
    events = []
    app = webtest.TestApp(request_id(access_log(stream_app(events), logger="test.access_log")))
    res = app.get("/p?q=1", headers={"Referer": "https://ref.example/", "User-Agent": "ua/1.0",
                                     "X-Request-ID": "rid-1"},
                  extra_environ={"REMOTE_ADDR": "10.0.0.7"})
    assert res.body == b"hello world"
    assert len(log.records) == 1
    m = COMBINED.fullmatch(log.lines[0])
    assert m, log.lines[0]
    assert m["host"] == "10.0.0.7" and m["user"] == "-"
    assert m["request"] == "GET /p?q=1 HTTP/1.0"
    assert (m["status"], m["bytes"], m["rid"]) == ("200", "11", "rid-1")
    assert (m["referer"], m["agent"]) == ("https://ref.example/", "ua/1.0")
    assert events == ["close"]


def test_record_carries_extra_fields_for_json_formatters(log):
    make(stream_app([])).get("/user?x=1")
    rec = log.records[0]
    assert (rec.method, rec.path, rec.status, rec.bytes) == ("GET", "/user", 200, 11)
    assert rec.remote_user == "alice" and rec.request_id is None
    assert isinstance(rec.duration_ms, float) and rec.duration_ms >= 0
    assert rec.levelno == logging.INFO


def test_default_logger_is_webkit_app_access(caplog):
    with caplog.at_level(logging.INFO, logger="webkit_app.access"):
        webtest.TestApp(access_log(stream_app([]))).get("/")
    assert [r.name for r in caplog.records] == ["webkit_app.access"]


def test_record_is_written_after_the_streamed_body_not_before(log):
    events = []
    app = lint(access_log(stream_app(events, sleep=0.03), logger="test.access_log"))
    env = webtest.TestRequest.blank("/slow").environ
    body = app(env, lambda status, headers, exc_info=None: None)
    it = iter(body)
    assert next(it) == b"hello"
    assert log.records == []  # the body is still being sent
    assert list(it) == [b" world"]
    body.close()
    assert len(log.records) == 1 and events == ["close"]
    rec = log.records[0]
    assert rec.bytes == 11 and rec.duration_ms >= 50  # covers both sleeps


def test_closing_early_writes_the_record_once_with_bytes_sent(log):
    events = []
    app = lint(access_log(stream_app(events), logger="test.access_log"))
    body = app(webtest.TestRequest.blank("/").environ, lambda s, h, e=None: None)
    assert next(iter(body)) == b"hello"
    body.close()
    assert [r.bytes for r in log.records] == [5]
    assert events == ["close"]


def test_an_app_that_raises_is_logged_as_500(log):
    def app(environ, start_response):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        make(app).get("/raise")
    assert [r.status for r in log.records] == [500]


def test_a_failure_mid_stream_is_logged_once_with_the_sent_status(log):
    events = []
    with pytest.raises(RuntimeError):
        make(stream_app(events, fail_after=1)).get("/")
    assert [(r.status, r.bytes) for r in log.records] == [(200, 5)]
    assert events == ["close"]


def test_a_failure_before_the_first_byte_is_logged_as_500(log):
    with pytest.raises(RuntimeError):
        make(stream_app([], fail_after=0)).get("/")
    assert [r.status for r in log.records] == [500]


@pytest.mark.parametrize("path, logged", [
    ("/%ff", "/%FF"),                  # not UTF-8: logged from the raw environ
    ("/caf%C3%A9", "/caf%C3%A9"),
    ("/a%0ab", "/a%0Ab"),              # no line break in the log
    ('/a"b', "/a%22b"),                # cannot close the quoted request line
])
def test_paths_are_logged_escaped_from_the_raw_environ(log, path, logged):
    make(stream_app([])).get(path)
    assert COMBINED.fullmatch(log.lines[0])["request"] == f"GET {logged} HTTP/1.0"
    assert log.records[0].path == logged


def test_header_values_cannot_forge_log_fields(log):
    make(stream_app([])).get("/", headers={"User-Agent": 'x" 200 1 "y', "Referer": "a\\b"})
    m = COMBINED.fullmatch(log.lines[0])
    assert m["agent"] == "x\\x22 200 1 \\x22y"
    assert m["referer"] == "a\\x5cb"


def test_never_logs_authorization_cookies_or_secret_query_values(log):
    token = base64.b64encode(b"alice:hunter2").decode()
    make(stream_app([])).get(
        "/login?user=alice&password=hunter2&api_key=k3y",
        headers={"Authorization": f"Basic {token}", "Cookie": "session=s3ss10n"})
    rec = log.records[0]
    dumped = log.lines[0] + repr(vars(rec))
    for secret in (token, "hunter2", "s3ss10n", "k3y"):
        assert secret not in dumped
    assert "password=********" in log.lines[0]


@pytest.mark.parametrize("exclude", [("/healthz", "/readyz"), "/healthz, /readyz"])
def test_excluded_paths_are_not_logged(log, exclude):
    app = make(stream_app([]), exclude_paths=exclude)
    app.get("/healthz")
    app.get("/readyz")
    app.get("/healthz/deep")
    assert [r.path for r in log.records] == ["/healthz/deep"]


def test_head_is_logged_and_closed(log):
    events = []
    res = make(stream_app(events)).head("/")
    assert res.body == b""
    assert [(r.method, r.bytes) for r in log.records] == [("HEAD", 0)]
    assert events == ["close"]


def test_bytes_written_with_the_write_callable_are_counted(log):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"abc")
        return [b"de"]

    assert make(app).get("/").body == b"abcde"
    assert log.records[0].bytes == 5


def test_a_status_replaced_by_an_error_handler_is_the_one_logged(log):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late")
        except ValueError:
            import sys
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")],
                           sys.exc_info())
        return [b"sorry"]

    make(app).get("/", status=503)
    assert log.records[0].status == 503


def test_nothing_is_formatted_when_the_logger_is_off(log):
    logging.getLogger("test.access_log").setLevel(logging.WARNING)
    events = []
    assert make(stream_app(events)).get("/").body == b"hello world"
    assert log.records == [] and events == ["close"]
