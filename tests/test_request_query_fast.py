"""request.GET's plain-query fast path reads what parse_qs_strict reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webob.exc import HTTPRequestEntityTooLarge
from webob.multidict import GetDict

import webkit_app.request as request_module
from webkit_app.body import MAX_FORM_PARTS, parse_qs_strict
from webkit_app.request import Request, _plain_query


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab=&;%+2Fé\x00 ", max_size=30))
def test_plain_query_reads_what_parse_qs_strict_reads(qs):
    fast = _plain_query(qs)
    if fast is not None:
        assert fast == list(parse_qs_strict(qs).items())


@pytest.mark.parametrize("qs", [
    pytest.param("q=wsgi&page=2", id="two-fields"),
    pytest.param("a=1;b=2&&c", id="semicolons-empty-fields-no-value"),
    pytest.param("a=1&a=2&a=", id="repeated"),
    pytest.param("x==y", id="equals-in-value"),
])
def test_plain_query_skips_the_decoding_parser(qs, monkeypatch):
    def refuse(*args, **kw):
        raise AssertionError("parse_qs_strict was called")

    monkeypatch.setattr(request_module, "parse_qs_strict", refuse)
    req = Request.blank("/?" + qs)
    assert isinstance(req.GET, GetDict)
    assert list(req.GET.items()) == list(parse_qs_strict(qs).items())


@pytest.mark.parametrize(("qs", "expected"), [
    pytest.param("q=a%20b", None, id="escape"),
    pytest.param("q=a+b", None, id="plus"),
    pytest.param("q=\xc3\xa9", None, id="raw-non-ascii"),
    pytest.param("", None, id="empty"),
    pytest.param("&" * MAX_FORM_PARTS, None, id="too-many-fields"),
    pytest.param("a=1", [("a", "1")], id="plain"),
])
def test_plain_query_leaves_other_strings_to_the_parser(qs, expected):
    assert _plain_query(qs) == expected


def test_get_from_the_fast_path_writes_back_to_query_string():
    req = Request.blank("/?q=wsgi&page=2")
    req.GET["page"] = "3"
    assert req.environ["QUERY_STRING"] == "q=wsgi&page=3"
    assert req.GET["page"] == "3"


def test_get_fast_path_keeps_the_field_limit():
    req = Request.blank("/?" + "a&" * MAX_FORM_PARTS)
    with pytest.raises(HTTPRequestEntityTooLarge, match="More than 1000 fields"):
        _ = req.GET
