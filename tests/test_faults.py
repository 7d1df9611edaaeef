"""Faults survived by the demo on real servers, each test bounded and on loopback.

The app is ``reliability_util:fault_app``: the demo behind the production
stack plus ``/_test`` routes that hold a pool connection (``hold``), sleep
(``slow``), stream while holding a connection (``trickle``), fail half-way
through a body (``boom``), read an upload while holding a connection
(``upload``) and report the pool's counters of their process (``pool``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from reliability_util import HOST, Server, children, demo_server, exchange, wait_for, worker_pids

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(180)]

TIMEOUT = 10
APP = "reliability_util:fault_app"


def pool_stats(server: Server) -> dict:
    res = requests.get(server.url + "/_test/pool", timeout=TIMEOUT)
    assert res.status_code == 200, res.text
    return res.json()


def wait_log(server: Server, text: str, timeout: float = 10) -> None:
    assert wait_for(lambda: text in server.output, timeout), (
        f"{text!r} never logged:\n{server.output[-3000:]}")


# -- the database file becomes unreadable, then comes back -----------------------------------

def break_database(db: Path) -> Path:
    """Move the database's folder away and leave a directory where the file was:
    the path exists but cannot be opened as a database. Returns the moved folder."""
    with sqlite3.connect(db) as conn:  # NOTE: all of it in the main file first
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    away = db.parent.with_name("db.away")
    db.parent.rename(away)
    db.mkdir(parents=True)
    return away


def restore_database(db: Path, away: Path) -> None:
    shutil.rmtree(db.parent)
    away.rename(db.parent)


def test_database_unreadable_then_back_recovers_without_restart(tmp_path: Path) -> None:
    with demo_server(tmp_path, "gunicorn", WEB_CONCURRENCY="2") as server:
        http = requests.Session()
        ids = [http.post(server.url + "/api/notes", json={"text": f"before {i}"},
                         timeout=TIMEOUT).json()["id"] for i in range(4)]
        workers = worker_pids(server, 2)

        away = break_database(server.db_path)
        try:
            for _ in range(6):  # enough to reach both workers
                ready = http.get(server.url + "/health/ready", timeout=TIMEOUT)
                assert ready.status_code == 503, ready.text
                assert ready.headers["Content-Type"].startswith("application/health+json")
                assert ready.json()["status"] == "fail"
                assert ready.json()["checks"]["database:responseTime"][0]["status"] == "fail"
                for res in (http.get(server.url + "/api/notes", timeout=TIMEOUT),
                            http.get(server.url + f"/api/notes/{ids[0]}", timeout=TIMEOUT),
                            http.post(server.url + "/api/notes", json={"text": "lost?"},
                                      timeout=TIMEOUT)):
                    assert res.status_code == 503, res.text
                    assert res.json()["status"] == 503 and res.headers["Retry-After"].isdigit()
                live = http.get(server.url + "/health/live", timeout=TIMEOUT)
                assert live.status_code == 200  # liveness checks no dependency
        finally:
            restore_database(server.db_path, away)

        def recovered() -> bool:
            return all(http.get(server.url + "/health/ready", timeout=TIMEOUT).status_code == 200
                       for _ in range(4))
        assert wait_for(recovered, timeout=20), server.output[-3000:]
        notes = http.get(server.url + "/api/notes?limit=100", timeout=TIMEOUT).json()["notes"]
        assert [n["id"] for n in notes] == ids  # nothing lost, nothing half-written
        res = http.post(server.url + "/api/notes", json={"text": "after"}, timeout=TIMEOUT)
        assert res.status_code == 201
        assert children(server.pid) == workers  # recovered without a restart
        assert "Traceback" not in server.output


def test_database_file_replaced_by_a_non_database_then_back(tmp_path: Path) -> None:
    """Open connections notice the new file (another inode) and are replaced;
    opening garbage is a 503, and the original file works again when restored."""
    with demo_server(tmp_path, "gunicorn", WEB_CONCURRENCY="2") as server:
        http = requests.Session()
        assert http.post(server.url + "/api/notes", json={"text": "kept"},
                         timeout=TIMEOUT).status_code == 201
        for _ in range(4):  # both workers hold a connection to the file
            assert http.get(server.url + "/api/notes", timeout=TIMEOUT).status_code == 200
        aside = tmp_path / "aside"
        aside.mkdir()
        for path in server.db_path.parent.iterdir():  # the file, its -wal and -shm
            shutil.move(path, aside / path.name)
        server.db_path.write_bytes(b"not an SQLite database\n" * 200)
        for _ in range(4):
            assert http.get(server.url + "/health/ready", timeout=TIMEOUT).status_code == 503
            res = http.get(server.url + "/api/notes", timeout=TIMEOUT)
            assert res.status_code == 503 and res.headers["Retry-After"].isdigit(), res.text
            assert res.json()["status"] == 503
        server.db_path.unlink()
        for path in aside.iterdir():
            shutil.move(path, server.db_path.parent / path.name)
        for _ in range(4):
            notes = http.get(server.url + "/api/notes", timeout=TIMEOUT).json()["notes"]
            assert [n["text"] for n in notes] == ["kept"]
        assert "Traceback" not in server.output


# -- the pool is exhausted by slow requests ------------------------------------------------------

def test_pool_exhausted_by_slow_requests_answers_503_with_retry_after(tmp_path: Path) -> None:
    with demo_server(tmp_path, "gunicorn", app=APP, WEB_CONCURRENCY="1", WORKER_CLASS="gthread",
                     THREADS="8", POOL_SIZE="2", POOL_TIMEOUT="1") as server, \
            ThreadPoolExecutor(4) as pool:
        holders = [pool.submit(requests.get, server.url + "/_test/hold?seconds=5",
                               timeout=TIMEOUT) for _ in range(2)]
        assert wait_for(lambda: pool_stats(server)["pool"]["in_use"] == 2, timeout=5)

        for method, path in (("GET", "/api/notes"), ("POST", "/api/notes"),
                             ("GET", "/api/notes/export")):
            started = time.monotonic()
            res = requests.request(method, server.url + path, json={"text": "x"},
                                   timeout=TIMEOUT)
            took = time.monotonic() - started
            assert res.status_code == 503, res.text
            assert res.headers["Retry-After"] == "1" and res.json()["status"] == 503
            assert 0.9 <= took < 2.5, f"{method} {path}: answered after {took:.2f} s"
        started = time.monotonic()
        ready = requests.get(server.url + "/health/ready", timeout=TIMEOUT)
        assert ready.status_code == 503 and time.monotonic() - started < 2.5
        assert requests.get(server.url + "/health/live", timeout=TIMEOUT).status_code == 200

        assert all(h.result().status_code == 200 for h in holders)
        assert requests.get(server.url + "/api/notes", timeout=TIMEOUT).status_code == 200
        stats = pool_stats(server)["pool"]
        assert stats["in_use"] == 0 and stats["size"] <= 2 and stats["timeouts"] >= 4


# -- a handler raises in the middle of a streamed body ------------------------------------------

@pytest.mark.parametrize("kind", ["gunicorn", "waitress"])
def test_handler_raising_mid_stream_closes_the_connection_and_is_logged(tmp_path: Path,
                                                                        kind: str) -> None:
    with demo_server(tmp_path, kind, app=APP, WEB_CONCURRENCY="1") as server:
        workers = children(server.pid) if kind == "gunicorn" else []
        rid = uuid.uuid4().hex
        reply = exchange(server.port, b"GET /_test/boom HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"X-Request-ID: " + rid.encode() + b"\r\n\r\n", timeout=TIMEOUT)
        assert reply.status == 200 and b"chunk 2\n" in reply  # what was sent before
        assert reply.closed, "the connection must be closed: the body is incomplete"
        assert not reply.endswith(b"0\r\n\r\n"), "an incomplete body was marked complete"
        wait_log(server, f"Error after the response started, closing it (request id {rid})")
        assert "RuntimeError: producer failed half-way" in server.output  # the traceback
        assert wait_for(lambda: pool_stats(server)["closed"].get("boom") == 1, timeout=5)

        res = requests.get(server.url + "/api", timeout=TIMEOUT)  # the next request
        assert res.status_code == 200 and res.json()["name"] == "webkit_app demo"
        assert children(server.pid) == workers  # served by the same worker


# -- the client goes away mid-stream and mid-upload ---------------------------------------------------

@pytest.mark.parametrize("kind", ["gunicorn", "waitress"])
def test_client_disconnect_mid_stream_closes_the_body_and_returns_the_connection(
        tmp_path: Path, kind: str) -> None:
    with demo_server(tmp_path, kind, app=APP, WEB_CONCURRENCY="1", WORKER_CLASS="gthread",
                     THREADS="4") as server:
        with socket.create_connection((HOST, server.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET /_test/trickle?seconds=30 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            assert pool_stats(server)["pool"]["in_use"] == 1  # the stream holds it
        started = time.monotonic()

        def released() -> dict:
            stats = pool_stats(server)
            return stats if stats["closed"].get("trickle") == 1 and \
                stats["pool"]["in_use"] == 0 else {}
        stats = wait_for(released, timeout=15)
        assert stats, f"still held after the client left: {pool_stats(server)}"
        assert time.monotonic() - started < 15  # not when the 30 s stream would have ended
        assert requests.get(server.url + "/api", timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("kind", ["gunicorn", "waitress"])
def test_client_disconnect_mid_upload_returns_the_connection(tmp_path: Path, kind: str) -> None:
    with demo_server(tmp_path, kind, app=APP, WEB_CONCURRENCY="1") as server:
        with socket.create_connection((HOST, server.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"POST /_test/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/octet-stream\r\n"
                         b"Content-Length: 1000000\r\n\r\n" + b"u" * 100_000)
            time.sleep(0.3)  # the handler is reading (gunicorn) or the server buffering
        deadline = time.monotonic() + 15
        while True:
            stats = pool_stats(server)
            done = stats["closed"].get("upload") == 1 or kind == "waitress"
            if done and stats["pool"]["in_use"] == 0:
                break
            assert time.monotonic() < deadline, f"upload still holds a connection: {stats}"
            time.sleep(0.1)
        if kind == "waitress":  # NOTE: waitress buffers a body before calling the app
            assert "upload" not in stats["closed"]
        res = requests.post(server.url + "/_test/upload", data=b"u" * 1000, timeout=TIMEOUT)
        assert res.status_code == 200 and res.json() == {"size": 1000}
        assert pool_stats(server)["pool"]["in_use"] == 0


# -- signals -----------------------------------------------------------------------------------------

def test_sigterm_with_requests_in_flight_lets_them_finish_then_exits(tmp_path: Path) -> None:
    with demo_server(tmp_path, "gunicorn", app=APP, WEB_CONCURRENCY="2", WORKER_CLASS="gthread",
                     THREADS="4") as server, ThreadPoolExecutor(4) as pool:
        markers = [tmp_path / f"started-{i}" for i in range(4)]
        futures = [pool.submit(requests.get, f"{server.url}/_test/slow?seconds=3&marker={m}",
                               timeout=TIMEOUT) for m in markers]
        assert wait_for(lambda: all(m.exists() for m in markers), timeout=10)
        started = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        results = [f.result() for f in futures]
        assert [r.status_code for r in results] == [200] * 4
        assert all(r.json()["slept"] == 3 for r in results)
        assert server.process.proc.wait(25) == 0, server.output[-3000:]
        assert time.monotonic() - started < 20
        assert wait_for(lambda: not server.process.group_alive(), timeout=10)
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/health/live", timeout=2)


def test_sigkill_of_a_worker_is_replaced_and_the_next_requests_succeed(tmp_path: Path) -> None:
    with demo_server(tmp_path, "gunicorn", WEB_CONCURRENCY="2") as server:
        before = worker_pids(server, 2)
        os.kill(before[0], signal.SIGKILL)

        def replaced() -> list[int]:
            now = children(server.pid)
            return now if len(now) == 2 and before[0] not in now else []
        after = wait_for(replaced, timeout=20)
        assert after and before[1] in after, f"{before} -> {children(server.pid)}"
        with requests.Session() as http:
            codes = [http.get(server.url + "/api", timeout=TIMEOUT).status_code
                     for _ in range(20)]
            note = http.post(server.url + "/api/notes", json={"text": "after a kill"},
                             timeout=TIMEOUT)
        assert codes == [200] * 20 and note.status_code == 201
        assert http.get(urljoin(server.url, note.headers["Location"]),
                        timeout=TIMEOUT).status_code == 200


def test_sigkill_mid_request_loses_only_that_request(tmp_path: Path) -> None:
    """A worker killed while serving: its client sees the connection drop,
    every other client carries on."""
    with demo_server(tmp_path, "gunicorn", app=APP, WEB_CONCURRENCY="2") as server:
        worker_pids(server, 2)
        marker = tmp_path / "in-flight"
        outcome: list[object] = []

        def call() -> None:
            try:
                outcome.append(requests.get(f"{server.url}/_test/slow?seconds=5&marker={marker}",
                                            timeout=TIMEOUT).status_code)
            except requests.RequestException as exc:
                outcome.append(exc)
        thread = threading.Thread(target=call)
        thread.start()
        assert wait_for(marker.exists, timeout=10)
        victim = next(pid for pid in children(server.pid)
                      if _serving(pid, server.port))
        os.kill(victim, signal.SIGKILL)
        thread.join(TIMEOUT)
        assert outcome and isinstance(outcome[0], requests.RequestException), outcome
        assert wait_for(lambda: len(children(server.pid)) == 2 and
                        victim not in children(server.pid), timeout=20)
        assert all(requests.get(server.url + "/api", timeout=TIMEOUT).status_code == 200
                   for _ in range(10))


def _serving(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds an established connection to ``port``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) == port and inode in inodes:
            return True
    return False
