"""create_app: config from the environment, the middleware stack, /admin, laziness."""

import base64
import logging
import os
import subprocess
import sys

import bcrypt
import pytest
import webtest

from webkit_app import App
from webkit_app.demo import Config, make_demo
from webkit_app.demo.factory import create_app, layers, wrap
from webkit_app.middleware import (
    access_log,
    basic_auth,
    cors,
    cross_origin,
    errors,
    hash_password,
    request_id,
    session,
)
from webkit_app.settings import ConfigError

pytestmark = pytest.mark.timeout(60)
ORIGIN = "https://app.example.com"


def auth(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def build(settings, **more):
    return webtest.TestApp(create_app(Config.from_settings({**settings, **more})), lint=True)


@pytest.fixture
def htpasswd(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text(
        "admin:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode() + "\n"
        "bob:" + hash_password("bobpw", "pbkdf2:sha256:1000") + "\n"
        "x<i>:" + hash_password("pw", "pbkdf2:sha256:1000") + "\n"
    )
    return str(path)


@pytest.fixture
def restore_log_levels():
    loggers = [logging.getLogger(n) for n in ("webkit_app", "webkit_app.access")]
    levels = [lg.level for lg in loggers]
    yield
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


# -- configuration ----------------------------------------------------------------


def test_without_config_reads_the_environment(monkeypatch, tmp_path, restore_log_levels):
    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    monkeypatch.setenv("FILES_DIR", str(tmp_path))
    app = webtest.TestApp(create_app())
    app.get("/environ", status=200)  # registered only with DEBUG on
    app.post_json("/api/notes", {"text": "x"}, status=201)
    assert os.path.exists(tmp_path / "env.sqlite3")


def test_without_config_refuses_production_without_a_secret(monkeypatch, restore_log_levels):
    for name in ("DEBUG", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_configures_logging(settings, restore_log_levels):
    build(settings, **{"webkit_app.log_level": "WARNING"})
    assert logging.getLogger("webkit_app").level == logging.WARNING
    assert logging.getLogger("webkit_app.access").level == logging.WARNING


def test_building_opens_no_database(settings):
    path = settings["webkit_app.database_url"][len("sqlite:///"):]
    app = create_app(Config.from_settings(settings))
    assert not os.path.exists(path)
    webtest.TestApp(app).get("/api/notes")
    assert os.path.exists(path)


def test_importing_wsgi_opens_no_database(tmp_path):
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/w.sqlite3",
           "FILES_DIR": str(tmp_path)}
    code = "import webkit_app.demo.wsgi as w; print(callable(w.application))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.stdout.strip() == "True", out.stderr
    assert not os.path.exists(tmp_path / "w.sqlite3")


# -- the stack --------------------------------------------------------------------


@pytest.mark.parametrize("more, expected", [
    ({}, [request_id, access_log, errors, cross_origin, session]),
    ({"webkit_app.cors_origins": ORIGIN},
     [request_id, access_log, cors, errors, cross_origin, session]),
])
def test_layers_top_down(settings, more, expected):
    assert [layer[0] if isinstance(layer, tuple) else layer
            for layer in layers(Config.from_settings({**settings, **more}))] == expected


@pytest.mark.parametrize(("more", "trusted", "bypass"), [
    pytest.param({}, (), (), id="none"),
    pytest.param({"webkit_app.csrf_trusted_origins": "https://admin.example.com",
                  "webkit_app.cors_origins": ORIGIN},
                 ("https://admin.example.com", ORIGIN), (), id="cors_origins_are_trusted"),
    pytest.param({"webkit_app.cors_origins": "*"}, (), ("/api/",), id="cors_star_leaves_the_api"),
])
def test_cross_origin_trusts_what_cors_allows(settings, more, trusted, bypass):
    stack = dict(layers(Config.from_settings({**settings, **more}))[-2:])
    assert stack[cross_origin] == {"trusted_origins": trusted, "bypass": bypass}
    assert stack[session]["secret"] == settings["webkit_app.secret_key"]
    assert stack[session]["max_age"] == 14 * 24 * 3600


def test_debug_without_a_secret_signs_sessions_with_a_random_key(settings, caplog):
    del settings["webkit_app.secret_key"]
    config = Config.from_settings({**settings, "webkit_app.debug": "true"})
    with caplog.at_level(logging.WARNING, logger="webkit_app.demo"):
        first, second = (dict(layers(config)[-2:])[session]["secret"] for _ in range(2))
    assert len(first) >= 32 and first != second
    assert "sessions are signed with a random key" in caplog.text


def test_layers_with_users_end_with_basic_auth_on_admin(settings, htpasswd):
    last = layers(Config.from_settings({**settings, "webkit_app.htpasswd": htpasswd}))[-1]
    assert last[0] is basic_auth and last[1]["protect"] == ("/admin",)


@pytest.mark.parametrize("path, status", [("/api/notes", 200), ("/nowhere", 404)])
def test_every_response_has_a_request_id(testapp, path, status):
    assert len(testapp.get(path, status=status).headers["X-Request-ID"]) == 32


def boom(request):
    raise RuntimeError("secret detail <b>")


def raising_app():
    app = App()
    app.add_route("GET", "/boom", boom)
    return app


def test_production_500_is_generic_with_the_request_id(settings):
    app = webtest.TestApp(wrap(raising_app(), Config.from_settings(settings)))
    res = app.get("/boom", status=500)
    assert res.json["request_id"] == res.headers["X-Request-ID"]
    assert "secret detail" not in res.text


def test_debug_500_is_an_escaped_traceback_page(settings):
    config = Config.from_settings({**settings, "webkit_app.debug": "true"})
    res = webtest.TestApp(wrap(raising_app(), config)).get("/boom", status=500)
    assert "RuntimeError" in res.text and "&lt;b&gt;" in res.text and "<b>" not in res.text


def test_cors_off_unless_configured(testapp):
    res = testapp.get("/api/notes", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in res.headers


@pytest.mark.parametrize("origin, allowed", [(ORIGIN, True), ("https://evil.example", False)])
def test_cors_when_configured(settings, origin, allowed):
    app = build(settings, **{"webkit_app.cors_origins": ORIGIN})
    res = app.get("/api/notes", headers={"Origin": origin})
    assert (res.headers.get("Access-Control-Allow-Origin") == origin) is allowed
    assert "Origin" in res.headers["Vary"]


def test_cors_preflight_for_delete(settings):
    app = build(settings, **{"webkit_app.cors_origins": ORIGIN})
    res = app.options("/api/notes/1", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"}, status=204)
    assert "DELETE" in res.headers["Access-Control-Allow-Methods"]


def test_allowed_hosts(settings):
    app = build(settings, **{"webkit_app.allowed_hosts": "example.com"})
    app.get("/api/notes", headers={"Host": "evil.com"}, status=400)
    app.get("/api/notes", headers={"Host": "example.com"}, status=200)


# -- /admin -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin", "/admin/stats"])
def test_admin_absent_without_users(testapp, path):
    testapp.get(path, status=404)


@pytest.mark.parametrize("headers", [{}, auth("admin", "wrong"), auth("nobody", "s3cret"),
                                     {"Authorization": "Basic !!!"}])
def test_admin_refuses_without_good_credentials(settings, htpasswd, headers):
    app = build(settings, **{"webkit_app.htpasswd": htpasswd})
    res = app.get("/admin/stats", headers=headers, status=401)
    assert res.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_admin_page_shows_the_user_and_the_pool(settings, htpasswd):
    app = build(settings, **{"webkit_app.htpasswd": htpasswd})
    app.get("/api/notes")
    res = app.get("/admin", headers=auth("admin", "s3cret"))
    assert "Signed in as <strong>admin</strong>" in res.text and "<th>in_use</th>" in res.text
    assert "private" in res.headers["Cache-Control"] and "Authorization" in res.headers["Vary"]
    stats = app.get("/admin/stats", headers=auth("bob", "bobpw")).json
    assert stats["user"] == "bob" and stats["pool"]["size"] == 1


def test_admin_page_escapes_the_user_name(settings, htpasswd):
    app = build(settings, **{"webkit_app.htpasswd": htpasswd})
    res = app.get("/admin", headers=auth("x<i>", "pw"))
    assert "x&lt;i&gt;" in res.text and "x<i>" not in res.text


def test_admin_users_limits_who_may_enter(settings, htpasswd):
    app = build(settings, **{"webkit_app.htpasswd": htpasswd, "webkit_app.admin_users": "admin"})
    app.get("/admin", headers=auth("admin", "s3cret"), status=200)
    app.get("/admin", headers=auth("bob", "bobpw"), status=401)


def test_admin_users_not_in_the_file_fail_at_start(settings, htpasswd):
    with pytest.raises(ConfigError, match="carol"):
        build(settings, **{"webkit_app.htpasswd": htpasswd, "webkit_app.admin_users": "carol"})


def test_admin_views_refuse_without_the_auth_middleware(settings, htpasswd):
    app = webtest.TestApp(make_demo(Config.from_settings({**settings,
                                                          "webkit_app.htpasswd": htpasswd})))
    app.get("/admin", status=403)
    app.get("/admin/stats", status=403)


def test_registered_routes(settings, htpasswd):
    base = {r.pattern for r in make_demo(Config.from_settings(settings)).routes}
    assert {"/api/notes", "/api/notes/{id:int}", "/api/notes/export", "/download/{name:path}",
            "/health", "/health/live", "/health/ready"} <= base
    assert not {"/environ", "/admin"} & base
    full = make_demo(Config.from_settings({**settings, "webkit_app.debug": "true",
                                           "webkit_app.htpasswd": htpasswd}))
    assert {"/environ", "/admin", "/admin/stats"} <= {r.pattern for r in full.routes}
