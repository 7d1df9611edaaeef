"""PostgreSQL for the tests: one real server per test session, on a free loopback port.

Debian's ``postgresql`` package (``make test`` installs it) is started with
``deploy/cluster.py``'s :class:`Postgres` in a folder under /tmp that the
``postgres`` user can enter (PostgreSQL refuses to run as root, so as root it
runs as that user; pytest's ``tmp_path`` is mode 0700), with fsync off, and
stopped when the session ends. Nothing is mocked::

    def test_x(pg_url):                  # a database with no notes table yet
        store = PostgresNotesStore(pg_url)
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the database the function-scoped fixture hands out, emptied before each test
TEST_DATABASE = "notes_test"


def load_cluster() -> ModuleType:
    """``deploy/cluster.py`` as a module (deploy/ is not a package)."""
    name = "webkit_cluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "cluster.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def postgres_available() -> str | None:
    """Why PostgreSQL cannot run here, or ``None`` when it can."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return "psycopg/psycopg_pool not installed (pip install 'webkit_app[postgres]')"
    try:
        load_cluster().pg_bin()
    except RuntimeError as exc:
        return str(exc)
    return None


def new_workdir(prefix: str) -> Path:
    """A folder under /tmp that other users (postgres, nobody) may enter."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A PostgreSQL server for the session, with :data:`TEST_DATABASE` created."""
    reason = postgres_available()
    if reason is not None:
        pytest.skip(reason)
    cluster = load_cluster()
    base = new_workdir("webkit-pg-")
    server = cluster.Postgres(base / "pg", cluster.free_port(), durable=False)
    try:
        server.start()
        server.create_database(TEST_DATABASE)
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def empty_database(url: str) -> None:
    """End every other session on ``url``'s database and drop the notes table."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        # NOTE: pools of earlier tests may still hold connections (and an
        # export's open transaction); they are ended so DROP TABLE never waits.
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        conn.execute("DROP TABLE IF EXISTS notes")


@pytest.fixture
def pg_url(postgres_server) -> str:
    """The URL of the test database, with no notes table (a fresh start per test)."""
    url = postgres_server.url(TEST_DATABASE)
    empty_database(url)
    return url
