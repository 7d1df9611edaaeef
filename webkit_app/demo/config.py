"""The notes demo's settings: :class:`~webkit_app.settings.AppSettings` plus its own.

The demo adds what only it uses (its database, the Basic-auth users of
``/admin``, the pool and health-check limits, the download folder) and
requires ``SECRET_KEY`` with DEBUG off::

    config = Config.from_environ(os.environ)
    config = Config.from_settings(settings, environ=os.environ)  # environment wins
"""

from __future__ import annotations

import os
from dataclasses import Field, dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from webkit_app.settings import (
    MASK,
    AppSettings,
    ConfigError,
    as_boolean,
    as_directory,
    as_integer,
    as_items,
    as_optional_file,
    as_origins,
    as_seconds,
    as_size,
    as_user_names,
    setting,
)

__all__ = ["Config", "ConfigError", "POSTGRES_PREFIXES", "SQLITE_PREFIX", "mask_url"]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")
MIB = 1024 * 1024
DAY = 24 * 3600


def as_database_url(value: Any) -> str:
    """A ``sqlite:///`` URL of a file in an existing folder, made absolute, or a
    ``postgresql://`` (``postgres://``) URL naming a host and a database."""
    if isinstance(value, str) and value.startswith(POSTGRES_PREFIXES):
        return _postgres_url(value)
    path = value[len(SQLITE_PREFIX):] if isinstance(value, str) else ""
    if not isinstance(value, str) or not value.startswith(SQLITE_PREFIX) or not path \
            or path == ":memory:" or "?" in path or not path.isprintable():
        raise ValueError("expected sqlite:///relative/path, sqlite:////absolute/path "
                         "(a file: an in-memory database is not shared by pool connections) "
                         "or postgresql://user:password@host:port/dbname")
    path = os.path.abspath(path)
    if not os.path.isdir(os.path.dirname(path)) or os.path.isdir(path):
        raise ValueError(f"expected a database file in an existing folder ({path})")
    return SQLITE_PREFIX + path


def _postgres_url(value: str) -> str:
    expected = "expected postgresql://user:password@host:port/dbname"
    if not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError(f"{expected} (no spaces or control characters)")
    try:
        url = urlsplit(value)
        _ = url.port  # NOTE: raises ValueError for a port that is not a number 0-65535
    except ValueError:
        raise ValueError(f"{expected} (the port is not a number)") from None
    if not url.hostname or url.path.strip("/") == "" or "/" in url.path.strip("/"):
        raise ValueError(f"{expected} (a host and a database name are required)")
    return value


def mask_url(url: str) -> str:
    """``url`` with the password of its user part replaced by ``********``::

        mask_url("postgresql://app:s3cret@db:5432/notes")  # 'postgresql://app:********@db:5432/notes'
    """
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    user, at, host = netloc.rpartition("@")  # NOTE: the last @ ends the user part
    if not sep or not at or ":" not in user:
        return url
    return f"{scheme}://{user.partition(':')[0]}:{MASK}@{host}{slash}{tail}"


def as_trusted_origins(value: Any) -> tuple[str, ...]:
    """Exact origins (``https://admin.example.com``), neither ``*`` nor ``null``."""
    origins = as_origins(value)
    if "*" in origins or "null" in origins:
        raise ValueError("expected exact origins like https://admin.example.com, not '*' or 'null'")
    return origins


def _default_database() -> str:
    return SQLITE_PREFIX + os.path.abspath("webkit_app.sqlite3")


def _default_files_dir() -> Path:
    return Path(os.path.abspath("files"))


@dataclass(frozen=True, kw_only=True)
class Config(AppSettings):
    """The demo's settings, frozen, typed and checked when built.

    ::

        config = Config.from_environ({"DEBUG": "1", "DATABASE_URL": "sqlite:///notes.db"})
        config.database_path        # '/abs/path/notes.db'
    """

    secret_required: ClassVar[bool] = True

    log_health_checks: bool = setting(True, as_boolean, "LOG_HEALTH_CHECKS",
                                      doc="access-log /health requests")
    database_url: str = setting(None, as_database_url, "DATABASE_URL", factory=_default_database,
                                doc="sqlite:///path or postgresql://user:password@host:port/db")
    htpasswd: Path | None = setting(None, as_optional_file, "HTPASSWD", "AUTH_USERS_FILE",
                                    keys=("auth_users_file",), doc="Basic-auth users of /admin")
    admin_users: tuple[str, ...] = setting((), as_user_names, "ADMIN_USERS",
                                           doc="users allowed on /admin; empty: all")
    pool_size: int = setting(10, as_integer(1, 1000), "POOL_SIZE",
                             doc="most database connections per process")
    pool_timeout: float = setting(30.0, as_seconds(3600), "POOL_TIMEOUT",
                                  doc="wait for a free connection before 503")
    health_timeout: float = setting(2.0, as_seconds(60), "HEALTH_TIMEOUT",
                                    doc="time limit of each health check")
    health_disk_min_bytes: int = setting(100 * MIB, as_size(0), "HEALTH_DISK_MIN_BYTES",
                                         doc="free disk below this fails readiness")
    files_dir: Path = setting(None, as_directory, "FILES_DIR", factory=_default_files_dir,
                              doc="folder served by /download/{name}")
    secret_key_fallbacks: tuple[str, ...] = setting((), as_items, "SECRET_KEY_FALLBACKS",
                                                    secret=True,
                                                    doc="old keys sessions are still read with")
    session_max_age: int = setting(14 * DAY, as_integer(60, 400 * DAY), "SESSION_MAX_AGE",
                                   doc="seconds a session cookie stays valid")
    csrf_trusted_origins: tuple[str, ...] = setting((), as_trusted_origins,
                                                    "CSRF_TRUSTED_ORIGINS",
                                                    doc="other origins allowed to POST forms")

    @property
    def database_backend(self) -> str:
        """``"postgresql"`` or ``"sqlite"``, from :attr:`database_url`'s scheme."""
        return "postgresql" if self.database_url.startswith(POSTGRES_PREFIXES) else "sqlite"

    @property
    def database_path(self) -> str:
        """The SQLite file of :attr:`database_url`, an absolute path ("" for PostgreSQL)."""
        if self.database_backend != "sqlite":
            return ""
        return self.database_url[len(SQLITE_PREFIX):]

    def masked(self) -> dict[str, Any]:
        """The settings as plain values, secrets and the database password masked."""
        out = super().masked()
        out["database_url"] = mask_url(out["database_url"])
        return out

    def __repr__(self) -> str:
        # NOTE: the dataclass repr would show the database password (a log
        # line, a traceback's locals); the masked values instead.
        shown = ", ".join(f"{name}={value!r}" for name, value in self.masked().items())
        return f"{type(self).__name__}({shown})"

    def _problem(self, f: Field[Any], expected: str, shown: str | None = None) -> str:
        # NOTE: a refused DATABASE_URL is named in the error, never its password.
        if f.name == "database_url" and shown is None and isinstance(self.database_url, str):
            shown = repr(mask_url(self.database_url[:200]))
        return super()._problem(f, expected, shown)
