"""The notes store: SQLite in WAL mode, through a :class:`~webkit_app.pool.ConnectionPool`.

Nothing is opened when the store is built: the pool connects on the first
request of each process (the pool drops connections inherited across a
fork, so gunicorn ``--preload`` is safe) and the schema is created then,
once per process. Database trouble becomes ``webob.exc`` errors the app
renders as JSON: an exhausted pool is 503 with ``Retry-After``; a locked,
missing, unreadable or corrupt file is 503 too, and the next request tries
again, so the app recovers without a restart once the file is back::

    store = NotesStore("/var/lib/app/notes.sqlite3", pool_size=5, pool_timeout=2)
    note = store.create("hello")          # {'id': 1, 'text': 'hello', 'created': '...'}
    store.list(limit=20, offset=0)        # ([...], total)
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from typing import Any, Protocol

from webob.exc import HTTPServiceUnavailable

from webkit_app.pool import ConnectionPool

from .sqlite import SQLiteConnection, sqlite_connect, sqlite_ping

__all__ = ["NotesStore", "Store", "SCHEMA", "RETRY_AFTER"]

log = logging.getLogger("webkit_app.demo")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS notes ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " text TEXT NOT NULL,"
    " created TEXT NOT NULL)"
)
#: seconds a client should wait after a 503 caused by the database itself
RETRY_AFTER = 5
_COLUMNS = "id, text, created"
# NOTE: bugs in our SQL stay 500s; only trouble with the database itself is a 503.
_BUGS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)

Note = dict[str, Any]
#: a page of notes and the total number of notes
Page = tuple[list[Note], int]
#: what ``export`` yields: the notes, a list at a time
#: (NOTE: an alias, as ``list`` in a store's class body is its method)
Batches = Iterator[list[Note]]


def _note(row: tuple[Any, ...]) -> Note:
    return {"id": row[0], "text": row[1], "created": row[2]}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unavailable(detail: str, retry_after: int) -> HTTPServiceUnavailable:
    """A 503 telling the client when to try again."""
    return HTTPServiceUnavailable(detail, headers=[("Retry-After", str(retry_after))])


class Store(Protocol):
    """What the notes API needs of a store: SQLite's :class:`NotesStore` and
    :class:`~webkit_app.demo.postgres.PostgresNotesStore` both have it, and
    ``tests/test_notes.py`` runs the same tests against both.

    ``pool`` has ``connection(timeout=...)`` and ``stats()`` (health, admin).
    """

    pool: Any

    def list(self, limit: int, offset: int) -> Page: ...
    def get(self, note_id: int) -> Note | None: ...
    def create(self, text: str) -> Note: ...
    def delete(self, note_id: int) -> bool: ...
    def count(self) -> int: ...
    def export(self, batch: int = 100) -> tuple[Batches, Callable[[], None]]: ...


class NotesStore:
    """Notes in one SQLite file, shared by every thread and worker process.

    Writes are short ``BEGIN IMMEDIATE`` transactions: the write lock is taken
    up front, so concurrent writers queue on the busy timeout instead of
    failing on a lock upgrade, and nothing is lost.
    """

    def __init__(self, path: str, *, pool_size: int = 10, pool_timeout: float = 30.0,
                 busy_timeout: float = 5.0) -> None:
        self.path = path
        connect = functools.partial(sqlite_connect, path, busy_timeout=busy_timeout)
        self.pool = ConnectionPool(connect, max_size=pool_size, timeout=pool_timeout,
                                   ping=self._ping)
        self._schema_pid: int | None = None

    # -- connections ----------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection with the schema in place; database trouble is a 503."""
        try:
            with self.pool.connection() as conn:
                if self._schema_pid != os.getpid():
                    self._create_schema(conn)
                yield conn
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, _BUGS):
                raise
            self._database_failed(exc)
            raise unavailable("The database is unavailable; try again shortly",
                              RETRY_AFTER) from None

    def _ping(self, conn: SQLiteConnection) -> bool:
        """``SELECT 1``, and is the file at ``path`` still the one this connection opened?

        A restored backup or a deleted file leaves an open connection on the
        old inode; it is replaced, so the app sees the file that is there now.
        """
        same = sqlite_ping(conn)
        if not same:
            log.warning("notes store %s: the file was replaced or removed; reconnecting",
                        self.path)
            self._schema_pid = None
        return same

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        # NOTE: at the first use in each process, not at import or in
        # create_app: those run before gunicorn --preload forks.
        with _write(conn):
            conn.execute(SCHEMA)
        self._schema_pid = os.getpid()

    def _database_failed(self, exc: sqlite3.DatabaseError) -> None:
        log.error("notes store %s: %s: %s", self.path, type(exc).__name__, exc)
        if "no such table" in str(exc):
            self._schema_pid = None  # NOTE: the file was replaced: create it again

    # -- notes ----------------------------------------------------------------

    def list(self, limit: int, offset: int) -> tuple[list[Note], int]:
        """A page of notes, oldest first, and the total number of notes."""
        with self.connection() as conn, _read(conn):
            total = conn.execute("SELECT count(*) FROM notes").fetchone()[0]
            rows = conn.execute(f"SELECT {_COLUMNS} FROM notes ORDER BY id LIMIT ? OFFSET ?",
                                (limit, offset)).fetchall()
        return [_note(row) for row in rows], total

    def get(self, note_id: int) -> Note | None:
        """The note ``note_id``, or ``None``."""
        with self.connection() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM notes WHERE id = ?",
                               (note_id,)).fetchone()
        return None if row is None else _note(row)

    def create(self, text: str) -> Note:
        """Store a new note and return it."""
        created = _now()
        with self.connection() as conn, _write(conn):
            cur = conn.execute("INSERT INTO notes (text, created) VALUES (?, ?)",
                               (text, created))
            note_id = cur.lastrowid
        return {"id": note_id, "text": text, "created": created}

    def delete(self, note_id: int) -> bool:
        """Delete the note ``note_id``; ``False`` if there was none."""
        with self.connection() as conn, _write(conn):
            deleted = conn.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount
        return deleted > 0

    def count(self) -> int:
        """The number of notes."""
        with self.connection() as conn:
            count: int = conn.execute("SELECT count(*) FROM notes").fetchone()[0]
        return count

    def export(self, batch: int = 100) -> tuple[Batches, Callable[[], None]]:
        """All notes in batches, read lazily from a connection held until ``release()``.

        The query runs before this returns, so a database error is still a
        503; ``release`` gives the connection back whether or not the batches
        were read (a HEAD request, a client that went away)::

            batches, release = store.export()
            return stream(encode(batches), "application/x-ndjson", on_close=release)
        """
        stack = ExitStack()
        try:
            conn = stack.enter_context(self.connection())
            cursor = conn.execute(f"SELECT {_COLUMNS} FROM notes ORDER BY id")
            stack.callback(cursor.close)
            first = cursor.fetchmany(batch)
        except BaseException:
            # NOTE: not stack.close(): the error must pass through connection(),
            # which turns database trouble into a 503.
            if not stack.__exit__(*sys.exc_info()):
                raise
            raise  # pragma: no cover - connection() never swallows an error
        # PERF: rows come batch by batch from the open cursor, never all at once.
        return _batches(first, cursor, batch), stack.close


def _batches(first: list[tuple[Any, ...]], cursor: sqlite3.Cursor, batch: int) -> Batches:
    rows = first
    while rows:
        yield [_note(row) for row in rows]
        rows = cursor.fetchmany(batch)


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """A short write transaction taking SQLite's write lock at once (IMMEDIATE)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


@contextmanager
def _read(conn: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: several queries see one snapshot (WAL readers never wait)."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.rollback()
