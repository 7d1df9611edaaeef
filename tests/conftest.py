"""Fixtures shared by the test modules: PostgreSQL for the session (``tests/pg_util.py``)."""

from pg_util import pg_url, postgres_server

__all__ = ["pg_url", "postgres_server"]
