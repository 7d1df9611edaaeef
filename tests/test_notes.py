"""The notes API through the whole stack (``create_app``), and the store under concurrency.

Every test runs against both stores, SQLite and PostgreSQL (the ``backend``
fixture), so the two cannot drift; the few about SQLite's file alone say so
with ``sqlite_only``.
"""

import json
import multiprocessing
import os
import sqlite3
import threading

import pytest
import webtest

from webkit_app.demo import Config, make_demo, make_store
from webkit_app.demo.factory import create_app, wrap

pytestmark = pytest.mark.timeout(60)
BACKENDS = ("sqlite", "postgresql")
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def settings(settings, backend, request):
    """The project's settings, on the ``backend`` store."""
    if backend == "postgresql":
        return {**settings, "webkit_app.database_url": request.getfixturevalue("pg_url")}
    return settings


def db_path(settings):
    return settings["webkit_app.database_url"][len("sqlite:///"):]


def make(settings, **store_kw):
    """The app under the full stack, with a store the test can inspect."""
    config = Config.from_settings(settings)
    store = make_store(config, **store_kw)
    return webtest.TestApp(wrap(make_demo(config, store=store), config)), store


def run_sql(settings, sql):
    """Run ``sql`` on the test's database directly, outside the app."""
    url = settings["webkit_app.database_url"]
    if url.startswith("sqlite:///"):
        with sqlite3.connect(db_path(settings)) as conn:
            conn.execute(sql)
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


# -- the happy path ---------------------------------------------------------------


def test_create_returns_201_with_location_and_the_note(testapp):
    res = testapp.post_json("/api/notes", {"text": "hello"}, status=201)
    assert res.json["id"] == 1 and res.json["text"] == "hello"
    assert res.json["url"] == "/api/notes/1"
    assert res.headers["Location"].endswith("/api/notes/1")
    assert testapp.get(res.headers["Location"]).json["text"] == "hello"


def test_location_follows_script_name(settings):
    app = webtest.TestApp(create_app(Config.from_settings(settings)),
                          extra_environ={"SCRIPT_NAME": "/kit"})
    res = app.post_json("/api/notes", {"text": "x"}, status=201)
    assert res.headers["Location"].endswith("/kit/api/notes/1")
    assert res.json["url"] == "/kit/api/notes/1"


def test_unicode_text_round_trips(testapp):
    text = "caf\u00e9 \u2603 \U0001f600 <b>&"
    note_id = testapp.post_json("/api/notes", {"text": text}).json["id"]
    assert testapp.get(f"/api/notes/{note_id}").json["text"] == text


def test_delete_then_gone(testapp):
    testapp.post_json("/api/notes", {"text": "bye"})
    res = testapp.delete("/api/notes/1", status=204)
    assert res.body == b""
    testapp.get("/api/notes/1", status=404)
    testapp.delete("/api/notes/1", status=404)


@pytest.mark.parametrize("method, path", [
    ("get", "/api/notes/999"),
    ("delete", "/api/notes/999"),
    ("get", "/api/notes/999999999999999999"),
])
def test_missing_note_is_404_json(testapp, method, path):
    res = getattr(testapp, method)(path, status=404)
    assert res.json["status"] == 404 and res.content_type == "application/json"


def test_unknown_method_is_405_with_allow(testapp):
    res = testapp.put_json("/api/notes/1", {"text": "x"}, status=405)
    assert set(res.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "DELETE"}


def test_list_pages_with_limit_offset_and_next(testapp):
    for i in range(5):
        testapp.post_json("/api/notes", {"text": f"n{i}"})
    res = testapp.get("/api/notes?limit=2&offset=2").json
    assert [n["text"] for n in res["notes"]] == ["n2", "n3"]
    assert (res["total"], res["limit"], res["offset"]) == (5, 2, 2)
    assert res["next"] == "/api/notes?limit=2&offset=4"
    last = testapp.get(res["next"]).json
    assert [n["id"] for n in last["notes"]] == [5] and "next" not in last


def test_list_defaults(testapp):
    assert testapp.get("/api/notes").json == {"notes": [], "total": 0, "limit": 20, "offset": 0}


# -- validation -------------------------------------------------------------------


@pytest.mark.parametrize("query, field", [
    ("limit=abc", "limit"),
    ("limit=0", "limit"),
    ("limit=101", "limit"),
    ("limit=-1", "limit"),
    ("limit=%2B5", "limit"),        # +5: int() would take it
    ("limit=%205", "limit"),        # " 5"
    ("limit=1_0", "limit"),
    ("limit=1e3", "limit"),
    ("limit=%D9%A3", "limit"),      # an Arabic-Indic digit
    ("limit=", "limit"),
    ("limit=1&limit=2", "limit"),
    ("offset=-1", "offset"),
    ("offset=x", "offset"),
    ("offset=99999999999999999999", "offset"),
])
def test_bad_query_is_400_naming_the_field(testapp, query, field):
    res = testapp.get(f"/api/notes?{query}", status=400)
    assert res.json["field"] == field
    assert res.json["detail"].startswith(field + ":")


def test_bad_query_encoding_is_400(testapp):
    testapp.get("/api/notes?limit=%ff", status=400)


@pytest.mark.parametrize("body, field", [
    ([], "body"),
    ("text", "body"),
    ({}, "text"),
    ({"text": 5}, "text"),
    ({"text": None}, "text"),
    ({"text": ["a"]}, "text"),
    ({"text": ""}, "text"),
    ({"text": " \n\t"}, "text"),
    ({"text": "x" * 10_001}, "text"),
    ({"text": "ok", "extra": 1}, "extra"),
])
def test_bad_field_is_422_naming_it(testapp, body, field):
    res = testapp.post_json("/api/notes", body, status=422)
    assert res.json["field"] == field and res.json["status"] == 422
    assert testapp.get("/api/notes").json["total"] == 0


def test_lone_surrogate_is_400_naming_where_it_is_not_500(testapp):
    res = testapp.post("/api/notes", b'{"text": "a\\ud800b"}',
                       content_type="application/json", status=400)
    assert res.json["field"] == "body"
    assert res.json["detail"] == "body: Lone surrogate \\ud800 in the JSON string at ['text']"


def test_longest_text_is_accepted(testapp):
    testapp.post_json("/api/notes", {"text": "x" * 10_000}, status=201)


@pytest.mark.parametrize("body, content_type, status", [
    (b"{oops", "application/json", 400),
    (b"", "application/json", 400),
    (b'{"text": "\xff"}', "application/json", 400),
    (b'{"text": "x"}', "text/plain", 415),
    (b'{"text": "x"}', "application/json; charset=latin-1", 415),
    (b"[" * 2000, "application/json", 400),
])
def test_malformed_body_is_4xx_naming_the_body(testapp, body, content_type, status):
    res = testapp.post("/api/notes", body, content_type=content_type, status=status)
    assert res.json["status"] == status
    assert res.json["field"] == "body" and res.json["detail"].startswith("body: ")


def test_field_errors_render_as_html_when_asked(testapp):
    res = testapp.post_json("/api/notes", {"text": 5}, headers={"Accept": "text/html"},
                            status=422)
    assert res.content_type == "text/html" and "field: text" in res.text


@pytest.fixture
def small_body_settings(settings):
    return {**settings, "webkit_app.max_body_size": "100"}


def test_body_over_the_limit_is_413(small_body_settings):
    app = webtest.TestApp(create_app(Config.from_settings(small_body_settings)))
    app.post_json("/api/notes", {"text": "x" * 200}, status=413)
    app.post_json("/api/notes", {"text": "x" * 20}, status=201)


# -- the database -----------------------------------------------------------------


@sqlite_only
def test_wal_mode_and_schema_made_at_first_use_not_at_build(settings):
    path = db_path(settings)
    app = create_app(Config.from_settings(settings))
    assert not os.path.exists(path)
    webtest.TestApp(app).get("/api/notes")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0


def test_pool_timeout_is_503_with_retry_after(settings):
    app, store = make(settings, pool_size=1, pool_timeout=0.2)
    app.get("/api/notes")
    with store.pool.connection():
        res = app.get("/api/notes", status=503)
    assert res.headers["Retry-After"] == "1"
    assert res.json["status"] == 503 and "busy" in res.json["detail"]
    assert app.get("/api/notes").status_int == 200


@sqlite_only
def test_missing_directory_is_503_then_recovers_without_restart(settings, tmp_path):
    folder = tmp_path / "later"
    folder.mkdir()
    settings["webkit_app.database_url"] = f"sqlite:///{folder}/notes.sqlite3"
    app, _ = make(settings)
    folder.rmdir()  # e.g. a volume not mounted yet
    res = app.post_json("/api/notes", {"text": "x"}, status=503)
    assert res.json["status"] == 503 and int(res.headers["Retry-After"]) > 0
    folder.mkdir()
    app.post_json("/api/notes", {"text": "x"}, status=201)
    assert app.get("/api/notes").json["total"] == 1


@sqlite_only
def test_corrupt_file_is_503_then_recovers_when_replaced(settings):
    path = db_path(settings)
    with open(path, "wb") as f:
        f.write(b"this is not a database, " * 200)
    app, store = make(settings)
    res = app.get("/api/notes", status=503)
    assert res.json["title"] == "Service Unavailable"
    assert store.pool.stats()["in_use"] == 0
    os.remove(path)
    assert app.get("/api/notes").json["total"] == 0


def test_table_dropped_underneath_is_503_then_recreated(testapp, settings):
    testapp.post_json("/api/notes", {"text": "x"})
    run_sql(settings, "DROP TABLE notes")
    testapp.get("/api/notes", status=503)
    assert testapp.get("/api/notes").json["total"] == 0


def test_threads_writing_at_once_lose_nothing(settings):
    app, store = make(settings, pool_size=4, pool_timeout=10)
    errors = []

    def writer(n):
        try:
            for i in range(25):
                app.post_json("/api/notes", {"text": f"t{n}-{i}"}, status=201)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and store.count() == 200
    assert store.pool.stats()["size"] <= 4


def _process_writer(app, worker, count, queue):
    """Runs in a forked child: writes ``count`` notes through the inherited app."""
    try:
        testapp = webtest.TestApp(app)
        ids = [testapp.post_json("/api/notes", {"text": f"p{worker}-{i}"}).json["id"]
               for i in range(count)]
        queue.put(("ok", ids))
    except BaseException as exc:  # pragma: no cover - reported in the parent
        queue.put(("error", repr(exc)))


def test_processes_writing_at_once_lose_nothing(settings):
    """Like gunicorn --preload: the app is built and used, then the workers fork."""
    ctx = multiprocessing.get_context("fork")
    config = Config.from_settings(settings)
    store = make_store(config, **({"busy_timeout": 10} if config.database_path else {}))
    app = wrap(make_demo(config, store=store), config)
    webtest.TestApp(app).post_json("/api/notes", {"text": "parent"})
    queue = ctx.Queue()
    workers, per_worker = 4, 40
    procs = [ctx.Process(target=_process_writer, args=(app, w, per_worker, queue))
             for w in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=50) for _ in procs]
    for p in procs:
        p.join(10)
    assert [r[0] for r in results] == ["ok"] * workers, results
    ids = [i for _, batch in results for i in batch]
    assert len(set(ids)) == workers * per_worker
    assert store.count() == 1 + workers * per_worker
    # the parent's pooled connection still works after the children used their own
    assert webtest.TestApp(app).get("/api/notes/1").json["text"] == "parent"


def test_export_json_lines_are_the_notes(testapp):
    for i in range(3):
        testapp.post_json("/api/notes", {"text": f"e{i}"})
    res = testapp.get("/api/notes/export")
    assert res.content_type == "application/x-ndjson"
    rows = [json.loads(line) for line in res.text.splitlines()]
    assert [r["text"] for r in rows] == ["e0", "e1", "e2"]


@sqlite_only
def test_a_restored_file_is_seen_without_restart(testapp, settings, tmp_path):
    """Pooled connections on the old inode are replaced, not kept on a ghost file."""
    path = db_path(settings)
    testapp.post_json("/api/notes", {"text": "kept"})
    backup = str(tmp_path / "backup.sqlite3")
    with sqlite3.connect(path) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    testapp.post_json("/api/notes", {"text": "lost in the restore"})
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    os.replace(backup, path)
    assert [n["text"] for n in testapp.get("/api/notes").json["notes"]] == ["kept"]
    testapp.post_json("/api/notes", {"text": "after"}, status=201)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 2


@sqlite_only
def test_a_deleted_file_is_recreated_not_written_to_a_ghost(testapp, settings):
    path = db_path(settings)
    testapp.post_json("/api/notes", {"text": "old"})
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    testapp.post_json("/api/notes", {"text": "new"}, status=201)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT text FROM notes").fetchall() == [("new",)]
