"""Response helpers and header validation."""

import re

import pytest
from webtest import TestApp

from webkit_app import (
    App,
    ClosingIterator,
    Response,
    UnsafeRedirect,
    html_response,
    json_response,
    redirect,
    stream,
    text_response,
)
from webkit_app.response import check_sendable

BAD_VALUES = ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b", "snow\u2603man"]


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("how", ["setitem", "add", "headerlist", "append", "content_type",
                                 "location", "init"])
def test_unsafe_header_values_are_refused_when_set(how, value):
    resp = Response()
    with pytest.raises(ValueError):
        if how == "setitem":
            resp.headers["X-Test"] = value
        elif how == "add":
            resp.headers.add("X-Test", value)
        elif how == "headerlist":
            resp.headerlist = [("X-Test", value)]
        elif how == "append":
            resp.headerlist.append(("X-Test", value))
        elif how == "content_type":
            resp.content_type = "text/" + value
        elif how == "location":
            resp.location = "/" + value
        else:
            Response(headerlist=[("X-Test", value)])


@pytest.mark.parametrize("name", ["X Test", "X:Test", "X\r\nTest", "", "Ünï"])
def test_unsafe_header_names_are_refused(name):
    with pytest.raises(ValueError):
        Response().headers[name] = "v"


def test_latin1_header_value_is_fine():
    resp = Response()
    resp.headers["X-Name"] = "caf\xe9"
    assert resp.headers["X-Name"] == "caf\xe9"


@pytest.mark.parametrize("code", [99, 600, 999, 0, -1])
def test_status_code_outside_100_599_refused(code):
    with pytest.raises(ValueError):
        Response().status_code = code
    with pytest.raises(ValueError):
        Response(status=code)


@pytest.mark.parametrize("status", ["200 OK\r\nX: y", "abc", "2000 Big", "700 Odd"])
def test_bad_status_strings_refused(status):
    with pytest.raises(ValueError):
        Response().status = status


def test_unknown_but_valid_code_gets_a_reason():
    resp = Response()
    resp.status_code = 299
    assert resp.status == "299 Unknown"


@pytest.mark.parametrize("factory,ctype,body", [
    (lambda: json_response({"a": "é"}), "application/json", '{"a":"é"}'.encode()),
    (lambda: text_response("é"), "text/plain; charset=utf-8", "é".encode()),
    (lambda: html_response("<p>é</p>"), "text/html; charset=utf-8", "<p>é</p>".encode()),
])
def test_helpers_set_type_charset_and_length(factory, ctype, body):
    resp = factory()
    assert resp.headers["Content-Type"] == ctype
    assert resp.body == body
    assert resp.headers["Content-Length"] == str(len(body))


def test_json_response_status_and_headers():
    resp = json_response([1], status=201, headers={"Location": "/x/1"})
    assert resp.status == "201 Created" and resp.headers["Location"] == "/x/1"


def test_json_response_handles_non_str_keys():
    assert json_response({1: "a"}).json == {"1": "a"}


# WebOb CVE-2024-42353 and the open-redirect rows of docs/hostile-inputs.rst
OPEN_REDIRECTS = ["//evil.com", "/\t/evil.com", "/\r/evil.com", "/\n/evil.com", "/ /evil.com",
                  "/\x0b/evil.com", "/\x0c/evil.com", "https://evil.com", "javascript:alert(1)",
                  "http:evil.com", "/\\evil.com", "\\\\evil.com", " //evil.com"]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_cve_2024_42353_redirect_refuses_open_redirects(target):
    with pytest.raises(UnsafeRedirect):
        redirect(target)


def test_redirect_same_site_and_allowed_hosts():
    assert redirect("/next?a=1").headers["Location"] == "/next?a=1"
    assert redirect("/x", status=302).status_int == 302
    resp = redirect("https://docs.example.com/x", allowed_hosts=["docs.example.com"])
    assert resp.headers["Location"] == "https://docs.example.com/x"
    with pytest.raises(ValueError):
        redirect("/x", status=200)


def test_redirect_through_app_keeps_location_on_host():
    app = App()
    app.add_route("GET", "/go", lambda r: redirect("/target"))
    res = TestApp(app).get("/go", status=303)
    assert res.headers["Location"] == "/target"


def test_closing_iterator_runs_callbacks_once_even_unstarted():
    calls = []

    def gen():
        try:
            yield b"a"
        finally:
            calls.append("finally")

    it = ClosingIterator(gen(), lambda: calls.append("cb"))
    it.close()
    it.close()
    assert calls == ["cb"]


def test_stream_encodes_str_and_closes_source():
    closed = []

    class Source:
        def __iter__(self):
            return iter(["a", b"b"])

        def close(self):
            closed.append(True)

    resp = stream(Source(), content_type="text/csv")
    assert list(resp.app_iter) == [b"a", b"b"]
    resp.app_iter.close()
    assert closed == [True]
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "Content-Length" not in resp.headers


@pytest.mark.parametrize("status,headers,ok", [
    ("200 OK", [("X-A", "caf\xe9")], True),
    ("299 Whatever\tit is", [], True),
    ("302 Found\r\nSet-Cookie: a=1", [], False),
    ("200 Sn\u2603w", [], False),
    ("999 Nope", [], False),
    ("0200 OK", [], False),
    ("200", [], False),
    (200, [], False),
    ("200 OK", [("X-A", "a\r\nSet-Cookie: a=1")], False),
    ("200 OK", [("X A", "v")], False),
    ("200 OK", [("X-A", b"bytes")], False),
])
def test_check_sendable_refuses_what_would_split_or_break_the_response(status, headers, ok):
    if ok:
        check_sendable(status, headers, "test")
    else:
        with pytest.raises(ValueError, match="^test: "):
            check_sendable(status, headers, "test")


@pytest.mark.parametrize(("given", "expected"), [
    pytest.param([], "Accept", id="none-given"),
    pytest.param([("Vary", "Origin")], "Accept, Origin", id="origin"),
    pytest.param([("Vary", "Origin, accept"), ("vary", "Cookie")], "Accept, Origin, Cookie",
                 id="accept-in-another-case-once"),
    pytest.param([("Vary", "*")], "*", id="star-alone"),
])
def test_an_error_page_merges_vary_as_the_middleware_does(given, expected):
    from webkit_app.httperror import render_error
    from webkit_app.response import merge_vary

    resp = render_error(404, "Not Found", "none", {"HTTP_ACCEPT": "text/plain"}, headers=given)
    assert resp.headers.getall("Vary") == [expected]
    assert merge_vary(["Accept", *(v for _, v in given)]) == expected


def test_closing_iterator_runs_every_callback_even_when_one_raises():
    calls = []

    def first():
        calls.append("first")
        raise OSError("first failed")

    it = ClosingIterator(iter([b"a"]), first, lambda: calls.append("second"))
    with pytest.raises(OSError, match="first failed"):
        it.close()
    it.close()
    assert calls == ["first", "second"]


def test_closing_iterator_after_close_is_exhausted_and_closes_nothing_twice():
    closed = []

    class Body:
        def __iter__(self):
            return iter([b"x"])

        def close(self):
            closed.append(True)

    it = ClosingIterator(Body())
    it.close()
    assert list(it) == []
    it.close()
    assert closed == [True]


def test_the_middleware_body_proxies_share_the_close_forwarding_base():
    from webkit_app.middleware._access_log import _LoggedIter
    from webkit_app.middleware._errors import _GuardedIter
    from webkit_app.middleware._request_id import _ContextIter
    from webkit_app.middleware._wsgi import IterProxy
    from webkit_app.response import CloseForwarder

    for cls in (IterProxy, ClosingIterator, _LoggedIter, _GuardedIter, _ContextIter):
        assert issubclass(cls, CloseForwarder)
        assert "_close_iterable" not in vars(cls)


def _public_properties(cls):
    return sorted(name for name in dir(cls)
                  if not name.startswith("_") and isinstance(getattr(cls, name), property))


def _snapshot(resp):
    out = {}
    for name in _public_properties(type(resp)):
        try:
            value = getattr(resp, name)
        except Exception as exc:  # NOTE: the same error both ways counts as equal
            value = ("raised", type(exc))
        if callable(value):
            value = ("callable", type(value))
        elif type(value).__eq__ is object.__eq__:  # NOTE: a view (CacheControl): by its text
            value = (type(value), re.sub(r" at 0x[0-9a-f]+", "", str(value)))
        out[name] = value
    return out


@pytest.mark.parametrize(("status", "ctype", "body"), [
    pytest.param(200, "application/json", b'{"a":1}', id="json"),
    pytest.param(404, "text/plain; charset=utf-8", "caf\u00e9\n".encode(), id="text-404"),
    pytest.param(201, "text/html; charset=utf-8", b"<p>x</p>", id="html-201"),
])
def test_webob_private_attributes_a_fast_response_equals_webobs_own(status, ctype, body):
    from webkit_app.response import Response, body_response

    fast = body_response(body, status, ctype, None)
    slow = Response(body=body, status=status, content_type=ctype, charset=None)
    slow.headerlist[:] = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
    assert fast.status == slow.status
    assert fast.headerlist == slow.headerlist
    assert fast.body == slow.body
    assert list(fast.app_iter) == list(slow.app_iter)
    assert fast.conditional_response is slow.conditional_response is False
    assert _snapshot(fast) == _snapshot(slow)
    assert list(fast.headers.items()) == list(slow.headers.items())


def test_webob_private_attributes_exist_on_a_plain_webob_response():
    import webob

    # NOTE: "_hl" is the toolkit's own: its Response keeps WebOb's _headerlist there.
    attrs = vars(webob.Response())
    assert {"_status", "_headers", "_headerlist", "conditional_response", "_app_iter"} <= set(attrs)
    assert webob.Response(status=404).__dict__["_status"] == "404 Not Found"
