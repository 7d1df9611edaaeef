"""SQLite connections for the demo's pool: any thread, WAL, a busy timeout, a file check.

::

    pool = ConnectionPool(functools.partial(sqlite_connect, config.database_path),
                          ping=sqlite_ping)
"""

from __future__ import annotations

import os
import sqlite3
import time

from webkit_app.pool import select_one

__all__ = ["SQLiteConnection", "sqlite_connect", "sqlite_ping"]


class SQLiteConnection(sqlite3.Connection):
    """A ``sqlite3`` connection that remembers which file (device, inode) it opened."""

    path: str = ""
    file_id: tuple[int, int] | None = None


def _file_id(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def sqlite_connect(path: str, *, busy_timeout: float = 5.0,
                   wal: bool = True) -> SQLiteConnection:
    """Open ``path`` for use from a pool: any thread, WAL, a busy timeout.

    ::

        pool = ConnectionPool(functools.partial(sqlite_connect, config.database_path),
                              ping=sqlite_ping)
    """
    # NOTE: check_same_thread=False is safe because the pool lends a
    # connection to one thread at a time.
    conn = sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False,
                           factory=SQLiteConnection)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if wal:  # NOTE: readers do not block the writer; survives in the file
            _use_wal(conn, busy_timeout)
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL
        conn.execute("PRAGMA foreign_keys = ON")
        conn.path = path
        conn.file_id = _file_id(path) if path != ":memory:" else None
    except BaseException:
        conn.close()
        raise
    return conn


def sqlite_ping(conn: SQLiteConnection) -> bool:
    """``SELECT 1``, and is the file at ``conn.path`` still the one it opened?

    A restored backup or a deleted file leaves an open connection on the old
    inode, where writes would silently go; such a connection fails the ping
    and the pool replaces it.
    """
    select_one(conn)
    if conn.file_id is None:
        return True
    try:
        # PERF: one stat() per checkout, next to the SELECT 1 round trip.
        return _file_id(conn.path) == conn.file_id
    except OSError:
        return False


def _use_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch ``conn``'s file to WAL, waiting up to ``busy_timeout`` for the lock.

    NOTE: the switch needs an exclusive lock and SQLite answers SQLITE_BUSY
    at once, without the busy handler, when another connection holds the
    file (several workers opening a new file together): retry instead.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
