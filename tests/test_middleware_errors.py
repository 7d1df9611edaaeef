"""errors: clean HTTP errors, a generic 500 with the request id, a safe debug page, PEP 3333."""

import logging
import sys

import pytest
import webtest
from webob.dec import wsgify
from webob.exc import HTTPMethodNotAllowed, HTTPNotFound, HTTPServiceUnavailable
from webtest.lint import middleware as lint

from webkit_app.httperror import render_http_error
from webkit_app.middleware import errors, request_id

XSS = "<script>alert('x')</script>"


class Body:
    """A closing iterator: yields chunks, then raises ``exc`` at index ``fail_at``."""

    def __init__(self, chunks, events, fail_at=None, exc=None, start=None):
        self.chunks, self.events, self.fail_at, self.start = list(chunks), events, fail_at, start
        self.exc = exc or RuntimeError("mid-stream")
        self.index = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.start:  # start_response deferred to the first iteration
            self.start, start = None, self.start
            start("200 OK", [("Content-Type", "text/plain")])
        if self.index == self.fail_at:
            raise self.exc
        if self.index == len(self.chunks):
            raise StopIteration
        self.index += 1
        return self.chunks[self.index - 1]

    def close(self):
        self.events.append("close")


def body_app(events, lazy=False, **kw):
    def app(environ, start_response):
        if lazy:
            return Body(start=start_response, events=events, **kw)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body(events=events, **kw)
    return app


def raising(exc):
    def app(environ, start_response):
        raise exc
    return app


def make(app, **kw):
    return webtest.TestApp(request_id(errors(app, **kw)))


def serve(app, path="/"):
    """Run ``app`` (linted) as a server would: headers go out with the first non-empty chunk.

    WebTest captures the status before iterating, so it cannot show a status
    replaced (with ``exc_info``) during iteration; a real server can.
    """
    state = {"sent": None, "pending": None}

    def start_response(status, headers, exc_info=None):
        if state["sent"] and exc_info:
            raise exc_info[1].with_traceback(exc_info[2])
        assert exc_info or not state["pending"], "start_response twice without exc_info"
        state["pending"] = (status, dict(headers))

    body = lint(app)(webtest.TestRequest.blank(path).environ, start_response)
    chunks = []
    try:
        for chunk in body:
            if chunk and not state["sent"]:
                state["sent"] = state["pending"]
            chunks.append(chunk)
    finally:
        body.close()
    status, headers = state["sent"] or state["pending"]
    return status, headers, b"".join(chunks)


@pytest.fixture
def errors_log(caplog):
    caplog.set_level(logging.ERROR, logger="webkit_app")
    return caplog


def test_an_unhandled_exception_is_a_generic_json_500_with_the_request_id(errors_log):
    res = make(raising(ValueError("db password is hunter2"))).get(
        "/", headers={"X-Request-ID": "rid-42"}, status=500)
    assert res.json == {
        "status": 500, "title": "Internal Server Error",
        "detail": "The server encountered an unexpected condition and could not complete "
                  "the request.",
        "request_id": "rid-42",
    }
    assert "hunter2" not in res.text and "Traceback" not in res.text
    [record] = errors_log.records
    assert record.name == "webkit_app" and record.request_id == "rid-42"
    assert record.exc_info[0] is ValueError and "rid-42" in record.getMessage()


@pytest.mark.parametrize("accept, content_type, marker", [
    (None, "application/json", '"request_id": "rid-1"'),
    ("*/*", "application/json", '"request_id": "rid-1"'),
    ("text/html", "text/html", "request_id: rid-1"),
    ("text/plain", "text/plain", "request_id: rid-1"),
    ("application/json", "application/json", '"request_id": "rid-1"'),
])
def test_the_500_format_follows_accept(errors_log, accept, content_type, marker):
    headers = {"X-Request-ID": "rid-1", **({"Accept": accept} if accept else {})}
    res = make(raising(KeyError("k"))).get("/", headers=headers, status=500)
    assert res.content_type == content_type and marker in res.text


def test_a_500_without_request_id_middleware_still_names_an_id(errors_log):
    res = webtest.TestApp(errors(raising(ValueError()))).get("/", status=500)
    assert res.json["request_id"] == errors_log.records[0].request_id


@pytest.mark.parametrize("exc, status, detail", [
    (HTTPNotFound(detail="no such note"), 404, "no such note"),
    (HTTPNotFound(), 404, "The resource could not be found."),
    (HTTPServiceUnavailable(detail="maintenance"), 503, "maintenance"),
])
def test_raised_http_exceptions_render_as_clean_json(errors_log, exc, status, detail):
    res = make(raising(exc)).get("/", status=status)
    assert res.json == {"status": status, "title": exc.title, "detail": detail}
    assert "<br" not in res.text
    assert errors_log.records == []  # not an application error


def test_raised_http_exception_keeps_its_headers_and_renders_html_escaped():
    exc = HTTPMethodNotAllowed(detail=XSS, headers=[("Allow", "GET, HEAD")])
    res = make(raising(exc)).post("/", headers={"Accept": "text/html"}, status=405)
    assert res.headers["Allow"] == "GET, HEAD"
    assert XSS not in res.text and "&lt;script&gt;" in res.text


def test_wsgify_apps_raising_http_exceptions_still_work():
    @wsgify
    def app(req):
        raise HTTPNotFound()

    assert make(app).get("/", status=404).status_int == 404


def test_wsgify_apps_get_the_clean_rendering_by_returning_render_http_error():
    # The workaround the module docstring gives: a plain wsgify app calls a
    # webob.exc error itself, so WebOb's own body ("<br />") would go out.
    @wsgify
    def app(req):
        return render_http_error(HTTPNotFound(detail="no such note"), req.environ)

    res = make(app).get("/", headers={"Accept": "application/json"}, status=404)
    assert res.json == {"status": 404, "title": "Not Found", "detail": "no such note"}


@pytest.mark.parametrize("lazy", [False, True])
def test_an_error_before_the_first_chunk_becomes_a_500(errors_log, lazy):
    events = []
    status, headers, body = serve(errors(body_app(events, lazy=lazy, chunks=[b"x"], fail_at=0)))
    assert status == "500 Internal Server Error" and body.startswith(b'{"status": 500')
    assert headers["Content-Type"] == "application/json"
    assert events == ["close"]
    assert len(errors_log.records) == 1


def test_an_error_before_the_first_chunk_through_webtest():
    events = []
    res = make(body_app(events, lazy=True, chunks=[b"x"], fail_at=0)).get("/", status=500)
    assert res.json["status"] == 500 and events == ["close"]


def test_an_empty_first_chunk_has_not_started_the_response(errors_log):
    events = []
    status, _, _ = serve(errors(body_app(events, chunks=[b""], fail_at=1)))
    assert status.startswith("500")
    assert events == ["close"]


def test_an_http_exception_raised_while_iterating_is_rendered():
    events = []
    exc = HTTPNotFound(detail="gone")
    status, _, body = serve(errors(body_app(events, chunks=[], fail_at=0, exc=exc)))
    assert status == "404 Not Found" and b'"detail": "gone"' in body


def test_an_error_after_the_first_chunk_is_logged_and_re_raised(errors_log):
    events = []
    app = make(body_app(events, chunks=[b"part"], fail_at=1))
    with pytest.raises(RuntimeError, match="mid-stream"):
        app.get("/", headers={"X-Request-ID": "rid-9"})
    assert events == ["close"]
    [record] = errors_log.records
    assert record.request_id == "rid-9" and record.exc_info[0] is RuntimeError


def test_after_the_first_chunk_the_status_is_never_changed():
    events, calls = [], []
    app = lint(errors(body_app(events, chunks=[b"part"], fail_at=1)))
    body = app(webtest.TestRequest.blank("/").environ,
               lambda status, headers, exc_info=None: calls.append(status))
    it = iter(body)
    assert next(it) == b"part"
    with pytest.raises(RuntimeError) as info:
        next(it)
    assert info.value.__traceback__ is not None  # re-raised with its traceback
    body.close()
    assert calls == ["200 OK"] and events == ["close"]


def test_before_the_first_chunk_the_headers_are_replaced_with_exc_info():
    calls = []
    app = errors(body_app([], lazy=True, chunks=[b"x"], fail_at=0))

    def start_response(status, headers, exc_info=None):
        calls.append((status, exc_info is not None))

    body = app(webtest.TestRequest.blank("/").environ, start_response)
    assert b"".join(body).startswith(b'{"status": 500')
    body.close()
    assert calls == [("200 OK", False), ("500 Internal Server Error", True)]


def test_an_app_that_wrote_with_write_cannot_be_given_a_500(errors_log):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"sent")
        raise RuntimeError("after write")

    with pytest.raises(RuntimeError, match="after write"):
        webtest.TestApp(errors(app)).get("/")


def test_head_error_has_no_body(errors_log):
    res = make(raising(ValueError())).head("/", status=500)
    assert res.body == b""


def test_cve_2016_10516_debug_page_escapes_exception_message(errors_log):
    res = make(raising(ValueError(XSS)), debug=True).get("/", status=500)
    assert res.content_type == "text/html"
    assert XSS not in res.text
    assert "ValueError: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in res.text
    assert "<script" not in res.text.lower()


def test_debug_page_escapes_environ_values_and_shows_the_traceback(errors_log):
    res = make(raising(ValueError("boom")), debug=True).get(
        "/p", headers={"User-Agent": XSS, "X-Request-ID": "rid-5"}, status=500)
    assert XSS not in res.text and "&lt;script&gt;" in res.text
    assert "Traceback" in res.text and "in app" in res.text and "rid-5" in res.text
    assert res.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert res.headers["Cache-Control"] == "no-store"


def test_debug_page_masks_secrets(errors_log):
    environ = {"SECRET_KEY": "s3cr3t-key", "webkit_app.db_password": "pw-123",
               "webkit_app.config": object(), "DB": "postgresql://app:url-pw-789@db/app",
               "LONG": "x" * 5000}
    res = make(raising(ValueError("boom")), debug=True).get(
        "/p?page=2&access_token=tok-456",
        headers={"Authorization": "Basic YWxpY2U6d29uZGVy", "Cookie": "session=c00kie",
                 "X-Api-Key": "k3y-000"},
        extra_environ=environ, status=500)
    for secret in ("YWxpY2U6d29uZGVy", "c00kie", "s3cr3t-key", "pw-123", "tok-456",
                   "url-pw-789", "k3y-000"):
        assert secret not in res.text
    assert "postgresql://app:********@db/app" in res.text
    assert "x" * 2000 + "..." in res.text and "x" * 2001 not in res.text
    assert "page=2&amp;access_token=********" in res.text
    assert "&lt;builtins.object&gt;" in res.text  # objects are shown by type, not repr


def test_debug_page_survives_an_unprintable_exception(errors_log):
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    res = make(raising(Unprintable()), debug=True).get("/", status=500)
    assert "unprintable Unprintable" in res.text


@pytest.mark.parametrize("debug, is_page", [
    (False, False), ("false", False), ("0", False), (True, True), ("true", True),
])
def test_debug_is_off_unless_configured(errors_log, debug, is_page):
    res = make(raising(ValueError("boom")), debug=debug).get(
        "/", headers={"Accept": "text/html"}, status=500)
    assert ("Traceback" in res.text) is is_page


def test_default_is_production():
    res = make(raising(ValueError("boom"))).get("/", headers={"Accept": "text/html"}, status=500)
    assert "Traceback" not in res.text and "boom" not in res.text


def test_keyboard_interrupt_is_not_swallowed():
    with pytest.raises(KeyboardInterrupt):
        make(raising(KeyboardInterrupt())).get("/")


def test_streamed_body_passes_through_unbuffered_and_is_closed():
    events = []
    app = lint(errors(body_app(events, chunks=[b"a", b"b"])))
    body = app(webtest.TestRequest.blank("/").environ, lambda s, h, e=None: None)
    it = iter(body)
    assert next(it) == b"a"
    assert events == []
    assert list(it) == [b"b"]
    body.close()
    assert events == ["close"]


def test_exc_info_is_a_real_traceback_for_servers():
    # The server re-raises exc_info once headers are sent: it must be the original.
    seen = []

    def start_response(status, headers, exc_info=None):
        seen.append(exc_info)

    def app(environ, start):
        start("200 OK", [("Content-Type", "text/plain")])
        raise LookupError("orig")

    list(errors(app)(webtest.TestRequest.blank("/").environ, start_response))
    assert seen[0] is None and seen[1][0] is LookupError and seen[1][2] is not None
    assert sys.exc_info() == (None, None, None)


def test_a_list_body_is_passed_through_and_a_failing_iter_still_becomes_a_500(errors_log):
    body = [b"ok"]

    def listing(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    class Broken:
        def __iter__(self):
            raise RuntimeError("no iterator")

    def broken(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Broken()

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    assert errors(listing)(dict(environ), lambda *a: None) is body
    assert webtest.TestApp(errors(broken)).get("/", status=500).json["status"] == 500
