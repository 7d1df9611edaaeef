"""Response(...)'s fast constructor against WebOb's own, form by form.

Each supported form is built by the fast path and by WebOb's constructor
(``_WebObBuilt``, a subclass the fast path leaves alone) and by a plain
``webob.Response``: status, headers, body and every public property agree.
Every other form, and every refused one, goes to WebOb and behaves the same.
"""

from __future__ import annotations

import enum
import json
import math
import uuid

import pytest
import webob
from hypothesis import given, settings
from hypothesis import strategies as st
from test_response import _snapshot

from webkit_app.response import Response, _webob_json


class _WebObBuilt(Response):
    """The toolkit's Response built by WebOb's constructor (its setters checking)."""


class _Colour(enum.Enum):
    RED = "red"


FAST = [
    pytest.param(("Hello",), {}, id="text-default-type"),
    pytest.param((), {}, id="empty"),
    pytest.param(("",), {"content_type": "text/plain"}, id="empty-text"),
    pytest.param(("Hello World",), {"content_type": "text/plain"}, id="text-plain"),
    pytest.param((b"\x00\xff",), {"content_type": "application/octet-stream"}, id="bytes"),
    pytest.param((), {"body": b"x", "content_type": "image/png"}, id="body-keyword"),
    pytest.param(("h\u00e9",), {"content_type": "text/plain", "charset": "latin-1"},
                 id="charset-latin-1"),
    pytest.param(("h\u00e9",), {"content_type": "application/octet-stream", "charset": "utf-8"},
                 id="charset-not-in-type"),
    pytest.param(("h\u00e9",), {"content_type": "text/plain; charset=latin-1"},
                 id="charset-in-type"),
    pytest.param(("h\u00e9",), {"content_type": "text/plain; Charset=latin-1"},
                 id="charset-in-type-capitalised"),
    pytest.param(("<a/>",), {"content_type": "application/xml"}, id="xml"),
    pytest.param(("<svg/>",), {"content_type": "image/svg+xml"}, id="svg-xml"),
    pytest.param(("<a/>",), {"content_type": "application/atom+xml"}, id="atom-xml"),
    pytest.param((b"x",), {"content_type": "text/html", "charset": None}, id="charset-none-bytes"),
    pytest.param(("x",), {"content_type": "", "charset": "utf-8"}, id="empty-type-default"),
    pytest.param(("x",), {"status": 201}, id="status-int"),
    pytest.param(("x",), {"status": 404, "content_type": "text/plain"}, id="status-404"),
    pytest.param(("x",), {"status": "201 Created"}, id="status-line"),
    pytest.param(("x",), {"status": "299 Something Else"}, id="status-own-reason"),
    pytest.param(("x",), {"headers": {"X-A": "1", "Cache-Control": "no-store"}},
                 id="headers-dict-replaces-all"),
    pytest.param(("x",), {"content_type": "text/plain", "headers": [("X-A", "1")]},
                 id="headers-list"),
    pytest.param((), {"json_body": {"id": 7}}, id="json-body"),
    pytest.param((), {"json": {"a": [1, 2.5, None, True, "s"]}}, id="json-alias"),
    pytest.param((), {"json_body": {"\u00e9": "\u00fc\U0001f600"}}, id="json-non-ascii"),
    pytest.param((), {"json_body": {"f": [1e-05, 1.5e-07, 1e16, 1e22, 0.1, -0.0]}},
                 id="json-floats"),
    pytest.param((), {"json_body": {"n": [math.nan, math.inf]}}, id="json-nan"),
    pytest.param((), {"json_body": {1: "int key", None: 2}}, id="json-non-str-keys"),
    pytest.param((), {"json_body": [2 ** 70, "\x7f\x00\n\"\\"]}, id="json-big-int-escapes"),
    pytest.param((), {"json_body": {"a": 1}, "status": 201, "headers": {"Location": "/a"}},
                 id="json-status-headers"),
    pytest.param((), {"json_body": None}, id="json-null"),
    pytest.param((), {"json_body": [1], "content_type": "application/vnd.x+json"},
                 id="json-own-type"),
]

FALLBACK = [
    pytest.param((), {"app_iter": [b"x"]}, id="app-iter"),
    pytest.param((b"x",), {"headerlist": [("X-A", "1")]}, id="headerlist"),
    pytest.param(("x",), {"conditional_response": True}, id="conditional"),
    pytest.param((), {"text": "x", "content_type": "text/plain"}, id="text-keyword"),
    pytest.param(("x",), {"cache_control": "no-store"}, id="other-keyword"),
    pytest.param((b"x",), {"json_body": {"a": 1}}, id="json-with-body"),
    pytest.param((), {"json_body": {"a": 1}, "json": {"b": 2}}, id="json-both"),
    pytest.param(("x",), {"status": 204}, id="status-204"),
    pytest.param(("x",), {"status": 304}, id="status-304"),
    pytest.param(("x",), {"status": 101}, id="status-101"),
    pytest.param(("x",), {"status": "201"}, id="status-code-text"),
    pytest.param(("x",), {"status": "201 "}, id="status-code-space"),
    pytest.param(("x",), {"status": 599}, id="status-unknown-code"),
    pytest.param(("x",), {"status": b"201 Created"}, id="status-bytes"),
    pytest.param((bytearray(b"x"),), {}, id="bytearray-body"),
]

REFUSED = [
    pytest.param(("x",), {"content_type": "text/plain\r\nX-Evil: 1"}, ValueError, id="type-crlf"),
    pytest.param(("x",), {"charset": "utf-8\nX: y"}, ValueError, id="charset-newline"),
    pytest.param(("x",), {"headers": {"X-A": "a\r\nb"}}, ValueError, id="header-crlf"),
    pytest.param(("x",), {"headers": [("Bad Name", "1")]}, ValueError, id="header-name"),
    pytest.param(("x",), {"status": 700}, ValueError, id="status-700"),
    pytest.param(("x",), {"status": "200\nOK"}, ValueError, id="status-newline"),
    pytest.param(("x",), {"status": True}, ValueError, id="status-bool"),
    pytest.param(("x",), {"content_type": "text/html", "charset": None}, TypeError,
                 id="text-without-charset"),
    pytest.param(("\u00e9",), {"content_type": "text/plain", "charset": "ascii"},
                 UnicodeEncodeError, id="unencodable"),
    pytest.param(("x",), {"content_type": "text/plain", "charset": "no-such-codec"},
                 LookupError, id="unknown-codec"),
    pytest.param((), {"json_body": _Colour.RED}, TypeError, id="json-enum"),
    pytest.param((), {"json_body": {"id": uuid.UUID(int=1)}}, TypeError, id="json-uuid"),
    pytest.param(("x",), {"headers": None}, TypeError, id="headers-none"),
]


def _properties(resp):
    """Every public property, the class's name (in reprs) read as ``Response``."""
    return {name: repr(value).replace(type(resp).__name__, "Response")
            for name, value in _snapshot(resp).items()}


def _state(resp):
    return resp.status, resp.headerlist, resp.body, resp.conditional_response, list(resp.app_iter)


@pytest.mark.parametrize(("args", "kw"), FAST + FALLBACK)
def test_fast_constructor_builds_what_webobs_constructor_builds(args, kw):
    fast = Response(*args, **kw)
    slow = _WebObBuilt(*args, **kw)
    assert _state(fast) == _state(slow)
    assert list(fast.headers.items()) == list(slow.headers.items())
    assert type(fast.headerlist).__name__ == "_HeaderList"
    assert _properties(fast) == _properties(slow)


@pytest.mark.parametrize(("args", "kw"), FAST)
def test_fast_constructor_builds_what_a_plain_webob_response_holds(args, kw):
    assert _state(Response(*args, **kw)) == _state(webob.Response(*args, **kw))


@pytest.mark.parametrize(("args", "kw"), FAST)
def test_fast_constructor_skips_webobs_constructor(args, kw, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("WebOb's constructor was called")

    monkeypatch.setattr(webob.Response, "__init__", refuse)
    resp = Response(*args, **kw)
    assert resp.status_code in (200, 201, 404, 299)


@pytest.mark.parametrize(("args", "kw"), FALLBACK)
def test_other_forms_go_to_webobs_constructor(args, kw, monkeypatch):
    calls = []
    original = webob.Response.__init__

    def count(self, *a, **k):
        calls.append(k)
        original(self, *a, **k)

    monkeypatch.setattr(webob.Response, "__init__", count)
    Response(*args, **kw)
    assert len(calls) == 1


@pytest.mark.parametrize(("args", "kw", "error"), REFUSED)
def test_refused_forms_raise_what_webobs_constructor_raises(args, kw, error):
    with pytest.raises(error) as fast:
        Response(*args, **kw)
    with pytest.raises(error) as slow:
        _WebObBuilt(*args, **kw)
    assert str(fast.value) == str(slow.value)


def test_fast_constructor_keeps_a_subclass_on_webobs_constructor():
    resp = _WebObBuilt("x", content_type="text/plain")
    assert resp.headerlist == [("Content-Type", "text/plain; charset=UTF-8"),
                               ("Content-Length", "1")]


def test_fast_constructor_checks_headers_added_later():
    resp = Response("x", content_type="text/plain")
    with pytest.raises(ValueError, match="contains CR, LF, NUL"):
        resp.headers["X-A"] = "a\r\nb"
    with pytest.raises(ValueError, match="contains CR, LF, NUL"):
        resp.headerlist.append(("X-A", "a\nb"))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_json_values)
def test_json_body_bytes_are_webobs_for_any_json_value(value):
    try:
        expected = json.dumps(value, separators=(",", ":")).encode("UTF-8")
    except (TypeError, ValueError) as exc:  # NOTE: lone surrogates encode; nothing else raises
        pytest.fail(f"json refused {value!r}: {exc}")
    assert _webob_json(value) == expected
