"""Config: typed settings from the environment and ini settings, checked at start-up."""

from __future__ import annotations

import dataclasses
import logging
import logging.config
import re
from pathlib import Path

import pytest

from webkit_app.demo import Config, create_app
from webkit_app.settings import MASK, ConfigError, configure_logging

SECRET = "k7Qp2VxN9rT4mZ8wL1cY6bH3jD5fG0sA"  # 32 characters, varied
PROD = {"SECRET_KEY": SECRET}
README = Path(__file__).resolve().parent.parent / "docs" / "demo.rst"  # the settings table


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Relative defaults (the SQLite file, ``files``) land in a scratch folder."""
    monkeypatch.chdir(tmp_path)


def env(**values: str) -> dict[str, str]:
    return {**PROD, **values}


# -- defaults and parsing -----------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("debug", False), ("host", "127.0.0.1"), ("port", 8000), ("workers", 2),
    ("log_level", "INFO"), ("log_health_checks", True), ("cors_origins", ()),
    ("cors_allow_credentials", False), ("htpasswd", None), ("admin_users", ()),
    ("max_body_size", 10 * 1024 * 1024), ("pool_size", 10), ("pool_timeout", 30.0),
    ("health_timeout", 2.0), ("health_disk_min_bytes", 100 * 1024 * 1024),
    ("allowed_hosts", ()), ("trusted_proxies", ()),
])
def test_defaults(name, expected):
    config = Config.from_environ(PROD)
    assert getattr(config, name) == expected
    assert config.sources[name] == "default"


def test_default_database_and_files_are_in_the_working_directory(tmp_path):
    config = Config.from_environ(PROD)
    assert config.database_url == f"sqlite:///{tmp_path}/webkit_app.sqlite3"
    assert config.database_path == f"{tmp_path}/webkit_app.sqlite3"
    assert config.files_dir == tmp_path / "files"


def test_max_body_default_matches_the_request_parser():
    from webkit_app.body import DEFAULT_MAX_BODY_SIZE

    assert Config.from_environ(PROD).max_body_size == DEFAULT_MAX_BODY_SIZE


@pytest.mark.parametrize("var, raw, name, expected", [
    ("DEBUG", "1", "debug", True), ("DEBUG", "Yes", "debug", True),
    ("DEBUG", " off ", "debug", False), ("DEBUG", "FALSE", "debug", False),
    ("HOST", "0.0.0.0", "host", "0.0.0.0"), ("HOST", "::", "host", "::"),
    ("PORT", "8080", "port", 8080), ("PORT", " 65535 ", "port", 65535),
    ("WORKERS", "4", "workers", 4), ("WEB_CONCURRENCY", "3", "workers", 3),
    ("LOG_LEVEL", "debug", "log_level", "DEBUG"), ("LOG_LEVEL", "Warning", "log_level", "WARNING"),
    ("MAX_BODY_SIZE", "1048576", "max_body_size", 1048576),
    ("MAX_BODY_SIZE", "10MB", "max_body_size", 10_000_000),
    ("MAX_BODY_SIZE", "10MiB", "max_body_size", 10 * 2**20),
    ("MAX_BODY_SIZE", "512 kib", "max_body_size", 512 * 1024),
    ("MAX_BODY_SIZE", "2GB", "max_body_size", 2 * 10**9),
    ("HEALTH_DISK_MIN_BYTES", "0", "health_disk_min_bytes", 0),
    ("POOL_SIZE", "1", "pool_size", 1), ("POOL_TIMEOUT", "0.5", "pool_timeout", 0.5),
    ("POOL_TIMEOUT", "5", "pool_timeout", 5.0), ("HEALTH_TIMEOUT", ".25", "health_timeout", 0.25),
    ("CORS_ORIGINS", "https://a.com, http://b.org:8080", "cors_origins",
     ("https://a.com", "http://b.org:8080")),
    ("CORS_ORIGINS", "https://a.com https://b.com", "cors_origins",
     ("https://a.com", "https://b.com")),
    ("CORS_ORIGINS", "*", "cors_origins", ("*",)), ("CORS_ORIGINS", "null", "cors_origins", ("null",)),
    ("CORS_ALLOW_CREDENTIALS", "true", "cors_allow_credentials", True),
    ("ALLOWED_HOSTS", "Example.COM, api.example.com", "allowed_hosts",
     ("example.com", "api.example.com")),
    ("ALLOWED_HOSTS", "[::1] localhost", "allowed_hosts", ("[::1]", "localhost")),
    ("TRUSTED_PROXIES", "10.0.0.1, 10.0.0.0/8, ::1", "trusted_proxies",
     ("10.0.0.1", "10.0.0.0/8", "::1")),
    ("ADMIN_USERS", "alice,bob", "admin_users", ("alice", "bob")),
    ("LOG_HEALTH_CHECKS", "0", "log_health_checks", False),
])
def test_environment_values(var, raw, name, expected):
    config = Config.from_environ(env(**{var: raw}))
    assert getattr(config, name) == expected
    assert config.sources[name] == "environment"
    assert config.names[name] == var


@pytest.mark.parametrize("raw, path", [
    ("sqlite:///notes.db", "{tmp}/notes.db"),
    ("sqlite:///./sub/../notes.db", "{tmp}/notes.db"),
    ("sqlite:///{tmp}/abs.db", "{tmp}/abs.db"),  # four slashes: absolute
])
def test_database_url_forms(tmp_path, raw, path):
    config = Config.from_environ(env(DATABASE_URL=raw.format(tmp=tmp_path)))
    assert config.database_path == path.format(tmp=tmp_path)
    assert config.database_url == "sqlite:///" + path.format(tmp=tmp_path)


def test_htpasswd_and_files_dir_paths(tmp_path):
    (tmp_path / "users.htpasswd").write_text("alice:$2b$12$x\n")
    (tmp_path / "shared").mkdir()
    config = Config.from_environ(env(AUTH_USERS_FILE="users.htpasswd", FILES_DIR="shared"))
    assert config.htpasswd == tmp_path / "users.htpasswd"
    assert config.files_dir == tmp_path / "shared"
    assert config.names["htpasswd"] == "AUTH_USERS_FILE"


def test_empty_environment_values_count_as_unset():
    config = Config.from_environ(env(PORT="", LOG_LEVEL="  ", CORS_ORIGINS=""))
    assert (config.port, config.log_level, config.cors_origins) == (8000, "INFO", ())
    assert config.sources["port"] == "default"


# -- bad values fail at start-up, naming variable, value and expectation --------

@pytest.mark.parametrize("var, raw, expected", [
    ("PORT", "abc", "expected an integer 1-65535"),
    ("PORT", "0", "expected an integer 1-65535"),
    ("PORT", "65536", "expected an integer 1-65535"),
    ("PORT", "-1", "expected an integer 1-65535"),
    ("PORT", "+80", "expected an integer 1-65535"),
    ("PORT", "8_0", "expected an integer 1-65535"),
    ("PORT", "٨٠", "expected an integer 1-65535"),  # Arabic-Indic digits: int() takes them
    ("PORT", "80.0", "expected an integer 1-65535"),
    ("WORKERS", "0", "expected an integer 1-1024"),
    ("DEBUG", "maybe", "expected a boolean"),
    ("LOG_LEVEL", "verbose", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("MAX_BODY_SIZE", "10XB", "expected a size"),
    ("MAX_BODY_SIZE", "1.5MB", "expected a size"),
    ("MAX_BODY_SIZE", "-1", "expected a size"),
    ("MAX_BODY_SIZE", "0", "expected a size from 1 bytes to 1 PiB"),
    ("MAX_BODY_SIZE", "10 M", "expected a size"),
    ("POOL_SIZE", "0", "expected an integer 1-1000"),
    ("POOL_TIMEOUT", "0", "expected a number of seconds"),
    ("POOL_TIMEOUT", "-1", "expected a number of seconds"),
    ("POOL_TIMEOUT", "nan", "expected a number of seconds"),
    ("POOL_TIMEOUT", "inf", "expected a number of seconds"),
    ("POOL_TIMEOUT", "1e3", "expected a number of seconds"),
    ("HEALTH_TIMEOUT", "61", "at most 60"),
    ("DATABASE_URL", "mysql://db/app", "expected sqlite:///"),
    ("DATABASE_URL", "postgresql://db", "a host and a database name"),
    ("DATABASE_URL", "postgres://db:port/app", "the port is not a number"),
    ("DATABASE_URL", "sqlite:///:memory:", "in-memory"),
    ("DATABASE_URL", "sqlite:///", "expected sqlite:///"),
    ("DATABASE_URL", "sqlite:///no/such/folder/x.db", "existing folder"),
    ("CORS_ORIGINS", "https://a.com/", "no path or trailing slash"),
    ("CORS_ORIGINS", "https://A.com", "lower-case"),
    ("CORS_ORIGINS", "a.com", "exact origins"),
    ("CORS_ORIGINS", "*, https://a.com", "'*' alone"),
    ("ALLOWED_HOSTS", "good.com@evil.com", "host names without port"),
    ("ALLOWED_HOSTS", "example.com:80", "host names without port"),
    ("TRUSTED_PROXIES", "10.0.0.300", "IP addresses or networks"),
    ("ADMIN_USERS", "al:ice", "user names"),
    ("HTPASSWD", "missing.htpasswd", "expected an existing file"),
    ("HOST", "local host", "expected an address to listen on"),
])
def test_bad_value_names_variable_value_and_expectation(var, raw, expected):
    with pytest.raises(ConfigError) as info:
        Config.from_environ(env(**{var: raw}))
    message = str(info.value)
    assert message.startswith(f"{var}={raw.strip()!r}: "), message
    assert expected in message


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_files_dir_must_not_be_a_file(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match=r"^FILES_DIR='a-file': expected a folder"):
        Config.from_environ(env(FILES_DIR="a-file"))


def test_wildcard_origin_with_credentials_is_refused():
    with pytest.raises(ConfigError, match=r"^CORS_ORIGINS='\*': .*CORS_ALLOW_CREDENTIALS"):
        Config.from_environ(env(CORS_ORIGINS="*", CORS_ALLOW_CREDENTIALS="1"))


# -- the secret key --------------------------------------------------------------

@pytest.mark.parametrize("secret, expected", [
    (None, "SECRET_KEY is missing and DEBUG is off"),
    ("changeme", "SECRET_KEY='changeme': a well-known default"),
    ("Secret", "SECRET_KEY='Secret': a well-known default"),
    ("dev-secret-key", "a well-known default"),
    ("short-but-random-9f3a", "SECRET_KEY=********: 21 characters, too short"),
    ("ab" * 20, "too short or too simple"),
])
def test_production_refuses_a_missing_default_or_weak_secret(secret, expected):
    environ = {} if secret is None else {"SECRET_KEY": secret}
    with pytest.raises(ConfigError, match=re.escape(expected)):
        Config.from_environ(environ).require_secret()


def test_a_missing_secret_is_refused_when_serving_not_when_reading():
    config = Config.from_environ({})  # webkit-app config and routes need no secret
    assert config.secret_key == ""
    with pytest.raises(ConfigError, match="SECRET_KEY is missing and DEBUG is off"):
        create_app(config)


def test_weak_secret_is_not_echoed_in_the_error():
    with pytest.raises(ConfigError) as info:
        Config.from_environ({"SECRET_KEY": "my-private-9f3a"})
    assert "my-private-9f3a" not in str(info.value)


@pytest.mark.parametrize("secret", [None, "changeme", "short"])
def test_debug_starts_without_a_strong_secret(secret):
    environ = {"DEBUG": "1"} if secret is None else {"DEBUG": "1", "SECRET_KEY": secret}
    assert Config.from_environ(environ).debug is True


def test_strong_secret_is_accepted_in_production():
    config = Config.from_environ(PROD)
    assert config.secret_key == SECRET and config.debug is False


# -- ini settings ---------------------------------------------------------------

def test_settings_bare_and_prefixed_keys():
    config = Config.from_settings({
        "webkit_app.port": "9000", "port": "1", "debug": "true",
        "webkit_app.cors_origins": "https://a.com", "pyramid.reload_templates": "true",
        "here": "/somewhere", "__file__": "/somewhere/x.ini",
    })
    assert (config.port, config.debug, config.cors_origins) == (9000, True, ("https://a.com",))
    assert config.sources["port"] == "settings"
    assert config.names["port"] == "webkit_app.port"


def test_settings_alias_for_the_users_file(tmp_path):
    (tmp_path / "u.htpasswd").write_text("")
    config = Config.from_settings({"debug": "1", "auth_users_file": str(tmp_path / "u.htpasswd")})
    assert config.htpasswd == tmp_path / "u.htpasswd"


def test_settings_error_names_the_ini_key():
    with pytest.raises(ConfigError, match=r"^webkit_app\.pool_size='many': expected an integer"):
        Config.from_settings({"debug": "1", "webkit_app.pool_size": "many"})


def test_unknown_prefixed_setting_is_a_typo():
    with pytest.raises(ConfigError, match=r"^webkit_app\.debgu: unknown setting"):
        Config.from_settings({"webkit_app.debgu": "true"})


def test_environment_wins_over_settings_and_sources_say_so():
    config = Config.from_settings(
        {"port": "9000", "log_level": "debug", "secret_key": SECRET},
        environ={"PORT": "7000", "UNRELATED": "x"},
    )
    assert (config.port, config.log_level) == (7000, "DEBUG")
    assert dict(config.sources) == {
        **{name: "default" for name in config.sources},
        "port": "environment", "log_level": "settings", "secret_key": "settings",
    }


# -- the object ------------------------------------------------------------------

def test_config_is_frozen():
    config = Config.from_environ(PROD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 1  # type: ignore[misc]


def test_direct_construction_is_checked_and_normalised():
    with pytest.raises(ConfigError, match=r"^PORT=0: expected an integer 1-65535"):
        Config(debug=True, port=0)
    config = Config(debug=True, cors_origins=["https://a.com"], max_body_size="1KiB")
    assert config.cors_origins == ("https://a.com",) and config.max_body_size == 1024


def test_masked_describe_and_repr_hide_the_secret():
    config = Config.from_environ(env(PORT="8080"))
    assert config.masked()["secret_key"] == MASK
    assert config.masked()["port"] == 8080
    text = config.describe()
    assert SECRET not in text and SECRET not in repr(config)
    assert re.search(r"^port\s+= 8080\s+\(environment PORT\)$", text, re.M)
    assert re.search(r"^host\s+= 127\.0\.0\.1\s+\(default\)$", text, re.M)
    assert len(text.splitlines()) == len(config.sources)


# -- logging ---------------------------------------------------------------------

class _Tracking(logging.Handler):
    closed = False

    def emit(self, record):  # pragma: no cover - never called
        pass

    def close(self):
        self.closed = True
        super().close()


@pytest.fixture
def restore_logging():
    names = ("webkit_app", "webkit_app.access", "host.app")
    saved = {n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers)) for n in names}
    root_handlers = list(logging.root.handlers)
    yield
    logging.root.handlers[:] = root_handlers
    for name, (level, handlers) in saved.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).handlers[:] = handlers


def test_configure_logging_sets_levels_and_leaves_host_handlers(restore_logging):
    host_handler = _Tracking()
    logging.root.addHandler(host_handler)
    host_logger = logging.getLogger("host.app")
    configure_logging(Config.from_environ(env(LOG_LEVEL="warning")))
    assert logging.getLogger("webkit_app").level == logging.WARNING
    assert logging.getLogger("webkit_app.access").level == logging.WARNING
    assert host_handler in logging.root.handlers and not host_handler.closed
    assert host_logger.disabled is False


def test_configure_logging_adds_one_handler_only_when_none_would_log(restore_logging):
    logging.root.handlers[:] = []
    logging.getLogger("webkit_app").handlers[:] = []
    config = Config.from_environ(env(LOG_LEVEL="DEBUG"))
    configure_logging(config)
    configure_logging(config)
    assert [h.get_name() for h in logging.getLogger("webkit_app").handlers] == [
        "webkit_app.default"]


def test_configure_logging_adds_nothing_when_root_has_a_handler(restore_logging):
    logging.root.addHandler(_Tracking())
    logging.getLogger("webkit_app").handlers[:] = []
    configure_logging(Config.from_environ(PROD))
    assert logging.getLogger("webkit_app").handlers == []


# -- documentation ---------------------------------------------------------------

def test_readme_documents_every_setting():
    text = README.read_text(encoding="utf-8")
    section = text.split(".. BEGIN settings", 1)[1].split(".. END settings", 1)[0]
    for field in dataclasses.fields(Config):
        if "env" in field.metadata:
            assert f"``{field.metadata['env'][0]}``" in section, field.name
            assert f"``{field.name}``" in section, field.name


def test_web_concurrency_wins_over_workers_as_in_the_deploy_files():
    """Regression: Config read WORKERS first while gunicorn.conf.py, uwsgi.ini and
    ``webkit-app serve`` read WEB_CONCURRENCY first, so `config` showed 3 workers
    where gunicorn ran 5."""
    config = Config.from_environ({"DEBUG": "1", "WEB_CONCURRENCY": "5", "WORKERS": "3"})
    assert config.workers == 5 and config.names["workers"] == "WEB_CONCURRENCY"
    gunicorn_conf = (Path(__file__).resolve().parents[1] / "deploy" / "gunicorn.conf.py")
    assert '_int("WEB_CONCURRENCY", "WORKERS"' in gunicorn_conf.read_text()


# -- LogFormatter -------------------------------------------------------------------

def _records(times):
    for t in times:
        record = logging.LogRecord("webkit_app.access", logging.INFO, __file__, 1, "hit %s",
                                   ("x",), None)
        record.created, record.msecs = t, int((t - int(t)) * 1000) + 0.0
        yield record


@pytest.mark.parametrize("fmt, datefmt", [
    ("%(asctime)s %(levelname)s [%(name)s] %(message)s", None),
    ("%(asctime)s %(message)s", "%d/%b/%Y %H:%M:%S"),
])
def test_log_formatter_writes_what_the_standard_formatter_writes(fmt, datefmt):
    from webkit_app.settings import LogFormatter

    # NOTE: records within a second, across seconds, minutes and a day, and back.
    times = [1764626592.318, 1764626592.999, 1764626593.0, 1764626593.5, 1764626659.001,
             1764662399.999, 1764662400.0, 1764626592.1]
    ours, stdlib = LogFormatter(fmt, datefmt), logging.Formatter(fmt, datefmt)
    assert [ours.format(r) for r in _records(times)] == [stdlib.format(r) for r in
                                                         _records(times)]


def test_log_formatter_follows_a_utc_converter():
    import time

    from webkit_app.settings import LogFormatter

    class Utc(LogFormatter):
        converter = time.gmtime

    class StdUtc(logging.Formatter):
        converter = time.gmtime

    (record,) = _records([1764626592.318])
    assert Utc("%(asctime)s").format(record) == StdUtc("%(asctime)s").format(record)
    assert Utc("%(asctime)s").format(record) == "2025-12-01 22:03:12,318"


@pytest.mark.parametrize("ini", ["development.ini", "production.ini"])
def test_deploy_inis_name_the_log_formatter(ini):
    import configparser

    from webkit_app.settings import LogFormatter

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(Path(__file__).parent.parent / "deploy" / ini)
    cls = logging.config.BaseConfigurator({}).resolve(parser["formatter_generic"]["class"])
    assert cls is LogFormatter
