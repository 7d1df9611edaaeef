"""Clients that request a large streamed response and never read it, against
``webkit-app serve`` (waitress with :mod:`webkit_app.server`'s strict channel).

waitress makes the app's thread wait while more than ``outbuf_high_watermark``
bytes are queued for a client; on its own it waits with no time limit, so a
handful of clients that never read hold every thread and the server answers
nothing else. The strict channel drops such a client once another request
waits for a thread (``BUSY_STALL_TIMEOUT``), or after ``channel_timeout``.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import time
from collections.abc import Iterator

import pytest
import requests
from reliability_util import HOST, Server, demo_server, wait_for

from webkit_app.server import BUSY_STALL_TIMEOUT

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

CLIENTS = 8  # twice the 4 threads of `webkit-app serve`
NOTES, TEXT = 1500, "n" * 10_000  # an export of about 15 MB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with demo_server(tmp_path_factory.mktemp("slow"), "waitress",
                     app="webkit_app.demo.wsgi:application") as running:
        res = requests.post(running.url + "/api/notes", json={"text": TEXT}, timeout=10)
        assert res.status_code == 201, res.text[:300]
        # NOTE: the rest written straight to the database (which the POST
        # created): 1500 POSTs would take longer than the test.
        with contextlib.closing(sqlite3.connect(running.db_path, timeout=10)) as db, db:
            db.executemany("INSERT INTO notes (text, created) VALUES (?, ?)",
                           [(TEXT, "2026-01-01T00:00:00Z")] * (NOTES - 1))
        yield running


def non_reading_client(port: int) -> socket.socket:
    """A connection that asks for the export and then reads nothing."""
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET /api/notes/export HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock


def has_bytes(sock: socket.socket) -> bool:
    """Whether the server sent something (or closed) without consuming it."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)) or True
    except BlockingIOError:
        return False
    except OSError:
        return True


def live_latency(server: Server, timeout: float) -> float:
    started = time.monotonic()
    res = requests.get(server.url + "/health/live", timeout=timeout,
                       headers={"Connection": "close"})
    assert res.status_code == 200, res.text[:300]
    return time.monotonic() - started


def test_a_probe_sent_right_after_them_is_answered_within_two_stall_timeouts(
        server: Server) -> None:
    """Four clients hold the four threads, four more and the probe wait: each
    round is dropped after BUSY_STALL_TIMEOUT, so the probe waits about two
    (measured: 1.2 s), plus the time to produce 4 MiB for each client."""
    bound = 2 * BUSY_STALL_TIMEOUT + 2.0
    with contextlib.ExitStack() as stack:
        for _ in range(CLIENTS):
            stack.enter_context(non_reading_client(server.port))
        try:
            elapsed = live_latency(server, timeout=bound + 5)
        except requests.Timeout:
            pytest.fail(f"/health/live did not answer within {bound + 5} s")
        assert elapsed < bound, f"/health/live took {elapsed:.2f} s"


def test_clients_that_never_read_do_not_hold_every_thread(server: Server) -> None:
    """Once every client has had a thread (the last four hold theirs while
    nothing else waits), a probe is answered at once: they are dropped as
    soon as it waits for a thread."""
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(non_reading_client(server.port)) for _ in range(CLIENTS)]
        # NOTE: every client gets a thread in turn once the previous ones are
        # dropped; without a bound the last four never get one (bounded wait).
        wait_for(lambda: all(has_bytes(sock) for sock in clients), timeout=15)
        try:
            elapsed = live_latency(server, timeout=5)
        except requests.Timeout:
            pytest.fail(f"/health/live did not answer within 5 s with {CLIENTS} clients "
                        "that read nothing connected")
        assert elapsed < 1.0, f"/health/live took {elapsed:.2f} s"
    assert "Traceback" not in server.output, server.output[-3000:]


def test_a_reading_client_still_gets_the_whole_export(server: Server) -> None:
    with requests.get(server.url + "/api/notes/export", timeout=30, stream=True) as res:
        lines = sum(1 for _ in res.iter_lines())
    assert res.status_code == 200 and lines == NOTES
