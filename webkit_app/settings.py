"""Typed settings, read once at start-up from the environment or ini settings.

The toolkit's layer, not the demo's: any application (and the adapters: the
CLI, the PasteDeploy factory, the Pyramid add-on) reads its settings the same
way, so the checks live here once and carry no knowledge of the reference
service. :class:`AppSettings` holds what the toolkit itself uses (server,
logging, the middleware stack); an application subclasses it and declares
its own fields with :func:`setting`::

    @dataclass(frozen=True)
    class MySettings(AppSettings):
        database_url: str = setting("sqlite:///app.db", as_text, "DATABASE_URL")

    settings = MySettings.from_environ(os.environ)
    settings = MySettings.from_settings(ini_settings, environ=os.environ)  # environment wins

Every setting has an environment variable (``PORT``) and an ini key (``port``,
optionally prefixed ``webkit_app.``). Values are checked when the settings are
built; a bad one raises :class:`ConfigError` naming the variable, the value
and what is expected, so a misconfigured server refuses to start instead of
failing on the first request.
"""

from __future__ import annotations

import ipaddress
import logging
import logging.config
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Self

__all__ = [
    "MASK",
    "SETTINGS_PREFIX",
    "AppSettings",
    "ConfigError",
    "LogFormatter",
    "Settings",
    "as_bind_host",
    "as_boolean",
    "as_directory",
    "as_host_names",
    "as_integer",
    "as_items",
    "as_log_level",
    "as_networks",
    "as_optional_file",
    "as_origins",
    "as_seconds",
    "as_size",
    "as_text",
    "as_user_names",
    "configure_logging",
    "setting",
]

SETTINGS_PREFIX = "webkit_app."
ENVIRONMENT, SETTINGS, DEFAULT = "environment", "settings", "default"
MASK = "********"
MIN_SECRET_LENGTH = 32
# NOTE: values seen in tutorials, templates and this project's own seed;
# a production server started with one of them would sign with a public key.
KNOWN_SECRETS = frozenset(
    "secret secret-key secret_key changeme change-me change_me please-change-me dev "
    "development default insecure test password not-a-secret dev-secret-key webkit_app "
    "webkit-app".split())


class ConfigError(ValueError):
    """A setting is missing or invalid; the message says which, its value and what to set."""


# -- value checks: each takes a string (or an already typed value) and returns
# the typed value, or raises ValueError("expected ...") -------------------------

Coerce = Callable[[Any], Any]
MIB = 1024 * 1024
_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off"))
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}
_SIZE = re.compile(r"([0-9]+)\s*([a-z]*)").fullmatch
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+").fullmatch
_BIND = re.compile(r"[A-Za-z0-9.:_\-\[\]]+").fullmatch
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_HOSTNAME = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])"
_HOST = re.compile(_HOSTNAME).fullmatch
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://" + _HOSTNAME + r"(?::[0-9]{1,5})?").fullmatch
_USER = re.compile(r"[^\s:]{1,255}").fullmatch


def _printable(value: Any) -> Any:
    """``value`` as the user would have written it, cut to 200 characters."""
    value = ", ".join(value) if isinstance(value, tuple) else value
    return value[:200] if isinstance(value, str) else value


def as_boolean(value: Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, bool):
        return value
    raise ValueError("expected a boolean: 1/0, true/false, yes/no or on/off")


def as_integer(lo: int, hi: int) -> Callable[[Any], int]:
    def coerce(value: Any) -> int:
        if isinstance(value, str):  # NOTE: int() would also take '+3', '1_0', '٣'
            value = value.strip()
            value = int(value) if value.isascii() and value.isdigit() else None
        if type(value) is int and lo <= value <= hi:
            return value
        raise ValueError(f"expected an integer {lo}-{hi}")
    return coerce


def as_seconds(hi: float) -> Callable[[Any], float]:
    def coerce(value: Any) -> float:
        if isinstance(value, str):
            value = float(value.strip()) if _DECIMAL(value.strip()) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= hi:
            return float(value)  # NOTE: NaN fails the comparison above
        raise ValueError(f"expected a number of seconds, more than 0 and at most {hi:g}")
    return coerce


def as_size(lo: int) -> Callable[[Any], int]:
    def coerce(value: Any) -> int:
        if isinstance(value, str):
            m = _SIZE(value.strip().lower())
            unit = _UNITS.get(m.group(2)) if m else None
            value = int(m.group(1)) * unit if m and unit else None
        if type(value) is int and lo <= value <= 2**50:
            return value
        raise ValueError(f"expected a size from {lo} bytes to 1 PiB: digits, optionally with a "
                         "unit B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (of 1024)")
    return coerce


def _matching(test: Callable[[str], Any], expected: str,
              normal: Callable[[str], str] = str.strip) -> Callable[[Any], str]:
    def coerce(value: Any) -> str:
        if isinstance(value, str) and test(normal(value)):
            return normal(value)
        raise ValueError(expected)
    return coerce


as_log_level = _matching(_LEVELS.__contains__, f"expected one of {', '.join(_LEVELS)}",
                          lambda v: v.strip().upper())
as_text = _matching(str.isprintable, "expected printable text", str)
as_bind_host = _matching(_BIND, "expected an address to listen on, like 127.0.0.1, 0.0.0.0 or ::")


def as_optional_file(value: Any) -> Path | None:
    path = Path(os.path.abspath(value)) if isinstance(value, str | Path) else None
    if value is not None and (path is None or not path.is_file()):
        raise ValueError(f"expected an existing file ({path} is not one)")
    return path


def as_directory(value: Any) -> Path:
    path = Path(os.path.abspath(value)) if isinstance(value, str | Path) else None
    if path is None or (path.exists() and not path.is_dir()):  # NOTE: missing: 404s
        raise ValueError("expected a folder")
    return path


def as_items(value: Any) -> tuple[str, ...]:
    """Split ``'a, b c'`` on commas and whitespace; tuples and lists pass."""
    if isinstance(value, str):
        return tuple(v for v in re.split(r"[\s,]+", value.strip()) if v)
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("expected a comma-separated list")


def _each(check: Callable[[str], bool], expected: str,
          lower: bool = False) -> Callable[[Any], tuple[str, ...]]:
    def coerce(value: Any) -> tuple[str, ...]:
        values = as_items(value)
        values = tuple(v.lower() for v in values) if lower and isinstance(value, str) else values
        bad = [v for v in values if not check(v)]
        if bad:
            raise ValueError(f"expected {expected} ({bad[0][:100]!r} is not)")
        return values
    return coerce


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


as_host_names = _each(lambda v: bool(_HOST(v)), "host names without port, like example.com",
                       lower=True)
_origin_list = _each(lambda v: v in ("*", "null") or bool(_ORIGIN(v)),
                     "exact origins like https://app.example.com: lower-case scheme and "
                     "host, optional port, no path or trailing slash")


def as_origins(value: Any) -> tuple[str, ...]:
    values = _origin_list(value)
    if "*" in values and len(values) > 1:
        raise ValueError("expected either '*' alone or a list of origins")
    return values


as_networks = _each(_is_network, "IP addresses or networks, like 10.0.0.1 or 10.0.0.0/8")
as_user_names = _each(lambda v: bool(_USER(v)), "user names (no spaces or colons)")


def setting(default: Any, coerce: Coerce, env: str, *aliases: str, doc: str = "",
            keys: tuple[str, ...] = (), secret: bool = False, factory: Any = None) -> Any:
    """Declare a :class:`Settings` field: its default, its check, its variable names::

        port: int = setting(8000, as_integer(1, 65535), "PORT", doc="TCP port")
    """
    meta = {"coerce": coerce, "env": (env, *aliases), "keys": keys, "doc": doc, "secret": secret}
    if factory is not None:
        return field(default_factory=factory, metadata=meta, repr=not secret)
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Frozen, typed settings, checked when built; subclass it and declare
    fields with :func:`setting` (see the module's docstring).

    ::

        settings = AppSettings.from_environ({"PORT": "8080", "DEBUG": "1"})
        settings.port                 # 8080
        settings.sources["port"]      # 'environment'
        print(settings.describe())    # every setting, secrets masked
    """

    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    names: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # NOTE: frozen, so normalised values (tuples, absolute paths) go in
        # through object.__setattr__, the documented way for __post_init__.
        for f in self.declared():
            try:
                value = f.metadata["coerce"](getattr(self, f.name))
            except ValueError as exc:
                raise ConfigError(self._problem(f, str(exc))) from None
            object.__setattr__(self, f.name, value)
        sources = {f.name: self.sources.get(f.name, DEFAULT) for f in self.declared()}
        object.__setattr__(self, "sources", MappingProxyType(sources))
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))
        self.check()

    @classmethod
    def declared(cls) -> tuple[Field[Any], ...]:
        """The fields declared with :func:`setting`, in declaration order."""
        return tuple(f for f in fields(cls) if "coerce" in f.metadata)

    # -- building -------------------------------------------------------------

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        """Build from environment variables; empty values count as unset."""
        return cls._build({}, environ)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any],
                      environ: Mapping[str, str] | None = None) -> Self:
        """Build from PasteDeploy/Pyramid settings (``port`` or ``webkit_app.port``).

        A ``webkit_app.``-prefixed key wins over the bare one; an unknown
        prefixed key is a :class:`ConfigError` (a typo would otherwise be
        ignored). When ``environ`` is given, its variables win over the ini.
        """
        return cls._build(settings, environ or {})

    @classmethod
    def _build(cls, settings: Mapping[str, Any], environ: Mapping[str, str]) -> Self:
        cls._reject_unknown(settings)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        names: dict[str, str] = {}
        for f in cls.declared():
            for source, name, value in (_from_settings(f, settings), _from_environ(f, environ)):
                if name is not None:
                    values[f.name], sources[f.name], names[f.name] = value, source, name
        return cls(**values, sources=sources, names=names)

    @classmethod
    def read(cls, settings: Mapping[str, Any], name: str, default: Any = MISSING) -> Any:
        """One setting from PasteDeploy/Pyramid ``settings``, checked as the
        class checks it (an unknown ``webkit_app.`` key is refused too); when
        absent, ``default``, or the field's own default. For add-ons that
        need one value without the whole settings::

            AppSettings.read(config.get_settings(), "max_body_size")   # 10485760 for "10MiB"
        """
        cls._reject_unknown(settings)
        (f,) = (f for f in cls.declared() if f.name == name)
        _, key, value = _from_settings(f, settings)
        if key is None:
            if default is not MISSING:
                return default
            # NOTE: callable(), as mypy does not narrow ``is not MISSING`` (not an enum).
            return f.default_factory() if callable(f.default_factory) else f.default
        try:
            return f.metadata["coerce"](value)
        except ValueError as exc:
            raise ConfigError(f"{key}={_printable(value)!r}: {exc}") from None

    @classmethod
    def _reject_unknown(cls, settings: Mapping[str, Any]) -> None:
        known = {k for f in cls.declared() for k in (f.name, *f.metadata["keys"])}
        for key in settings:
            if key.startswith(SETTINGS_PREFIX) and key[len(SETTINGS_PREFIX):] not in known:
                raise ConfigError(f"{key}: unknown setting (known: {', '.join(sorted(known))})")

    # -- reading ----------------------------------------------------------------

    def masked(self) -> dict[str, Any]:
        """The settings as plain values, secrets replaced by ``********``."""
        out: dict[str, Any] = {}
        for f in self.declared():
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                value = MASK
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out

    def describe(self, settings_from: str = SETTINGS) -> str:
        """One line per setting: ``name = value  (source NAME)``, secrets masked.

        ``settings_from`` names the settings' source (``file app.ini``).
        """
        lines = []
        for name, value in self.masked().items():
            shown = ", ".join(value) if isinstance(value, tuple) else value
            where = self.sources[name]
            if where == SETTINGS:
                where = settings_from
            if where != DEFAULT:
                where += " " + self.names.get(name, "")
            lines.append(f"{name:24} = {shown!s:40}  ({where.strip()})")
        return "\n".join(lines)

    # -- checks -----------------------------------------------------------------

    def check(self) -> None:
        """Checks that involve several settings; raise :class:`ConfigError`.
        Subclasses extend it (calling ``super().check()``)."""

    def problem(self, name: str, expected: str, shown: str | None = None) -> str:
        """``NAME=value: expected``, naming the variable or key the value came from."""
        (f,) = (f for f in self.declared() if f.name == name)
        return self._problem(f, expected, shown)

    def _problem(self, f: Field[Any], expected: str, shown: str | None = None) -> str:
        name = self.names.get(f.name) or f.metadata["env"][0]
        if shown is None:
            value = getattr(self, f.name)
            shown = MASK if f.metadata["secret"] and value else repr(_printable(value))
        return f"{name}={shown}: {expected}"


@dataclass(frozen=True, kw_only=True)
class AppSettings(Settings):
    """What the toolkit and its adapters read: the server, logging, the
    middleware stack (:func:`webkit_app.factory.wrap`) and the App's limits.

    ``SECRET_KEY`` is optional here (an application that signs nothing needs
    none) but, when set with DEBUG off, must not be short or a well-known
    default; set :attr:`secret_required` in a subclass whose application signs.
    """

    #: refuse to start without SECRET_KEY when DEBUG is off
    secret_required: ClassVar[bool] = False

    debug: bool = setting(False, as_boolean, "DEBUG", doc="debug pages; no secret needed")
    host: str = setting("127.0.0.1", as_bind_host, "HOST", doc="address to listen on")
    port: int = setting(8000, as_integer(1, 65535), "PORT", doc="TCP port to listen on")
    workers: int = setting(2, as_integer(1, 1024), "WEB_CONCURRENCY", "WORKERS",
                           doc="worker processes")
    log_level: str = setting("INFO", as_log_level, "LOG_LEVEL", doc="level of the app loggers")
    secret_key: str = setting("", as_text, "SECRET_KEY", secret=True,
                              doc="signing key; checked unless DEBUG")
    cors_origins: tuple[str, ...] = setting((), as_origins, "CORS_ORIGINS",
                                            doc="exact origins allowed by CORS, or *")
    cors_allow_credentials: bool = setting(False, as_boolean, "CORS_ALLOW_CREDENTIALS",
                                           doc="send Access-Control-Allow-Credentials")
    max_body_size: int = setting(MIB * 10, as_size(1), "MAX_BODY_SIZE",
                                 doc="largest request body")
    allowed_hosts: tuple[str, ...] = setting((), as_host_names, "ALLOWED_HOSTS",
                                             doc="accepted Host names; empty: any")
    trusted_proxies: tuple[str, ...] = setting((), as_networks, "TRUSTED_PROXIES",
                                               doc="proxies whose X-Forwarded-* are believed")

    def check(self) -> None:
        super().check()
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ConfigError(self.problem(
                "cors_origins",
                "expected a list of origins: '*' cannot be combined with "
                "CORS_ALLOW_CREDENTIALS (the Fetch standard forbids it)"))
        if not self.debug:
            self._check_secret()

    def _check_secret(self) -> None:
        key = self.secret_key
        if not key:
            return
        if key.strip().lower() in KNOWN_SECRETS:
            raise ConfigError(self.problem("secret_key", f"a well-known default, refused with "
                                                         f"DEBUG off: {_SECRET_HINT}",
                                           shown=repr(key)))
        if len(key) < MIN_SECRET_LENGTH or len(set(key)) < 8:
            raise ConfigError(self.problem(
                "secret_key",
                f"{len(key)} characters, too short or too simple with DEBUG off: {_SECRET_HINT}"))

    def require_secret(self) -> None:
        """Refuse to serve without ``SECRET_KEY`` when DEBUG is off and
        :attr:`secret_required` says the application signs. Called by the
        factories that build a servable app, not when settings are read, so
        ``webkit-app config`` and ``routes`` work without a secret."""
        if self.secret_required and not self.debug and not self.secret_key:
            raise ConfigError(f"{self.names.get('secret_key', 'SECRET_KEY')} is missing and "
                              f"DEBUG is off: {_SECRET_HINT}")


_SECRET_HINT = (f"set a random value of at least {MIN_SECRET_LENGTH} characters, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))', or DEBUG=1")


def _from_environ(f: Field[Any], environ: Mapping[str, str]) -> tuple[str, str | None, Any]:
    for name in f.metadata["env"]:
        value = environ.get(name)
        if value is not None and value.strip():
            return ENVIRONMENT, name, value
    return ENVIRONMENT, None, None


def _from_settings(f: Field[Any], settings: Mapping[str, Any]) -> tuple[str, str | None, Any]:
    for key in (f.name, *f.metadata["keys"]):
        for name in (SETTINGS_PREFIX + key, key):  # NOTE: the prefixed key wins
            value = settings.get(name)
            if value is not None and (not isinstance(value, str) or value.strip()):
                return SETTINGS, name, value
    return SETTINGS, None, None


# -- logging --------------------------------------------------------------------

_HANDLER_NAME = "webkit_app.default"
LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"


class LogFormatter(logging.Formatter):
    """``logging.Formatter`` that formats ``%(asctime)s`` once per second, not per record.

    The output is the standard one (``2026-12-01 22:03:12,318``); with a
    ``datefmt`` the standard class's code is used as it is. One access record
    per request makes the date formatting a per-request cost; the deploy inis
    name this class (``class = webkit_app.settings.LogFormatter``)::

        handler.setFormatter(LogFormatter("%(asctime)s %(message)s"))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._second: tuple[int, str] = (-1, "")
        style = self._style
        # PERF: a plain %-style format is applied by format() itself, without
        # the style object's three calls and the usesTime() search per record.
        self._percent: str | None = (
            style._fmt if type(style) is logging.PercentStyle
            and not getattr(style, "_defaults", None) else None)
        self._uses_time = self.usesTime()

    def format(self, record: logging.LogRecord) -> str:
        fmt = self._percent
        if fmt is None or record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        record.message = record.getMessage()
        if self._uses_time:
            record.asctime = self.formatTime(record, self.datefmt)
        try:
            return fmt % record.__dict__
        except KeyError as exc:  # NOTE: the error PercentStyle.format raises
            raise ValueError(f"Formatting field not found in record: {exc}") from None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt or not self.default_msec_format:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._second  # NOTE: one tuple, so threads never see half an update
        if cached[0] != second:
            cached = self._second = (second, time.strftime(self.default_time_format,
                                                           self.converter(second)))
        return self.default_msec_format % (cached[1], record.msecs)


def configure_logging(config: AppSettings) -> None:
    """Apply ``LOG_LEVEL`` to the ``webkit_app`` and ``webkit_app.access`` loggers.

    Only levels change (an *incremental* ``dictConfig``): the host
    application's handlers, root logger and other loggers are left as they
    are. When no handler at all would receive the records (a bare server
    without logging set up), one stderr handler is added to ``webkit_app``,
    once::

        configure_logging(AppSettings.from_environ(os.environ))
    """
    # NOTE: a non-incremental dictConfig closes every existing handler
    # (logging.config._clearExistingHandlers), which would break host apps.
    logging.config.dictConfig({
        "version": 1,
        "incremental": True,
        "disable_existing_loggers": False,
        "loggers": {
            "webkit_app": {"level": config.log_level},
            "webkit_app.access": {"level": config.log_level},
        },
    })
    logger = logging.getLogger("webkit_app")
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(LogFormatter(LOG_FORMAT))
        logger.addHandler(handler)
