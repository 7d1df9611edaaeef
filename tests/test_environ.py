"""``/environ``: only in debug mode, every value escaped, secrets masked."""

import pytest
import webtest

from webkit_app.demo import Config
from webkit_app.demo.environ import is_secret_key, masked_environ
from webkit_app.demo.factory import create_app

MASK = "********"


@pytest.fixture
def debug_app(settings):
    settings = {**settings, "webkit_app.debug": "true"}
    return webtest.TestApp(create_app(Config.from_settings(settings)), lint=True)


def test_not_there_without_debug(testapp):
    testapp.get("/environ", status=404)


def test_page_in_debug(debug_app):
    res = debug_app.get("/environ")
    assert res.content_type == "text/html"
    assert "<th>PATH_INFO</th><td><code>/environ</code>" in res.text
    assert res.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in res.headers["Content-Security-Policy"]


@pytest.mark.parametrize("header, value", [
    ("Authorization", "Basic YWRtaW46aHVudGVyMg=="),
    ("Cookie", "session=hunter2"),
    ("Proxy-Authorization", "Basic aHVudGVyMg=="),
    ("X-Api-Key", "hunter2"),
    ("X-Auth-Token", "hunter2"),
    ("X-Csrf-Token", "hunter2"),
])
def test_secret_headers_are_masked(debug_app, header, value):
    res = debug_app.get("/environ", headers={header: value})
    key = "HTTP_" + header.upper().replace("-", "_")
    assert f"<th>{key}</th><td><code>{MASK}</code>" in res.text
    assert value not in res.text and "hunter2" not in res.text


@pytest.mark.parametrize("key, value, shown", [
    ("SECRET_KEY", "hunter2", MASK),
    ("DB_PASSWORD", "hunter2", MASK),
    ("GITHUB_TOKEN", "hunter2", MASK),
    ("webkit_app.session", "hunter2", MASK),
    ("DATABASE_URL", "postgres://app:hunter2@db:5432/x", f"postgres://app:{MASK}@db:5432/x"),
    ("some.object", object(), "&lt;builtins.object&gt;"),
])
def test_secret_values_are_masked(debug_app, key, value, shown):
    res = debug_app.get("/environ", extra_environ={key: value})
    assert f"<th>{key}</th><td><code>{shown}</code>" in res.text
    assert "hunter2" not in res.text


def test_secret_query_parameters_are_masked(debug_app):
    res = debug_app.get("/environ?a=1&token=hunter2&b=2")
    assert f"<th>QUERY_STRING</th><td><code>a=1&amp;token={MASK}&amp;b=2</code>" in res.text
    assert "hunter2" not in res.text


def test_simple_tuples_are_shown(debug_app):
    assert "<th>wsgi.version</th><td><code>(1, 0)</code>" in debug_app.get("/environ").text


def test_every_value_is_escaped(debug_app):
    evil = "<script>alert(1)</script>\"'&"
    res = debug_app.get("/environ?q=%3Cscript%3E", headers={"X-Evil": evil},
                        extra_environ={"<b>key</b>": "x"})
    assert "<script>" not in res.text and "<b>key" not in res.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in res.text
    assert "&lt;b&gt;key&lt;/b&gt;" in res.text


def test_app_objects_are_shown_by_type_only(debug_app):
    res = debug_app.get("/environ")
    assert "<th>webkit_app.app</th><td><code>&lt;webkit_app.app.App&gt;</code>" in res.text


@pytest.mark.parametrize("key, secret", [
    ("HTTP_AUTHORIZATION", True),
    ("HTTP_COOKIE", True),
    ("HTTP_X_API_KEY", True),
    ("SECRET_KEY", True),
    ("PATH_INFO", False),
    ("HTTP_USER_AGENT", False),
    ("REMOTE_ADDR", False),
])
def test_is_secret_key(key, secret):
    assert is_secret_key(key) is secret


def test_long_values_are_cut():
    shown = masked_environ({"HTTP_X_BIG": "a" * 10_000})["HTTP_X_BIG"]
    assert len(shown) < 2100 and shown.endswith("...")
