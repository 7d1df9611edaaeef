"""The notes demo's settings: :class:`~webkit_app.settings.AppSettings` plus its own.

The demo adds what only it uses (its database, the Basic-auth users of
``/admin``, the pool and health-check limits, the download folder) and
requires ``SECRET_KEY`` with DEBUG off::

    config = Config.from_environ(os.environ)
    config = Config.from_settings(settings, environ=os.environ)  # environment wins
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from webkit_app.settings import (
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

__all__ = ["Config", "ConfigError", "SQLITE_PREFIX"]

SQLITE_PREFIX = "sqlite:///"
MIB = 1024 * 1024
DAY = 24 * 3600


def as_database_url(value: Any) -> str:
    """A ``sqlite:///`` URL of a file in an existing folder, made absolute."""
    path = value[len(SQLITE_PREFIX):] if isinstance(value, str) else ""
    if not isinstance(value, str) or not value.startswith(SQLITE_PREFIX) or not path \
            or path == ":memory:" or "?" in path or not path.isprintable():
        raise ValueError("expected sqlite:///relative/path or sqlite:////absolute/path "
                         "(a file: an in-memory database is not shared by pool connections)")
    path = os.path.abspath(path)
    if not os.path.isdir(os.path.dirname(path)) or os.path.isdir(path):
        raise ValueError(f"expected a database file in an existing folder ({path})")
    return SQLITE_PREFIX + path


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
                                doc="sqlite:///relative or sqlite:////absolute")
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
    def database_path(self) -> str:
        """The SQLite file of :attr:`database_url`, an absolute path."""
        return self.database_url[len(SQLITE_PREFIX):]
