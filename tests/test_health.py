"""Health checks: the application/health+json document, timeouts, 200/503, built-ins."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time

import pytest
import webob.dec
import webtest

from webkit_app.demo import Config
from webkit_app.demo.health import default_checks
from webkit_app.health import (
    CONTENT_TYPE,
    FAIL,
    PASS,
    WARN,
    HealthChecks,
    Observation,
    database_check,
    disk_check,
    live,
)
from webkit_app.pool import ConnectionPool

WAIT = 5.0
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").fullmatch


def client(handler) -> webtest.TestApp:
    """The handler behind a tiny WSGI adapter, under WebTest's lint."""
    return webtest.TestApp(webob.dec.wsgify(handler), lint=True)


def checks_with(*specs, **kwargs) -> HealthChecks:
    checks = HealthChecks(**kwargs)
    for name, func, *rest in specs:
        checks.add(name, func, **(rest[0] if rest else {}))
    return checks


def assert_health_headers(res: webtest.TestResponse) -> None:
    assert res.headers["Content-Type"] == CONTENT_TYPE  # no charset parameter
    assert res.headers["Cache-Control"] == "no-store"


# -- /health/live ------------------------------------------------------------------

def test_live_passes_and_checks_nothing():
    res = client(live).get("/health/live", status=200)
    assert res.json == {"status": "pass"}
    assert_health_headers(res)


def test_live_head_has_headers_and_no_body():
    res = client(live).head("/health/live", status=200)
    assert res.body == b""
    assert_health_headers(res)


# -- the document -------------------------------------------------------------------

def test_all_checks_pass_gives_200_and_the_full_document():
    checks = checks_with(
        ("cache:responseTime", lambda: Observation(PASS, 1.5, "ms"), {"component_type": "datastore"}),
        ("uptime", lambda: None),
        version="1", release_id="1.2.3", service_id="notes", description="the demo",
    )
    res = client(checks.handler).get("/health", status=200)
    assert_health_headers(res)
    doc = res.json
    assert {k: doc[k] for k in ("status", "version", "releaseId", "serviceId", "description")} \
        == {"status": "pass", "version": "1", "releaseId": "1.2.3", "serviceId": "notes",
            "description": "the demo"}
    assert set(doc["checks"]) == {"cache:responseTime", "uptime"}
    [cache] = doc["checks"]["cache:responseTime"]
    assert {k: cache[k] for k in ("componentType", "observedValue", "observedUnit", "status")} \
        == {"componentType": "datastore", "observedValue": 1.5, "observedUnit": "ms",
            "status": "pass"}
    assert ISO_UTC(cache["time"]) and cache["duration_ms"] >= 0
    assert "output" not in cache
    [uptime] = doc["checks"]["uptime"]
    assert uptime["componentType"] == "component" and "observedValue" not in uptime


@pytest.mark.parametrize("result, status, code", [
    (None, PASS, 200), (True, PASS, 200), (Observation(WARN, output="slow"), WARN, 200),
    (False, FAIL, 503), (Observation(FAIL, output="down"), FAIL, 503),
])
def test_overall_status_and_http_code(result, status, code):
    checks = checks_with(("ok", lambda: None), ("other", lambda: result))
    res = client(checks.handler).get("/health/ready", status=code)
    assert res.json["status"] == status
    assert res.json["checks"]["other"][0]["status"] == status
    assert res.json["checks"]["ok"][0]["status"] == PASS


def test_warn_and_fail_together_is_fail():
    checks = checks_with(("a", lambda: Observation(WARN)), ("b", lambda: False))
    assert client(checks.handler).get("/health", status=503).json["status"] == FAIL


def test_check_that_raises_is_fail_with_its_message():
    def broken() -> None:
        raise ConnectionRefusedError("cache at 10.0.0.5:6379 refused")

    res = client(checks_with(("cache", broken)).handler).get("/health", status=503)
    [entry] = res.json["checks"]["cache"]
    assert entry["status"] == FAIL
    assert entry["output"] == "ConnectionRefusedError: cache at 10.0.0.5:6379 refused"


def test_no_checks_passes():
    assert client(HealthChecks().handler).get("/health", status=200).json == {"status": "pass"}


def test_observed_value_that_is_not_json_becomes_text():
    checks = checks_with(("obj", lambda: Observation(PASS, object())))
    value = client(checks.handler).get("/health").json["checks"]["obj"][0]["observedValue"]
    assert value.startswith("<object object")


# -- timeouts ----------------------------------------------------------------------

def test_check_exceeding_its_timeout_fails_without_holding_the_response():
    release, calls = threading.Event(), []

    def hung() -> None:
        calls.append(1)
        release.wait(WAIT)

    checks = checks_with(("hung", hung, {"timeout": 0.2}), ("ok", lambda: None))
    try:
        started = time.monotonic()
        res = client(checks.handler).get("/health", status=503)
        assert time.monotonic() - started < 1.0
        [entry] = res.json["checks"]["hung"]
        assert entry["status"] == FAIL and entry["output"] == "timed out after 0.2 s"
        assert res.json["checks"]["ok"][0]["status"] == PASS
        client(checks.handler).get("/health", status=503)  # still hung
        assert calls == [1]  # not started again while the first run hangs
    finally:
        release.set()


def test_checks_run_at_the_same_time():
    def slow() -> None:
        time.sleep(0.3)

    checks = checks_with(("a", slow), ("b", slow), ("c", slow), timeout=2.0)
    started = time.monotonic()
    assert checks.run()["status"] == PASS
    assert time.monotonic() - started < 0.6


# -- registration ------------------------------------------------------------------

def test_add_after_the_first_run_is_an_error():
    checks = checks_with(("a", lambda: None))
    checks.run()
    with pytest.raises(RuntimeError, match="after the first run"):
        checks.add("b", lambda: None)


@pytest.mark.parametrize("name, kwargs", [("a", {}), ("", {}), ("b", {"timeout": 0}),
                                          ("c", {"timeout": -1.0})])
def test_bad_registrations_are_refused(name, kwargs):
    checks = checks_with(("a", lambda: None))
    with pytest.raises(ValueError):
        checks.add(name, lambda: None, **kwargs)


def test_observation_status_is_checked():
    with pytest.raises(ValueError, match="expected pass, warn or fail"):
        Observation("ok")


def test_a_failure_is_logged_once_and_the_recovery_too(caplog):
    state = {"up": False}
    checks = checks_with(("db", lambda: state["up"]))
    with caplog.at_level(logging.INFO, logger="webkit_app.health"):
        checks.run()
        checks.run()
        state["up"] = True
        checks.run()
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == ["WARNING", "INFO"]
    assert "db: pass -> fail" in messages[0][1] and "db: fail -> pass" in messages[1][1]


# -- built-in checks ---------------------------------------------------------------

@pytest.fixture
def pool(tmp_path):
    path = str(tmp_path / "h.sqlite3")
    pool = ConnectionPool(lambda: sqlite3.connect(path, check_same_thread=False), max_size=1)
    yield pool
    pool.close()


def test_database_check_passes_with_its_round_trip(pool):
    res = client(checks_with(("database:responseTime", database_check(pool))).handler).get(
        "/health", status=200)
    [entry] = res.json["checks"]["database:responseTime"]
    assert entry["observedUnit"] == "ms" and entry["observedValue"] >= 0


def test_database_check_fails_fast_when_the_pool_is_exhausted(pool):
    checks = checks_with(("db", database_check(pool, checkout_timeout=0.1)))
    with pool.connection():  # the only connection is taken
        started = time.monotonic()
        res = client(checks.handler).get("/health", status=503)
        assert time.monotonic() - started < 1.0
    assert res.json["checks"]["db"][0]["output"].startswith("PoolTimeout: no database connection")


def test_database_check_fails_when_the_database_cannot_open(tmp_path):
    bad = ConnectionPool(lambda: sqlite3.connect(str(tmp_path / "no" / "such.db")), max_size=1)
    res = client(checks_with(("db", database_check(bad))).handler).get("/health", status=503)
    assert "OperationalError" in res.json["checks"]["db"][0]["output"]


@pytest.mark.parametrize("minimum, warn_below, status, code", [
    (0, None, PASS, 200), (10**18, None, FAIL, 503), (0, 10**18, WARN, 200),
])
def test_disk_check_thresholds(tmp_path, minimum, warn_below, status, code):
    check = disk_check(str(tmp_path), minimum, warn_free_bytes=warn_below)
    res = client(checks_with(("disk:free", check)).handler).get("/health", status=code)
    [entry] = res.json["checks"]["disk:free"]
    assert entry["status"] == status
    assert entry["observedUnit"] == "bytes" and entry["observedValue"] > 0


def test_disk_check_on_a_missing_path_fails(tmp_path):
    check = disk_check(str(tmp_path / "gone"), 0)
    assert checks_with(("disk", check)).run()["status"] == FAIL


def test_default_checks_from_config(tmp_path, pool):
    config = Config(debug=True, database_url=f"sqlite:///{tmp_path}/h.sqlite3",
                    health_disk_min_bytes=0, health_timeout=1.5)
    checks = default_checks(config, pool, version="7")
    assert checks.names == ("database:responseTime", "disk:free")
    doc = client(checks.handler).get("/health", status=200).json
    assert doc["version"] == "7"
    assert doc["checks"]["database:responseTime"][0]["componentType"] == "datastore"
    assert doc["checks"]["disk:free"][0]["componentType"] == "system"
