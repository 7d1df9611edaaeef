"""Streamed bodies through the whole stack: sent as produced, and close() always releases.

The export endpoint holds a pool connection while it streams; these tests
watch the pool to see it come back (after the last chunk, for HEAD, when the
client stops reading, when a real client disconnects).
"""

import io
import json
import socket
import sqlite3
import time

import pytest
import webtest
from webtest.http import StopableWSGIServer

from webkit_app import App, stream
from webkit_app.demo import Config, make_demo
from webkit_app.demo.factory import wrap
from webkit_app.demo.store import NotesStore

pytestmark = pytest.mark.timeout(60)


def environ(path, method="GET"):
    return {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def call(app, path, method="GET"):
    """Call a WSGI app directly: (status, headers, app_iter), nothing consumed."""
    started = []
    body = app(environ(path, method), lambda s, h, exc_info=None: started.append((s, h)))
    return started[0][0], dict(started[0][1]), body


@pytest.fixture
def store(settings):
    store = NotesStore(Config.from_settings(settings).database_path, pool_size=2)
    yield store
    store.pool.close()


@pytest.fixture
def app(settings, store):
    """The demo behind the full middleware stack, 250 notes in its store."""
    config = Config.from_settings(settings)
    app = wrap(make_demo(config, store=store), config)
    with store.connection() as conn:
        conn.executemany("INSERT INTO notes (text, created) VALUES (?, 'now')",
                         [(f"n{i}",) for i in range(250)])
        conn.commit()
    return app


def in_use(store):
    return store.pool.stats()["in_use"]


def test_first_chunk_comes_before_the_query_is_read_to_the_end(app, store):
    status, headers, body = call(app, "/api/notes/export")
    assert status.startswith("200") and "Content-Length" not in headers
    first = next(iter(body))
    lines = first.decode().splitlines()
    assert len(lines) == 100 and json.loads(lines[0])["text"] == "n0"  # one batch, not 250
    assert in_use(store) == 1  # the producer still holds its connection
    rest = b"".join(body)
    assert len(rest.splitlines()) == 150
    assert in_use(store) == 1  # released by close(), not by exhaustion
    body.close()
    assert in_use(store) == 0


def test_close_releases_when_the_client_stops_reading(app, store):
    _, _, body = call(app, "/api/notes/export")
    next(iter(body))
    body.close()  # what a server does when the client went away
    assert store.pool.stats() | {"waits": 0} == store.pool.stats() | {
        "in_use": 0, "idle": 1, "waits": 0}


def test_close_releases_when_iteration_never_started(app, store):
    _, _, body = call(app, "/api/notes/export")
    assert in_use(store) == 1
    body.close()
    assert in_use(store) == 0


def test_head_releases_the_connection(app, store):
    status, headers, body = call(app, "/api/notes/export", "HEAD")
    assert b"".join(body) == b""
    body.close()
    assert status.startswith("200") and in_use(store) == 0


def test_through_testapp_get_and_head_leave_nothing_in_use(app, store):
    testapp = webtest.TestApp(app, lint=True)
    assert len(testapp.get("/api/notes/export").text.splitlines()) == 250
    assert testapp.head("/api/notes/export").body == b""
    assert in_use(store) == 0


def test_connections_do_not_leak_over_many_abandoned_exports(app, store):
    for _ in range(20):  # the pool holds 2: a leak would time out at the third
        _, _, body = call(app, "/api/notes/export")
        next(iter(body))
        body.close()
    assert store.pool.stats()["size"] <= 2 and in_use(store) == 0


def test_query_errors_before_streaming_are_503_and_release(app, store, settings):
    with sqlite3.connect(settings["webkit_app.database_url"][len("sqlite:///"):]) as conn:
        conn.execute("DROP TABLE notes")
    res = webtest.TestApp(app).get("/api/notes/export", status=503)
    assert res.json["status"] == 503 and in_use(store) == 0


def test_a_generator_is_not_run_ahead_by_the_stack(settings):
    """A plain generator response: the stack pulls one chunk at a time."""
    produced, closed = [], []

    def numbers():
        try:
            for i in range(5):
                produced.append(i)
                yield b"%d\n" % i
        finally:
            closed.append(True)

    inner = App()
    inner.add_route("GET", "/n", lambda request: stream(numbers(), on_close=lambda: None))
    _, headers, body = call(wrap(inner, Config.from_settings(settings)), "/n")
    it = iter(body)
    assert next(it) == b"0\n" and produced == [0]
    assert next(it) == b"1\n" and produced == [0, 1]
    body.close()
    assert closed == [True] and produced == [0, 1]


def test_real_client_disconnect_releases_the_connection(app, store):
    with store.connection() as conn:  # enough rows that the body outgrows socket buffers
        conn.executemany("INSERT INTO notes (text, created) VALUES (?, 'now')",
                         [("x" * 250,) for _ in range(100_000)])
        conn.commit()
    server = StopableWSGIServer.create(app)
    try:
        with socket.create_connection((server.adj.host, server.adj.port), timeout=5) as sock:
            sock.sendall(b"GET /api/notes/export HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + 20
        while in_use(store) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert in_use(store) == 0
    finally:
        server.shutdown()
