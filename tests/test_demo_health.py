"""The demo's health endpoints through the whole stack (``create_app``)."""

import base64
import logging

import bcrypt
import pytest
import webtest

from webkit_app.demo import Config, make_demo
from webkit_app.demo.factory import create_app, wrap
from webkit_app.demo.store import NotesStore

pytestmark = pytest.mark.timeout(30)
HEALTH = "application/health+json"


def build(settings, **store_kw):
    config = Config.from_settings(settings)
    store = NotesStore(config.database_path, **store_kw)
    return webtest.TestApp(wrap(make_demo(config, store=store), config), lint=True), store


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/health"])
def test_pass_is_200_health_json_no_store(testapp, path):
    res = testapp.get(path)
    assert res.content_type == HEALTH and res.json["status"] == "pass"
    assert res.headers["Cache-Control"] == "no-store"


def test_live_checks_nothing(testapp):
    assert testapp.get("/health/live").json == {"status": "pass"}


@pytest.mark.parametrize("path", ["/health/ready", "/health"])
def test_ready_reports_database_and_disk(testapp, path):
    body = testapp.get(path).json
    assert set(body["checks"]) == {"database:responseTime", "disk:free"}
    db = body["checks"]["database:responseTime"][0]
    assert db["componentType"] == "datastore" and db["observedUnit"] == "ms"
    disk = body["checks"]["disk:free"][0]
    assert disk["observedUnit"] == "bytes" and disk["observedValue"] > 0
    assert body["version"]


def test_exhausted_pool_fails_ready_but_not_live(settings):
    app, store = build(settings, pool_size=1, pool_timeout=5)
    with store.pool.connection():
        res = app.get("/health/ready", status=503)
        assert app.get("/health/live").status_int == 200
    check = res.json["checks"]["database:responseTime"][0]
    assert res.json["status"] == "fail" and check["status"] == "fail"
    assert "PoolTimeout" in check["output"]
    assert app.get("/health/ready").json["status"] == "pass"  # recovers by itself


def test_broken_database_fails_ready(settings):
    path = settings["webkit_app.database_url"][len("sqlite:///"):]
    with open(path, "wb") as f:
        f.write(b"not a database " * 500)
    app, _ = build(settings)
    res = app.get("/health", status=503)
    assert res.json["checks"]["database:responseTime"][0]["status"] == "fail"
    assert res.json["checks"]["disk:free"][0]["status"] == "pass"


def test_low_disk_fails_ready(settings):
    settings["webkit_app.health_disk_min_bytes"] = str(2**50)  # 1 PiB
    res = webtest.TestApp(create_app(Config.from_settings(settings))).get("/health/ready",
                                                                          status=503)
    assert res.json["checks"]["disk:free"][0]["status"] == "fail"


def test_health_is_not_behind_basic_auth(settings, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("admin:" + bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode() + "\n")
    settings["webkit_app.htpasswd"] = str(htpasswd)
    app = webtest.TestApp(create_app(Config.from_settings(settings)))
    app.get("/admin", status=401)
    for path in ("/health/live", "/health/ready", "/health"):
        assert app.get(path).status_int == 200
    auth = "Basic " + base64.b64encode(b"admin:pw").decode()
    assert app.get("/admin", headers={"Authorization": auth}).status_int == 200


@pytest.mark.parametrize("log_health, logged", [("true", True), ("false", False)])
def test_health_probes_in_the_access_log_as_configured(settings, caplog, log_health, logged):
    settings["webkit_app.log_health_checks"] = log_health
    app = webtest.TestApp(create_app(Config.from_settings(settings)))
    with caplog.at_level(logging.INFO, logger="webkit_app.access"):
        app.get("/health/live")
        app.get("/health")
        app.get("/api/notes")
    paths = [r.path for r in caplog.records if r.name == "webkit_app.access"]
    assert ("/health/live" in paths and "/health" in paths) is logged
    assert "/api/notes" in paths


def test_user_checks_join_ready_through_create_app(settings):
    """Regression: the demo's HealthChecks were thrown away, so the README's
    ``checks.add(...)`` had no checks to add to."""
    from webkit_app.health import WARN, Observation

    state = {"depth": 5}

    def queue_depth():
        if state["depth"] is None:
            raise ConnectionError("queue unreachable")
        return Observation(WARN if state["depth"] > 1000 else "pass", state["depth"], "messages")

    app = webtest.TestApp(create_app(Config.from_settings(settings),
                                     health_checks={"queue:depth": queue_depth}))
    body = app.get("/health/ready").json
    assert body["status"] == "pass"
    assert body["checks"]["queue:depth"][0]["observedValue"] == 5
    state["depth"] = 5000
    assert app.get("/health/ready").json["status"] == "warn"
    state["depth"] = None
    res = app.get("/health/ready", status=503)
    assert "queue unreachable" in res.json["checks"]["queue:depth"][0]["output"]
    assert app.get("/health/live").json == {"status": "pass"}  # liveness checks nothing
