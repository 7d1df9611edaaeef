"""A bounded load run against the demo under gunicorn with 4 workers (deploy/gunicorn.conf.py).

A Python load generator (threads, each with its own ``http.client`` connection,
kept alive whenever the server allows) sends mixed traffic to loopback for at
most :data:`DURATION` seconds or :data:`BUDGET` requests, whichever ends first:
reads (``GET /api``, ``GET /users/N``), the echo endpoint (``POST /api/echo``
with JSON) and concurrent ``POST /api/notes``. Afterwards:

* no connection error and no 5xx;
* every note whose POST answered 201 is readable by id, with its text;
* the notes listed through ``GET /api/notes`` paging hold no duplicate (ids
  and texts unique) and no note nobody created;
* the workers' RSS (the sum of ``VmRSS`` over the worker pids, sampled every
  second) did not grow by more than 20 % from the first half to the second
  (medians), and no worker was replaced.

The numbers are printed (``pytest -s``) and recorded as test properties; the
README's Reliability section quotes a run.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from reliability_util import HOST, Server, demo_server, rss_kib, worker_pids

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(150)]

WORKERS = 4
CLIENTS = 8            # load-generator threads, one connection each
DURATION = 30.0        # seconds: the deadline of the run
BUDGET = 200_000       # requests: the run stops at whichever limit comes first
RSS_GROWTH = 1.20      # second-half median over first-half median, at most
HTTP_TIMEOUT = 10.0
# one slot per request kind: 3 reads, 2 echoes, 3 note writes in every 8 requests
MIX = ("api", "user", "note", "echo", "api", "note", "user", "note")


@dataclass
class Tally:
    """What one load thread saw."""

    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    by_kind: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    created: dict[int, str] = field(default_factory=dict)   # note id -> text


class Client:
    """One keep-alive connection; reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            payload = resp.read()
        except Exception:
            self.conn.close()  # NOTE: a half-used connection must not be reused
            raise
        if resp.will_close:
            self.conn.close()
        return resp.status, payload

    def close(self) -> None:
        self.conn.close()


EXPECTED = {"api": 200, "user": 200, "echo": 200, "note": 201}


def _one(client: Client, kind: str, tag: str, n: int, tally: Tally) -> None:
    if kind == "api":
        status, body = client.call("GET", "/api")
    elif kind == "user":
        status, body = client.call("GET", f"/users/{n % 1000}")
    elif kind == "echo":
        status, body = client.call("POST", f"/api/echo?n={n}", {"n": n, "tag": tag})
    else:
        text = f"load {tag} {n}"
        status, body = client.call("POST", "/api/notes", {"text": text})
        if status == 201:
            tally.created[json.loads(body)["id"]] = text
    tally.statuses[status] += 1
    tally.by_kind[kind] += 1
    if status != EXPECTED[kind] and len(tally.unexpected) < 20:
        tally.unexpected.append(f"{kind} #{n}: {status} {body[:200]!r}")


def load_thread(port: int, index: int, budget: list[int], lock: threading.Lock,
                deadline: float, tally: Tally) -> None:
    """Send requests until the shared budget is spent or the deadline passes."""
    client, tag = Client(port), f"{index}-{uuid.uuid4().hex[:8]}"
    n = 0
    try:
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            kind = MIX[(n + index) % len(MIX)]
            tally.requests += 1
            try:
                _one(client, kind, tag, n, tally)
            except Exception as exc:  # every failure is counted and shown
                if len(tally.errors) < 20:
                    tally.errors.append(f"{kind} #{n}: {type(exc).__name__}: {exc}")
                else:
                    tally.errors.append("")
            n += 1
    finally:
        client.close()


class RSSSampler(threading.Thread):
    """Every second, the sum of the workers' ``VmRSS`` (KiB)."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.samples: list[int] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            values = [rss_kib(pid) for pid in self.pids]
            if all(v is not None for v in values):
                self.samples.append(sum(values))  # type: ignore[arg-type]

    def halves(self) -> tuple[float, float]:
        half = len(self.samples) // 2
        return (statistics.median(self.samples[:half]), statistics.median(self.samples[half:]))


def run_load(server: Server) -> tuple[list[Tally], float]:
    deadline = time.monotonic() + DURATION
    budget, lock = [BUDGET], threading.Lock()
    tallies = [Tally() for _ in range(CLIENTS)]
    threads = [threading.Thread(target=load_thread, daemon=True,
                                args=(server.port, i, budget, lock, deadline, tallies[i]))
               for i in range(CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(DURATION + 2 * HTTP_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a load thread did not stop"
    return tallies, time.monotonic() - started


def list_all(port: int) -> list[dict]:
    """Every note, through ``GET /api/notes`` 100 at a time."""
    client, notes, offset = Client(port), [], 0
    try:
        while True:
            status, body = client.call("GET", f"/api/notes?limit=100&offset={offset}")
            assert status == 200, body[:300]
            page = json.loads(body)
            notes += page["notes"]
            if "next" not in page:
                assert len(notes) == page["total"]
                return notes
            offset += 100
    finally:
        client.close()


def read_back(port: int, created: dict[int, str]) -> list[str]:
    """GET every created note by id on a few connections; the mismatches."""
    ids = sorted(created)

    def check(part: list[int]) -> list[str]:
        client, bad = Client(port), []
        try:
            for note_id in part:
                status, body = client.call("GET", f"/api/notes/{note_id}")
                if status != 200 or json.loads(body)["text"] != created[note_id]:
                    bad.append(f"{note_id}: {status} {body[:100]!r}")
        finally:
            client.close()
        return bad

    with ThreadPoolExecutor(CLIENTS) as ex:
        parts = [ids[i::CLIENTS] for i in range(CLIENTS)]
        return [line for bad in ex.map(check, parts) for line in bad]


def test_mixed_load_loses_nothing_and_holds_memory(tmp_path, record_property):
    with demo_server(tmp_path, "gunicorn", WEB_CONCURRENCY=str(WORKERS),
                     WORKERS=str(WORKERS), LOG_LEVEL="WARNING", ACCESS_LOG="") as server:
        pids = worker_pids(server, WORKERS)
        sampler = RSSSampler(pids)
        sampler.start()
        try:
            tallies, seconds = run_load(server)
        finally:
            sampler.stopped.set()
            sampler.join(5)
        after = worker_pids(server, WORKERS)
        created = {k: v for t in tallies for k, v in t.created.items()}
        listed = list_all(server.port)
        unread = read_back(server.port, created)
        output = server.output

    requests_sent = sum(t.requests for t in tallies)
    statuses = sum((t.statuses for t in tallies), Counter())
    kinds = sum((t.by_kind for t in tallies), Counter())
    errors = [e for t in tallies for e in t.errors]
    unexpected = [u for t in tallies for u in t.unexpected]
    posts_201 = sum(len(t.created) for t in tallies)
    ids = Counter(n["id"] for n in listed)
    texts = Counter(n["text"] for n in listed)
    first, second = sampler.halves()
    numbers = {
        "requests": requests_sent, "seconds": round(seconds, 1),
        "requests_per_second": round(requests_sent / seconds), "by_kind": dict(kinds),
        "statuses": dict(statuses), "connection_errors": len(errors),
        "notes_written": posts_201, "notes_listed": len(listed),
        "notes_read_back": len(created) - len(unread),
        "rss_kib_first_half_median": first, "rss_kib_second_half_median": second,
        "rss_growth_percent": round(100 * (second / first - 1), 1),
        "rss_samples": len(sampler.samples),
    }
    print("\nload:", json.dumps(numbers))
    for key, value in numbers.items():
        record_property(key, value)

    assert not errors, f"{len(errors)} connection errors, first: {errors[:5]}"
    assert not [s for s in statuses if s >= 500], f"5xx answers: {statuses}; {unexpected[:5]}"
    assert not unexpected, unexpected[:5]
    assert requests_sent > 1000 and posts_201 > 100, numbers
    assert len(created) == posts_201, "two POSTs answered 201 with the same id"
    assert not unread, f"{len(unread)} created notes not readable: {unread[:5]}"
    assert [i for i, c in ids.items() if c > 1] == [], "a note id listed twice"
    assert [t for t, c in texts.items() if c > 1] == [], "a note stored twice"
    assert {n["id"]: n["text"] for n in listed} == created, "listed notes differ from created"
    assert after == pids, f"workers replaced during the run: {pids} -> {after}"
    assert len(sampler.samples) >= 10, sampler.samples
    assert second <= first * RSS_GROWTH, f"worker RSS grew: {sampler.samples}"
    assert "Traceback" not in output, output[-3000:]
