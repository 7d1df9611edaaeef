"""Middleware options given as ini strings are read by the settings' coercions."""

import pytest
import webtest

from webkit_app.middleware import cors, errors
from webkit_app.middleware._wsgi import as_bool, as_tuple
from webkit_app.settings import as_boolean, as_items


def ok_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("true", True, id="true"),
    pytest.param(" ON ", True, id="on-padded"),
    pytest.param("1", True, id="one"),
    pytest.param("off", False, id="off"),
    pytest.param("0", False, id="zero"),
    pytest.param("", False, id="empty-ini-value"),
    pytest.param("  ", False, id="blank-ini-value"),
    pytest.param(None, False, id="none"),
    pytest.param(True, True, id="bool"),
    pytest.param(0, False, id="int-zero"),
])
def test_a_boolean_option(value, expected):
    assert as_bool(value) is expected


@pytest.mark.parametrize("value", ["true", "YES", "on", "1", "false", "No", "off", "0"])
def test_a_boolean_option_reads_a_string_as_the_settings_do(value):
    assert as_bool(value) is as_boolean(value)


def test_a_misspelt_boolean_option_names_the_spellings_the_settings_accept():
    with pytest.raises(ValueError, match="expected a boolean: 1/0, true/false, yes/no or on/off"):
        errors(ok_app, debug="maybe")
    with pytest.raises(ValueError, match="expected a boolean: 1/0, true/false, yes/no or on/off"):
        cors(ok_app, allow_origins="https://a.example", allow_credentials="sometimes")


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("a, b  c,,d", ("a", "b", "c", "d"), id="commas-and-spaces"),
    pytest.param("", (), id="empty"),
    pytest.param(None, (), id="none"),
    pytest.param(["x", "y"], ("x", "y"), id="list"),
    pytest.param(iter(["z"]), ("z",), id="iterator"),
])
def test_a_list_option(value, expected):
    assert as_tuple(value) == expected


def test_a_list_option_string_is_split_as_the_settings_split_it():
    text = " https://a.example,https://b.example\thttps://c.example "
    assert as_tuple(text) == as_items(text)


def test_an_empty_ini_debug_value_leaves_debug_pages_off():
    def boom(environ, start_response):
        raise RuntimeError("secret detail")

    res = webtest.TestApp(errors(boom, debug="")).get("/", status=500)
    assert "secret detail" not in res.text
