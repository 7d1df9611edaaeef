"""The PostgreSQL store's own behaviour, on a real server (``tests/pg_util.py``).

What both stores share is in ``tests/test_notes.py`` (run against both); here:
selecting the store from ``DATABASE_URL``, the password kept out of every
place settings are shown, schema creation by several instances at once,
readiness, and database trouble as a 503 with ``Retry-After``.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import sys

import psycopg
import pytest
import requests
import webtest
from serverutil import ServerProcess, free_port

from webkit_app.cli import main as cli_main
from webkit_app.demo import Config, make_demo, make_store
from webkit_app.demo.config import mask_url
from webkit_app.demo.environ import masked_environ
from webkit_app.demo.factory import wrap
from webkit_app.demo.postgres import PostgresNotesStore
from webkit_app.settings import MASK, ConfigError

pytestmark = pytest.mark.timeout(60)
SECRET = "test-secret-key-" + "x" * 32


def config_for(url, **extra):
    return Config.from_environ({"SECRET_KEY": SECRET, "DATABASE_URL": url, **extra})


def build(url, **extra):
    config = config_for(url, **extra)
    store = make_store(config)
    return webtest.TestApp(wrap(make_demo(config, store=store), config)), store


# -- settings ----------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    pytest.param("postgresql://app:pw@db.example:5432/notes", id="postgresql"),
    pytest.param("postgres://app:pw@db.example/notes", id="postgres"),
    pytest.param("postgresql://app@10.0.0.5:6432/notes?sslmode=require", id="no-password"),
])
def test_a_postgresql_url_selects_the_postgresql_store(url):
    config = config_for(url)
    assert config.database_backend == "postgresql" and config.database_path == ""
    store = make_store(config)
    assert isinstance(store, PostgresNotesStore) and store.url == url


@pytest.mark.parametrize("url, shown", [
    ("postgresql://app:hunter2@db:5432/notes", f"postgresql://app:{MASK}@db:5432/notes"),
    ("postgres://app:p%40ss:w@db/notes", f"postgres://app:{MASK}@db/notes"),
    ("postgresql://app:a@b@db/notes", f"postgresql://app:{MASK}@db/notes"),
    ("postgresql://app@db/notes", "postgresql://app@db/notes"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_mask_url_hides_the_password_only(url, shown):
    assert mask_url(url) == shown


def test_describe_masked_and_repr_hide_the_database_password():
    config = config_for("postgresql://app:hunter2@db:5432/notes")
    assert config.masked()["database_url"] == f"postgresql://app:{MASK}@db:5432/notes"
    assert f"postgresql://app:{MASK}@db:5432/notes" in config.describe()
    for shown in (config.describe(), repr(config), str(config.masked())):
        assert "hunter2" not in shown


def test_a_refused_url_is_named_without_its_password():
    with pytest.raises(ConfigError, match=r"DATABASE_URL='postgresql://app:\*{8}@db:x/'") as info:
        config_for("postgresql://app:hunter2@db:x/")
    assert "hunter2" not in str(info.value)


def test_webkit_app_config_masks_the_database_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db:5432/notes")
    out = io.StringIO()
    assert cli_main(["config", "--settings", "webkit_app.demo:Config"], out=out) == 0
    assert f"postgresql://app:{MASK}@db:5432/notes" in out.getvalue()
    assert "hunter2" not in out.getvalue()


def test_environ_page_masks_the_database_password():
    shown = masked_environ({"DATABASE_URL": "postgresql://app:hunter2@db:5432/notes"})
    assert shown["DATABASE_URL"] == f"postgresql://app:{MASK}@db:5432/notes"


# -- start-up ----------------------------------------------------------------------


def _first_request(url, barrier, queue):
    """One 'instance': its own store, waiting for the others, then its first write."""
    try:
        store = PostgresNotesStore(url, pool_size=1, pool_timeout=20)
        barrier.wait(20)
        queue.put(("ok", store.create("started")["id"]))
    except BaseException as exc:  # pragma: no cover - reported in the parent
        queue.put(("error", repr(exc)))


@pytest.mark.parametrize("attempt", range(3))
def test_three_instances_starting_at_once_on_an_empty_database(pg_url, attempt):
    """CREATE TABLE IF NOT EXISTS alone fails here (a unique violation in the
    catalog) when sessions race; the advisory lock serialises them."""
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_first_request, args=(pg_url, barrier, queue))
             for _ in range(3)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=40) for _ in procs]
    for p in procs:
        p.join(10)
    assert sorted(results) == [("ok", 1), ("ok", 2), ("ok", 3)]


# -- trouble -----------------------------------------------------------------------


def test_ready_checks_postgresql_and_no_disk(pg_url):
    app, _ = build(pg_url)
    res = app.get("/health/ready")
    assert res.json["status"] == "pass"
    assert set(res.json["checks"]) == {"database:responseTime"}


def test_unreachable_server_is_503_with_retry_after_and_not_ready(caplog):
    url = f"postgresql://app:hunter2@127.0.0.1:{free_port()}/notes"
    app, _ = build(url, POOL_TIMEOUT="0.5")
    with caplog.at_level(logging.WARNING, logger="webkit_app"):
        res = app.get("/api/notes", status=503)
        app.post_json("/api/notes", {"text": "x"}, status=503)
    assert res.headers["Retry-After"] == "1" and res.json["status"] == 503
    assert app.get("/health/ready", status=503).json["status"] == "fail"
    assert f"app:{MASK}@127.0.0.1" in caplog.text and "hunter2" not in caplog.text


def test_a_lock_timeout_is_503_with_retry_after_then_recovers(pg_url, caplog):
    """A database error while a query runs (psycopg.OperationalError) is a 503."""
    app, _ = build(pg_url)
    app.post_json("/api/notes", {"text": "x"}, status=201)
    with psycopg.connect(pg_url, autocommit=True) as admin, psycopg.connect(pg_url) as locker:
        admin.execute("ALTER DATABASE notes_test SET lock_timeout = '200ms'")
        try:
            app, _ = build(pg_url)  # NOTE: new sessions take the setting
            locker.execute("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE")
            with caplog.at_level(logging.ERROR, logger="webkit_app"):
                res = app.get("/api/notes", status=503)
            locker.rollback()
        finally:
            admin.execute("ALTER DATABASE notes_test RESET lock_timeout")
    assert res.headers["Retry-After"] == "5" and "unavailable" in res.json["detail"]
    assert "LockNotAvailable" in caplog.text
    assert app.get("/api/notes").json["total"] == 1


def test_serve_with_a_postgresql_url(pg_url, tmp_path):
    """``webkit-app serve webkit_app.demo.wsgi:application`` on PostgreSQL."""
    port = free_port()
    env = {"DATABASE_URL": pg_url, "SECRET_KEY": SECRET, "PATH": "/usr/bin:/bin",
           "FILES_DIR": str(tmp_path)}
    cli = [sys.executable, "-m", "webkit_app", "serve", "webkit_app.demo.wsgi:application",
           "--port", str(port)]
    with ServerProcess(cli, log=tmp_path / "serve.log", env=env) as server:
        server.wait_ready(f"http://127.0.0.1:{port}/health/live")
        base = f"http://127.0.0.1:{port}"
        created = requests.post(f"{base}/api/notes", json={"text": "served"}, timeout=10)
        assert created.status_code == 201, created.text
        assert requests.get(f"{base}/health/ready", timeout=10).status_code == 200
        assert requests.get(f"{base}/api/notes", timeout=10).json()["total"] == 1
    assert pg_url.split(":")[2].split("@")[0] not in server.output  # the password
