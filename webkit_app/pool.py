"""A bounded, thread-safe, fork-aware pool of DB-API connections.

Part of the toolkit, though no handler needs it: it knows nothing of HTTP or
of any database (``connect`` is any function returning a DB-API connection),
and the guide it follows teaches it as the reusable piece every service with
a database wants. ``import webkit_app`` does not import it: its fork hook is
registered only by applications that use it. Mapping its :class:`PoolTimeout`
to a 503 is the application's choice (``app.add_error_handler``)::

    pool = ConnectionPool(functools.partial(sqlite3.connect, "notes.sqlite3"), max_size=10)
    with pool.connection() as conn:        # blocks at most pool.timeout seconds
        conn.execute("INSERT INTO notes (text) VALUES (?)", ("hi",))
        conn.commit()                      # not committed: rolled back on return
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ConnectionPool", "PoolError", "PoolTimeout", "PoolClosed", "select_one"]

log = logging.getLogger("webkit_app.pool")

Connection = Any  # any DB-API 2.0 connection


class PoolError(Exception):
    """Base class of the pool's errors."""


class PoolTimeout(PoolError):
    """No connection became free within ``timeout`` seconds: answer 503.

    ``retry_after`` is a whole number of seconds for a ``Retry-After`` header.
    """

    def __init__(self, timeout: float, max_size: int) -> None:
        super().__init__(f"no database connection free within {timeout:g} s "
                         f"(all {max_size} in use)")
        self.timeout = timeout
        self.max_size = max_size
        self.retry_after = max(1, math.ceil(timeout))


class PoolClosed(PoolError):
    """The pool was closed; no more connections are handed out."""


def select_one(conn: Connection) -> None:
    """The default pre-ping: ``SELECT 1`` through a DB-API cursor."""
    cur = conn.cursor()
    try:
        cur.execute("SELECT 1")
        cur.fetchone()
    finally:
        cur.close()


def _close_quietly(conn: Connection) -> None:
    try:
        conn.close()
    except Exception:  # NOTE: a dead connection may fail to close; it is gone anyway
        log.debug("closing a pooled connection failed", exc_info=True)


# NOTE: a lock held by another thread at fork time stays locked forever in
# the child; the child gets a fresh one.
_fork_lock = threading.Lock()


def _new_fork_lock() -> None:
    global _fork_lock
    _fork_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_fork_lock)


class ConnectionPool:
    """At most ``max_size`` connections made by ``connect()``, lent one at a time.

    Connections are opened lazily, checked with ``ping(conn)`` (default
    ``SELECT 1``) before being lent again and replaced when dead, and rolled
    back when returned. A checkout waits at most ``timeout`` seconds, then
    raises :class:`PoolTimeout`. Nothing is opened at construction, and a
    process forked after use drops the inherited connections unused, so a
    pool built before gunicorn's ``--preload`` fork is safe::

        pool = ConnectionPool(lambda: sqlite3.connect("db.sqlite3"), max_size=5, timeout=2)
        with pool.connection(timeout=0.5) as conn:
            conn.cursor().execute("SELECT 1")
        pool.stats()   # {'max_size': 5, 'size': 1, 'in_use': 0, 'idle': 1, ...}
        pool.close()
    """

    def __init__(self, connect: Callable[[], Connection], max_size: int = 10,
                 timeout: float = 30.0, ping: Callable[[Connection], Any] | None = None) -> None:
        if type(max_size) is not int or max_size < 1:
            raise ValueError(f"max_size={max_size!r}: expected an integer >= 1")
        if not timeout >= 0:  # NOTE: also refuses NaN
            raise ValueError(f"timeout={timeout!r}: expected a number of seconds >= 0")
        self._connect = connect
        self.max_size = max_size
        self.timeout = float(timeout)
        self._ping = ping or select_one
        self._closed = False
        self._waits = self._timeouts = 0
        self._inherited: list[Connection] = []
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[Connection] = []  # LIFO: the warmest connection first
        self._size = 0                     # open or being opened, idle or lent
        self._in_use = 0                   # lent out, or being opened for a borrower
        self._waiting = 0

    def _check_fork(self) -> None:
        # PERF: one integer comparison per checkout; the lock only after a fork
        if self._pid != os.getpid():
            with _fork_lock:
                if self._pid != os.getpid():
                    self._forget_inherited()

    def _forget_inherited(self) -> None:
        # NOTE: the parent still uses these connections' sockets. Closing
        # them here (or letting the garbage collector do it) could end the
        # parent's session, so they are kept referenced and never touched.
        self._inherited.extend(self._idle)
        log.info("process %d forked: dropping %d inherited pool connection(s) unused",
                 os.getpid(), self._size)
        self._reset()

    # -- lending ----------------------------------------------------------------

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Connection]:
        """Lend a connection for the ``with`` block; ``timeout`` overrides the pool's."""
        conn = self._acquire(self.timeout if timeout is None else timeout)
        owner = self._pid
        try:
            yield conn
        except BaseException:
            self._release(conn, owner, failed=True)
            raise
        self._release(conn, owner, failed=False)

    def _acquire(self, timeout: float) -> Connection:
        self._check_fork()
        conn = self._take(timeout)
        # PERF: the ping costs one round trip per checkout (microseconds for
        # SQLite); pass ping=lambda conn: None to trust idle connections.
        if conn is not None:
            if self._alive(conn):
                return conn
            _close_quietly(conn)  # NOTE: its slot is reused for the new connection
        try:
            return self._connect()
        except BaseException:
            self._free_slot()
            raise

    def _take(self, timeout: float) -> Connection | None:
        """An idle connection, or ``None`` with a slot reserved for a new one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            waited = False
            while True:
                if self._closed:
                    raise PoolClosed("the connection pool is closed")
                if self._idle:
                    self._in_use += 1
                    return self._idle.pop()
                if self._size < self.max_size:
                    self._size += 1
                    self._in_use += 1
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._timeouts += 1
                    raise PoolTimeout(timeout, self.max_size)
                if not waited:
                    waited = True
                    self._waits += 1
                self._waiting += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._waiting -= 1

    def _alive(self, conn: Connection) -> bool:
        try:
            return self._ping(conn) is not False
        except Exception:
            log.warning("pooled connection failed its ping; replacing it", exc_info=True)
            return False

    def _free_slot(self) -> None:
        with self._cond:
            self._size -= 1
            self._in_use -= 1
            self._cond.notify()

    # -- returning --------------------------------------------------------------

    def _release(self, conn: Connection, owner: int, failed: bool) -> None:
        if owner != os.getpid() or owner != self._pid:
            self._inherited.append(conn)  # NOTE: lent before a fork: never touch it
            return
        reusable = self._rollback(conn, failed)
        with self._cond:
            self._in_use -= 1
            if reusable and not self._closed:
                self._idle.append(conn)
                self._cond.notify()
                return
            self._size -= 1
            self._cond.notify()
        _close_quietly(conn)

    @staticmethod
    def _rollback(conn: Connection, failed: bool) -> bool:
        """Roll back what the borrower left open; ``False`` when the connection is unusable."""
        try:
            conn.rollback()
        except Exception:
            level = logging.WARNING if failed else logging.INFO
            log.log(level, "rollback of a returned connection failed; discarding it",
                    exc_info=True)
            return False
        # NOTE: sqlite3 exposes in_transaction; a transaction that survived
        # ROLLBACK must not reach the next borrower.
        return not getattr(conn, "in_transaction", False)

    # -- the pool as a whole ----------------------------------------------------

    def close(self) -> None:
        """Close the idle connections and refuse new checkouts; lent ones close on return."""
        self._check_fork()
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            _close_quietly(conn)

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> dict[str, int]:
        """Counts: ``max_size``, ``size``, ``in_use``, ``idle``, ``waiting``, ``waits``, ``timeouts``."""
        self._check_fork()
        with self._cond:
            return {
                "max_size": self.max_size,
                "size": self._size,
                "in_use": self._in_use,
                "idle": len(self._idle),
                "waiting": self._waiting,
                "waits": self._waits,
                "timeouts": self._timeouts,
            }

    def __repr__(self) -> str:
        return f"<ConnectionPool max_size={self.max_size} size={self._size} closed={self._closed}>"
