"""The database's cost per request: one read and one write through each notes store.

``make bench`` prints it and writes it into ``bench/results.md``; alone::

    python -m bench.db

SQLite is a file in a temporary folder (WAL, synchronous=NORMAL, as the demo
opens it); PostgreSQL is a server of its own started for the run with
``deploy/cluster.py``'s :class:`Postgres` (fsync on, as in production; as the
``postgres`` user when run as root), reached over loopback TCP through the
store's psycopg_pool. Each figure is the median of ``n`` calls of the store
method the notes API calls (``get`` for ``GET /api/notes/{id}``, ``create``
for ``POST /api/notes``), connection checkout and its check included.
"""

from __future__ import annotations

import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TITLE = "database cost per request (one store call, median)"


def _cluster() -> Any:
    if "webkit_cluster" in sys.modules:  # NOTE: tests/pg_util.py loads it under this name
        return sys.modules["webkit_cluster"]
    spec = importlib.util.spec_from_file_location("webkit_cluster", ROOT / "deploy" / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["webkit_cluster"] = module
    spec.loader.exec_module(module)
    return module


def _median_us(call: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def _measure_store(store: Any, n: int) -> dict[str, float]:
    note_id = store.create("warm-up")["id"]
    for _ in range(20):
        store.get(note_id)
    return {"read_us": _median_us(lambda: store.get(note_id), n),
            "write_us": _median_us(lambda: store.create("bench note"), n)}


def measure_sqlite(n: int) -> dict[str, float]:
    from webkit_app.demo.store import NotesStore

    folder = Path(tempfile.mkdtemp(prefix="bench-sqlite-"))
    try:
        store = NotesStore(str(folder / "notes.sqlite3"), pool_size=1)
        return _measure_store(store, n)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure_postgresql(n: int) -> dict[str, float]:
    from webkit_app.demo.postgres import PostgresNotesStore

    cluster = _cluster()
    folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    folder.chmod(0o755)  # NOTE: the postgres user runs the server in it when we are root
    server = cluster.Postgres(folder / "pg", cluster.free_port(), durable=True)
    try:
        server.start()
        store = PostgresNotesStore(server.create_database("bench"), pool_size=1)
        try:
            return _measure_store(store, n)
        finally:
            store.pool.close()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def measure(n: int = 500) -> dict[str, Any]:
    """``{"sqlite": {...}, "postgresql": {...} or {"error": why}}`` in microseconds."""
    out: dict[str, Any] = {"n": n}
    for name, run in (("sqlite", measure_sqlite), ("postgresql", measure_postgresql)):
        try:
            out[name] = run(n)
        except Exception as exc:  # NOTE: a bench without PostgreSQL still reports SQLite
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    return out


def rows(result: dict[str, Any]) -> list[list[str]]:
    """The table: a header, then one row per store."""
    out = [["store", "read (get by id)", "write (create, committed)", "calls"]]
    for name in ("sqlite", "postgresql"):
        r = result[name]
        if "error" in r:
            out.append([name, "not measured", r["error"], "-"])
        else:
            out.append([name, f"{r['read_us']:.0f} us", f"{r['write_us']:.0f} us",
                        str(result["n"])])
    return out


def sections(report: dict[str, Any]) -> dict[str, list[list[str]]]:
    """The table for ``bench.__main__.sections``, when the run measured it (``report["db"]``)."""
    return {TITLE: rows(report["db"])} if report.get("db") else {}


def main() -> int:
    table = rows(measure())
    for row in table:
        print("  ".join(f"{cell:26}" for cell in row).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
