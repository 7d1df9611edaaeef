"""Performance round 3: the production stack's layers as plain WSGI callables,
request ids from a pool, the access record's fields and formatter, and the
text/JSON response paths, each checked against what it replaced."""

from __future__ import annotations

import logging
import os
import sys
import threading

import pytest
import webob
from webob.request import BaseRequest

from webkit_app import App, Response, text_response
from webkit_app.middleware import _request_id as rid_module
from webkit_app.middleware import access_log, errors, request_id, stack
from webkit_app.middleware._access_log import _field, _fields
from webkit_app.request import _plain_query
from webkit_app.response import _TEXT_TYPES
from webkit_app.settings import LOG_FORMAT, LogFormatter


def _hello_app() -> App:
    app = App()

    @app.route("/hello")
    def hello(request):
        return text_response("Hello")

    return app


def test_the_stack_builds_no_webob_request_per_layer(monkeypatch):
    """request_id, access_log and errors are plain WSGI callables: the only
    Request built is the App's own."""
    built = []
    original = BaseRequest.__init__

    def counting(self, environ, *args, **kw):
        built.append(type(self).__name__)
        original(self, environ, *args, **kw)

    monkeypatch.setattr(BaseRequest, "__init__", counting)
    wrapped = stack(_hello_app(), request_id, access_log, errors)
    resp = webob.Request.blank("/hello").get_response(wrapped)
    assert resp.status_code == 200 and resp.body == b"Hello"
    assert "X-Request-ID" in resp.headers
    # NOTE: Request.blank builds one webob.Request, the App one of its own.
    assert built == ["Request", "Request"]


def test_request_id_replaces_an_incoming_header_of_any_case():
    def app(environ, start_response):
        start_response("200 OK", [("x-request-id", "inner"), ("Content-Type", "text/plain")])
        return [b"ok"]

    resp = webob.Request.blank("/", headers={"X-Request-ID": "abc-1"}).get_response(
        request_id(app))
    assert resp.headerlist == [("Content-Type", "text/plain"), ("X-Request-ID", "abc-1")]


def test_request_ids_from_the_pool_are_unique_across_threads():
    ids: list[str] = []

    def draw() -> None:
        ids.extend(rid_module.new_request_id() for _ in range(2000))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8000 and len(set(ids)) == 8000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_never_reuses_the_parents_pooled_ids():
    rid_module.new_request_id()  # NOTE: the parent's pool now holds unused ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, " ".join(rid_module.new_request_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {rid_module.new_request_id() for _ in range(200)}
    assert len(child) == 5 and not child & parent


@pytest.mark.parametrize("values", [
    ("127.0.0.1", "GET", "HTTP/1.1", None, "curl/8", None, "abc"),
    ("127.0.0.1", "GET", "HTTP/1.1", "", 'a "quoted" agent', "bob", None),
    ("::1", "GET", "HTTP/1.1", "http://x/\u00e9", "tab\tagent", "back\\slash", "r"),
    (None, None, None, None, None, None, None),
])
def test_access_fields_are_each_fields_own(values):
    assert _fields(values) == [_field(v) for v in values]


def _records():
    plain = logging.LogRecord("webkit_app.access", logging.INFO, __file__, 1, "hit %s %d",
                              ("x", 3), None)
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("webkit_app", logging.ERROR, __file__, 2, "failed", (),
                                   sys.exc_info())
    stacked = logging.LogRecord("webkit_app", logging.INFO, __file__, 3, "here", (), None,
                                sinfo="Stack (most recent call last):\n  x")
    return [plain, failed, stacked]


@pytest.mark.parametrize("make", [
    lambda cls: cls(LOG_FORMAT),
    lambda cls: cls("%(levelname)s %(message)s"),
    lambda cls: cls("%(asctime)s %(message)s", "%H:%M"),
    lambda cls: cls("{asctime} {message}", style="{"),
    lambda cls: cls("%(message)s %(extra_field)s", defaults={"extra_field": "d"}),
])
def test_log_formatter_writes_what_the_stdlib_formatter_writes(make):
    ours, stdlib = make(LogFormatter), make(logging.Formatter)
    records = _records()
    # NOTE: the stdlib formats first: it caches exc_text on the record, as ours would.
    expected = [stdlib.format(r) for r in records]
    for r in records:
        r.exc_text = None
    assert [ours.format(r) for r in records] == expected


def test_log_formatter_names_a_missing_field_as_the_stdlib_does():
    record = _records()[0]
    with pytest.raises(ValueError, match="Formatting field not found in record: 'nope'"):
        logging.Formatter("%(nope)s").format(record)
    with pytest.raises(ValueError, match="Formatting field not found in record: 'nope'"):
        LogFormatter("%(nope)s").format(record)


@pytest.mark.parametrize("qs", ["q=wsgi&page=2", "a=1;b=2&&c", "a=b=c&d=", "x", "&&", ";a"])
def test_plain_query_reads_what_it_read_before(qs):
    expected = [(name, value) for name, _, value in
                (pair.partition("=") for pair in qs.replace(";", "&").split("&") if pair)]
    assert _plain_query(qs) == expected


def test_plain_query_leaves_a_query_at_the_part_limit_to_the_strict_parser():
    from webkit_app.body import MAX_FORM_PARTS

    assert _plain_query("&".join(["a=1"] * MAX_FORM_PARTS)) is not None
    assert _plain_query("&".join(["a=1"] * (MAX_FORM_PARTS + 1))) is None


def test_text_response_checks_every_content_type_and_remembers_a_bounded_number():
    for _ in range(2):
        with pytest.raises(ValueError, match="contains CR, LF, NUL"):
            text_response("x", content_type="text/plain\r\nX-Evil: 1")
    for i in range(300):
        resp = text_response("x", content_type=f"text/x-{i}")
        assert resp.headers["Content-Type"] == f"text/x-{i}; charset=utf-8"
    assert len(_TEXT_TYPES) <= 256
    assert text_response("x", content_type="text/csv; charset=utf-8").headers[
        "Content-Type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize("kw", [
    {"json_body": {"a": 1}},
    {"json_body": {"a": 1}, "charset": "utf-8"},
    {"json_body": {"a": 1}, "status": 202},
    {"json_body": {"a": [1, {"b": 1e20}]}},
    {"json_body": {"a": 1}, "content_type": "application/problem+json"},
    {"json_body": {"\u00e9": 1, "k": 1.5}},
])
def test_json_body_forms_equal_webobs(kw):
    ours, theirs = Response(**kw), webob.Response(**kw)
    assert (ours.status, ours.headerlist, ours.body) == (
        theirs.status, theirs.headerlist, theirs.body)


def _logged_body(body):
    def inner(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    return access_log(inner, logger=logging.getLogger("test.perf.access"))


def test_request_id_passes_on_an_access_log_body_around_a_list():
    """The access record carries the id itself: no per-chunk context needed."""
    app = _logged_body([b"a", b"b"])
    body = request_id(app)({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda *a: None)
    assert type(body).__name__ == "_LoggedIter"
    assert list(body) == [b"a", b"b"]
    body.close()


def test_request_id_keeps_its_context_around_an_access_log_body_that_runs_code():
    seen = []

    def chunks():
        seen.append(rid_module.current_request_id())
        yield b"x"

    app = _logged_body(chunks())
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    body = request_id(app)(environ, lambda *a: None)
    assert type(body).__name__ == "_ContextIter"
    assert list(body) == [b"x"]
    body.close()
    assert seen == [environ["webkit_app.request_id"]]


@pytest.mark.parametrize(("values", "merged"), [
    (("Accept",), "Accept"), ((" Accept ",), "Accept"), (("*",), "*"), (("",), ""),
    (("a, b",), "a, b"), (("Accept, accept",), "Accept"), (["Accept"], "Accept"),
    (("Accept", "Origin"), "Accept, Origin"),
])
def test_merge_vary_of_one_value_is_the_general_merge(values, merged):
    from webkit_app.response import merge_vary

    assert merge_vary(values) == merged
    assert merge_vary(values, "Origin") == merge_vary([*values, "Origin"])
