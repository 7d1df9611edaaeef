"""PasteDeploy: the app and filter factories, deploy/*.ini through loadapp,
plaster, WebTest's ``config:`` and a real ``pserve`` process."""

import functools
import logging
import os
import sys
from pathlib import Path

import plaster
import pytest
import requests
from paste.deploy import loadapp
from reliability_util import exchange, statuses
from serverutil import ServerProcess, free_port
from webtest import TestApp

from webkit_app import App
from webkit_app.middleware import hash_password
from webkit_app.paste import (
    access_log_filter,
    app_factory,
    basic_auth_filter,
    cors_filter,
    demo_factory,
    errors_filter,
    request_id_filter,
)
from webkit_app.settings import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DEV_INI = DEPLOY / "development.ini"
PROD_INI = DEPLOY / "production.ini"
SECRET = "k9!Zp2#Lq8@Xr5$Wm3^Tv7&Bn4*Hc6(Jd1)"
ORIGIN = "https://app.example.com"


@pytest.fixture(autouse=True)
def data_env(tmp_path, monkeypatch):
    """The data lives in tmp_path; the environment wins over the ini."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'notes.sqlite3'}")
    monkeypatch.setenv("FILES_DIR", str(tmp_path / "files"))
    for name in ("SECRET_KEY", "DEBUG", "HTPASSWD", "AUTH_USERS_FILE", "CORS_ORIGINS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def htpasswd(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("admin:" + hash_password("pw") + "\n")
    return path


def prod_globals(htpasswd):
    return {"htpasswd": str(htpasswd), "cors_origins": ORIGIN}


def check_stack(app, origin, user, caplog):
    """The pipeline's middleware all act: request id, access log, CORS, errors, auth."""
    t = TestApp(app, lint=True)
    with caplog.at_level(logging.INFO, logger="webkit_app.access"):
        res = t.get("/", headers={"Origin": origin})
    assert len(res.headers["X-Request-ID"]) >= 16
    assert res.headers["Access-Control-Allow-Origin"] == origin
    assert "Access-Control-Allow-Origin" not in t.get("/", headers={"Origin": "https://evil"}).headers
    assert any(r.name == "webkit_app.access" and '"GET / HTTP/1.0" 200' in r.getMessage()
               for r in caplog.records)
    assert t.get("/nope", status=404).json["status"] == 404
    assert t.get("/admin", status=401).headers["WWW-Authenticate"].startswith("Basic ")
    t.authorization = ("Basic", user)
    assert user[0] in t.get("/admin", status=200).text


def test_development_ini_pipeline(caplog):
    app = loadapp(f"config:{DEV_INI}")
    check_stack(app, "http://localhost:3000", ("dev", "dev"), caplog)


def test_production_ini_pipeline(monkeypatch, htpasswd, caplog):
    monkeypatch.setenv("SECRET_KEY", SECRET)
    app = loadapp(f"config:{PROD_INI}", global_conf=prod_globals(htpasswd))
    check_stack(app, ORIGIN, ("admin", "pw"), caplog)


def test_production_ini_refuses_to_start_without_a_secret(htpasswd):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        loadapp(f"config:{PROD_INI}", global_conf=prod_globals(htpasswd))


def test_production_ini_names_a_missing_htpasswd(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", SECRET)
    with pytest.raises(ValueError, match="htpasswd"):
        loadapp(f"config:{PROD_INI}", global_conf={"htpasswd": str(tmp_path / "none")})


@pytest.mark.parametrize("ini", [DEV_INI, PROD_INI])
def test_plaster_loads_app_server_and_logging(ini, monkeypatch, htpasswd, caplog):
    monkeypatch.setenv("SECRET_KEY", SECRET)
    loader = plaster.get_loader(f"{ini}#main", protocols=["wsgi"])
    defaults = prod_globals(htpasswd) if ini == PROD_INI else {}
    app = loader.get_wsgi_app(defaults=defaults)
    user = ("admin", "pw") if ini == PROD_INI else ("dev", "dev")
    check_stack(app, ORIGIN if ini == PROD_INI else "http://localhost:3000", user, caplog)
    assert callable(loader.get_wsgi_server())  # waitress, not started
    assert {"loggers", "handlers", "formatters"} <= set(loader.get_sections())
    assert loader.get_settings("app:demo")["middleware"] == "false"


def test_webtest_loads_the_ini_by_config_uri():
    t = TestApp("config:deploy/development.ini", relative_to=str(ROOT))
    assert t.get("/users/7").json["id"] == 7
    assert "X-Request-ID" in t.get("/").headers


@pytest.mark.parametrize("factory", [
    pytest.param(demo_factory, id="demo"),
    pytest.param(functools.partial(app_factory, app="kit_for_paste:app"), id="app"),
    pytest.param(functools.partial(app_factory, app_factory="kit_for_paste:make_app"),
                 id="app_factory"),
])
def test_app_factories_build_the_stack_unless_middleware_is_off(tmp_path, factory, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = {"webkit_app.debug": "true"}
    stacked = TestApp(factory({"here": str(tmp_path)}, **settings))
    assert "X-Request-ID" in stacked.get("/users/1").headers
    bare = factory({"here": str(tmp_path)}, middleware="false", **settings)
    assert isinstance(bare, App)
    assert "X-Request-ID" not in TestApp(bare).get("/users/1").headers


def test_the_generic_factory_loads_an_app_by_dotted_name(tmp_path):
    app = app_factory({"here": str(tmp_path)}, app="kit_for_paste:app", debug="true")
    res = TestApp(app).get("/users/7")
    assert res.json["id"] == 7 and "X-Request-ID" in res.headers


@pytest.mark.parametrize("settings, message", [
    ({"webkit_app.debug": "maybe"}, "DEBUG|debug"),
    ({"webkit_app.port": "http"}, "port"),
    ({"webkit_app.colour": "blue"}, "webkit_app.colour"),
    ({"middleware": "sometimes"}, "middleware = 'sometimes'"),
])
@pytest.mark.parametrize("factory", [demo_factory, functools.partial(
    app_factory, app="kit_for_paste:app")], ids=["demo", "app"])
def test_app_factories_name_a_bad_setting(tmp_path, settings, message, factory):
    with pytest.raises(ValueError, match=message):
        factory({"here": str(tmp_path)}, **settings)


@pytest.mark.parametrize("settings, message", [
    ({}, "needs one of app = mypkg.web:app"),
    ({"app": "a:b", "app_factory": "c:d"}, "needs one of app = mypkg.web:app"),
    ({"app": "no_such_module_xyz:app"}, "app = 'no_such_module_xyz:app': No module named"),
    ({"app": "kit_for_paste:nothing"}, "has no attribute 'nothing'"),
    ({"app": "kit_for_paste:NOT_AN_APP"}, "is a int, not a WSGI application"),
    ({"app": "not a dotted name"}, "is not a dotted name"),
])
def test_the_generic_factory_names_a_bad_app(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        app_factory({"here": str(tmp_path)}, **settings)


def inner(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.mark.parametrize("factory, local, check", [
    (cors_filter, {"allow_origins": "https://a.example\n https://b.example, https://c.example",
                   "allow_credentials": "on", "max_age": "60"},
     lambda t: t.get("/", headers={"Origin": "https://c.example"}).headers[
         "Access-Control-Allow-Credentials"] == "true"),
    (request_id_filter, {"header": "X-Trace"}, lambda t: "X-Trace" in t.get("/").headers),
    (errors_filter, {"debug": "no"}, lambda t: t.get("/").text == "ok"),
    (access_log_filter, {"exclude_paths": "/a /b", "logger": "x.y"},
     lambda t: t.get("/").text == "ok"),
    (basic_auth_filter, {"users": "u1:" + hash_password("p1"), "protect": "/p", "exempt": "/p/x"},
     lambda t: t.get("/p", status=401) and t.get("/p/x").text == "ok" and t.get("/").text == "ok"),
])
def test_filters_coerce_ini_strings(factory, local, check):
    assert check(TestApp(factory({"here": "/"}, **local)(inner)))


def test_basic_auth_htpasswd_is_relative_to_the_ini(htpasswd):
    wrap = basic_auth_filter({"here": str(htpasswd.parent)}, htpasswd="htpasswd")
    t = TestApp(wrap(inner))
    t.get("/", status=401)
    t.authorization = ("Basic", ("admin", "pw"))
    assert t.get("/").text == "ok"


@pytest.mark.parametrize("factory, local, message", [
    (cors_filter, {"allow_credentials": "sure"}, r"\[filter:cors\] allow_credentials = 'sure': "
                                                 "expected a boolean"),
    (cors_filter, {"max_age": "-1"}, r"max_age = '-1': expected a whole number"),
    (cors_filter, {"allow_origins": "*", "allow_credentials": "true"}, r"\[filter:cors\] .*\*"),
    (cors_filter, {"allow_origin_regex": "("}, r"\[filter:cors\]"),
    (errors_filter, {"debug": "2"}, r"\[filter:errors\] debug = '2'"),
    (request_id_filter, {"heder": "X"}, r"unknown option\(s\) heder \(known: header\)"),
    (basic_auth_filter, {"realm": "x"}, r"needs an htpasswd file or users"),
    (basic_auth_filter, {"htpasswd": "missing"}, r"htpasswd = 'missing': no such file"),
    (basic_auth_filter, {"users": "nohash"}, r"\[filter:basic_auth\] users: expected one 'user:hash'"),
])
def test_filters_name_the_bad_option(factory, local, message):
    with pytest.raises(ValueError, match=message):
        factory({"here": "/nonexistent"}, **local)


@pytest.mark.server
def test_pserve_serves_the_development_ini(tmp_path):
    port = free_port()
    pserve = Path(sys.executable).parent / "pserve"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [pserve, DEV_INI, f"listen=127.0.0.1:{port}"]
    with ServerProcess(argv, log=tmp_path / "pserve.log", env=env, cwd=tmp_path) as server:
        url = f"http://127.0.0.1:{port}"
        server.wait_ready(url + "/health/live", timeout=60)
        res = requests.get(url + "/users/7", headers={"Origin": "http://localhost:3000"},
                           timeout=10)
        assert res.status_code == 200 and res.json()["id"] == 7
        assert res.headers["Server"] == "waitress"
        assert res.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        rid = res.headers["X-Request-ID"]
        assert requests.get(url + "/admin", timeout=10).status_code == 401
        # [server:main] is webkit_app's strict waitress: ambiguous framing is refused
        reply = exchange(port, b"POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assert statuses(reply) == [400] and reply.closed
        # NOTE: waitress installs no SIGTERM handler: pserve ends by the signal.
        assert server.terminate() in (0, -15)
    assert "GET /users/7 HTTP/1.1\" 200" in server.output  # the ini's logging, access log
    assert rid in server.output


# -- session and cross_origin filters ----------------------------------------------------


def test_session_filter_takes_the_secret_from_the_environment_over_the_ini(monkeypatch):
    from webkit_app.paste import session_filter

    monkeypatch.setenv("SECRET_KEY", SECRET)
    wrapped = session_filter({}, secret="x" * 40, max_age="60", secure="true")(App())
    assert wrapped.cookie._signers[0].secret == SECRET
    assert wrapped.cookie.max_age == 60 and wrapped.cookie.secure is True


@pytest.mark.parametrize(("local", "message"), [
    pytest.param({}, r"\[filter:session\] needs a secret: set SECRET_KEY", id="no_secret"),
    pytest.param({"secret": "short"}, r"\[filter:session\] session secret must be a string of "
                                      "at least 32", id="short"),
    pytest.param({"secret": "x" * 40, "samesite": "sometimes"}, r"\[filter:session\] session "
                 "samesite is", id="samesite"),
    pytest.param({"secret": "x" * 40, "colour": "red"}, r"\[filter:session\] unknown option",
                 id="unknown"),
    pytest.param({"secret": "x" * 40, "max_age": "soon"}, r"\[filter:session\] max_age",
                 id="max_age"),
])
def test_session_filter_refuses_bad_options_at_load_time(local, message):
    from webkit_app.paste import session_filter

    with pytest.raises(ValueError, match=message):
        session_filter({}, **local)


@pytest.mark.parametrize(("local", "message"), [
    pytest.param({"trusted_origins": "*"}, r"\[filter:cross_origin\] cross_origin trusted_origins",
                 id="star"),
    pytest.param({"bypass": "hooks"}, r"\[filter:cross_origin\] cross_origin bypass", id="bypass"),
    pytest.param({"allow": "x"}, r"\[filter:cross_origin\] unknown option", id="unknown"),
])
def test_cross_origin_filter_refuses_bad_options_at_load_time(local, message):
    from webkit_app.paste import cross_origin_filter

    with pytest.raises(ValueError, match=message):
        cross_origin_filter({}, **local)


@pytest.mark.parametrize("ini", [DEV_INI, PROD_INI])
def test_deploy_inis_sign_in_with_a_session_and_refuse_cross_site_posts(ini, monkeypatch,
                                                                        htpasswd):
    monkeypatch.setenv("SECRET_KEY", SECRET)
    defaults = prod_globals(htpasswd) if ini == PROD_INI else {}
    user = ("admin", "pw") if ini == PROD_INI else ("dev", "dev")
    t = TestApp(loadapp(f"config:{ini}", global_conf=defaults), lint=True)
    t.post("/login", {"user": user[0], "password": user[1]},
           headers={"Sec-Fetch-Site": "cross-site"}, status=403)
    res = t.post("/login", {"user": user[0], "password": user[1]},
                 headers={"Sec-Fetch-Site": "same-origin"}, status=303)
    assert "; HttpOnly; SameSite=Lax" in res.headers["Set-Cookie"]
    assert f"Signed in as <strong>{user[0]}</strong>" in t.get("/notes").text
