"""A query string is bytes: the server hands them over as latin-1 text
(PEP 3333), and the toolkit unescapes and decodes those bytes as UTF-8, as
WebOb does. Raw non-ASCII bytes (``curl 'http://h/?q=é'``) are read as UTF-8,
never as the UTF-8 of their latin-1 text ('Ã©'); bytes that are not UTF-8
are a 400 whether they came escaped (``%ff``) or raw."""

import pytest
from webob.exc import HTTPBadRequest

from webkit_app import Request
from webkit_app.body import parse_qs_strict


def raw(query: bytes) -> str:
    """``query`` as a server puts it in ``QUERY_STRING``."""
    return query.decode("latin-1")


@pytest.mark.parametrize("query, fields", [
    pytest.param("q=\u00e9".encode(), [("q", "\u00e9")], id="raw_utf8_value"),
    pytest.param("\u00e9=\u2603".encode(), [("\u00e9", "\u2603")], id="raw_utf8_name_and_value"),
    pytest.param(b"q=%C3%A9", [("q", "\u00e9")], id="escaped_utf8"),
    pytest.param("q=\u00e9+%C3%A9".encode(), [("q", "\u00e9 \u00e9")], id="raw_and_escaped"),
    pytest.param(b"a=\x00\x01&b=\x7f", [("a", "\x00\x01"), ("b", "\x7f")], id="control_bytes"),
])
def test_raw_bytes_in_a_query_are_decoded_as_utf8(query, fields):
    assert list(parse_qs_strict(raw(query)).items()) == fields
    request = Request.blank("/", environ={"QUERY_STRING": raw(query)})
    assert list(request.GET.items()) == fields


@pytest.mark.parametrize("query", [
    pytest.param(b"q=\xff", id="raw_ff"),
    pytest.param(b"q=\x80", id="raw_continuation_byte"),
    pytest.param(b"q=\xc3", id="raw_cut_sequence"),
    pytest.param(b"\xed\xa0\x80=1", id="raw_surrogate_name"),
    pytest.param(b"q=%ff", id="escaped_ff"),
])
def test_query_bytes_that_are_not_utf8_are_400(query):
    with pytest.raises(HTTPBadRequest, match="The query string is not valid UTF-8"):
        parse_qs_strict(raw(query))
    with pytest.raises(HTTPBadRequest, match="The query string is not valid UTF-8"):
        _ = Request.blank("/", environ={"QUERY_STRING": raw(query)}).GET


def test_a_query_outside_latin1_is_taken_as_text():
    """An environ no server makes (text past U+00FF, as a test might build it)
    is read as the text it is, not refused."""
    assert list(parse_qs_strict("q=\u2603").items()) == [("q", "\u2603")]
