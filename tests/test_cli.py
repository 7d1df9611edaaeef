"""``webkit-app``: argument errors, loading apps (import errors, factories,
PasteDeploy files, middleware-wrapped apps), ``routes``, ``config``,
``check``, and ``python -m webkit_app`` as a real process."""

from __future__ import annotations

import io
import itertools
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from webkit_app.cli import main

CONFIG_VARIABLES = ("DEBUG", "SECRET_KEY", "PORT", "HOST", "WORKERS", "WEB_CONCURRENCY",
                    "DATABASE_URL", "LOG_LEVEL", "FILES_DIR", "HTPASSWD", "AUTH_USERS_FILE",
                    "CORS_ORIGINS", "ALLOWED_HOSTS")
SECRET = "s3cr3t-" + "x7Kq9Lm2Np4Rt6Vw8Yz1Ab3Cd5Ef"
ROOT = Path(__file__).resolve().parents[1]
_names = itertools.count()


class Run:
    """The outcome of one ``main(argv)`` call."""

    def __init__(self, status: int, out: str, err: str) -> None:
        self.status, self.out, self.err = status, out, err


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    monkeypatch.setenv("FILES_DIR", str(tmp_path))
    # NOTE: load_app may put the working directory on sys.path; undo it.
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    def run(*argv: str) -> Run:
        out = io.StringIO()
        status = main(list(argv), out=out)
        captured = capsys.readouterr()
        return Run(status, out.getvalue() + captured.out, captured.err)

    return run


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a module with a unique name into tmp_path (on sys.path); return its name."""
    def write(source: str) -> str:
        name = f"cli_target_{os.getpid()}_{next(_names)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.delitem(sys.modules, name, raising=False)
        return name

    yield write
    for name in [m for m in sys.modules if m.startswith("cli_target_")]:
        del sys.modules[name]


def table(text: str) -> list[list[str]]:
    """The rows of a ``routes`` table, split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


APP_SOURCE = """
    from webkit_app import App, text_response

    app = App()

    @app.route("/hello/{name}", methods=["GET", "POST"], name="hello")
    def hello(request):
        return text_response("hello")

    @app.route("/plain")
    def plain(request):
        return text_response("plain")

    def factory():
        return app

    def paste_factory(global_config, **settings):
        return app
"""


# -- arguments ---------------------------------------------------------------------

def test_help_lists_the_commands(cli) -> None:
    res = cli("--help")
    assert res.status == 0
    for command in ("serve", "routes", "config", "check"):
        assert command in res.out


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["serve", "--port", "abc"],
    ["serve", "--port", "70000"],
    ["serve", "--port", "-1"],
    ["serve", "--server", "nginx"],
    ["serve", "--workers", "0"],
    ["serve", "--nope"],
    ["routes", "one", "two"],
    ["routes", "not a module"],
    ["routes", "mod:attr:extra"],
    ["routes", "--call", "config:deploy/x.ini"],
    ["config", "--nope"],
])
def test_bad_arguments_print_usage_and_exit_2(cli, argv: list[str]) -> None:
    res = cli(*argv)
    assert res.status == 2
    assert res.err.startswith("usage: webkit-app")
    assert "error:" in res.err and "Traceback" not in res.err


# -- loading apps ----------------------------------------------------------------------

@pytest.mark.parametrize(("source", "attr", "expected"), [
    ("x = 1\n", "missing", "has no attribute 'missing'"),
    ("raise RuntimeError('boom at import')\n", "app", "RuntimeError: boom at import"),
    ("def broken(:\n", "app", "SyntaxError"),
    ("import no_such_dependency_xyz\n", "app", "No module named 'no_such_dependency_xyz'"),
    ("app = 42\n", "app", "is a int, not a WSGI application"),
])
def test_an_app_that_cannot_be_loaded_is_named_without_traceback(
        cli, module, source: str, attr: str, expected: str) -> None:
    name = module(source)
    res = cli("routes", f"{name}:{attr}")
    assert res.status == 1
    assert name in res.err and expected in res.err
    assert "Traceback" not in res.err and res.err.count("\n") == 1


def test_a_missing_module_is_named(cli) -> None:
    res = cli("routes", "no_such_module_xyz.sub:app")
    assert res.status == 1
    assert res.err == ("webkit-app: error: cannot import module 'no_such_module_xyz.sub' "
                       "(for no_such_module_xyz.sub:app): No module named 'no_such_module_xyz'\n")


def test_an_error_raised_at_import_says_where(cli, module, tmp_path: Path) -> None:
    name = module("x = 1\nraise ValueError('bad value')\n")
    res = cli("routes", f"{name}:app")
    assert res.status == 1
    assert f"({tmp_path / name}.py:2)" in res.err


# -- routes ------------------------------------------------------------------------------

DEMO = "webkit_app.demo.wsgi:application"


def test_routes_of_the_demo(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "1")
    res = cli("routes", DEMO)
    assert res.status == 0, res.err
    rows = table(res.out)
    assert rows[0] == ["Name", "Methods", "Pattern", "Handler"]
    assert set("".join(rows[1])) == {"-"}
    assert ["echo", "GET,POST,PUT,PATCH,DELETE", "/api/echo",
            "webkit_app.demo.views.echo"] in rows
    patterns = {row[2] for row in rows[2:]}
    assert {"/", "/users/{id:int}", "/stream", "/api/notes", "/health/ready"} <= patterns


@pytest.mark.parametrize("spec", ["{m}:app", "{m}:wrapped", "{m}:webob_wrapped", "{m}"])
def test_routes_finds_the_app_inside_middleware(cli, module, spec: str) -> None:
    name = module(APP_SOURCE + """
    from webob.dec import wsgify
    from webkit_app.middleware import access_log, errors, request_id, stack

    wrapped = stack(app, request_id, access_log, errors)

    @wsgify.middleware
    def passthrough(req, app):
        return app

    webob_wrapped = passthrough(wrapped)
    application = webob_wrapped
    """)
    res = cli("routes", spec.format(m=name))
    assert res.status == 0, res.err
    rows = table(res.out)
    assert rows[2:] == [["hello", "GET,POST", "/hello/{name}", f"{name}.hello"],
                        ["-", "GET", "/plain", f"{name}.plain"]]


def test_routes_calls_a_factory(cli, module) -> None:
    name = module(APP_SOURCE)
    res = cli("routes", "--call", f"{name}:factory")
    assert res.status == 0, res.err
    assert "/hello/{name}" in res.out


def test_routes_loads_a_pastedeploy_file(cli, module, tmp_path: Path) -> None:
    name = module(APP_SOURCE)
    ini = tmp_path / "app.ini"
    ini.write_text(f"[app:web]\nuse = call:{name}:paste_factory\n")
    for spec in (f"config:{ini}#web", f"{ini}#web"):
        res = cli("routes", spec)
        assert res.status == 0, res.err
        assert "/plain" in res.out


def test_routes_of_a_plain_wsgi_app_is_an_error(cli, module) -> None:
    name = module("def app(environ, start_response):\n    return []\n")
    res = cli("routes", f"{name}:app")
    assert res.status == 1
    assert "no webkit_app.App found" in res.err


def test_a_missing_pastedeploy_file_is_named(cli, tmp_path: Path) -> None:
    res = cli("routes", f"config:{tmp_path}/nothing.ini#main")
    assert res.status == 1
    assert "nothing.ini" in res.err and "Traceback" not in res.err


# -- config ------------------------------------------------------------------------------

def settings(text: str) -> dict[str, tuple[str, str]]:
    """``name -> (value, source)`` from ``webkit-app config`` output."""
    rows = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)\s+= (.*?)\s+\((.*)\)", line)
        assert match, line
        rows[match[1]] = (match[2], match[3])
    return rows


def test_config_shows_values_sources_and_masks_secrets(cli, monkeypatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("SECRET_KEY", SECRET)
    res = cli("config")
    assert res.status == 0, res.err
    rows = settings(res.out)
    assert rows["port"] == ("8080", "environment PORT")
    assert rows["workers"] == ("2", "default")
    assert rows["secret_key"] == ("********", "environment SECRET_KEY")
    assert SECRET not in res.out


def test_config_reads_an_ini_file_and_the_environment_wins(cli, monkeypatch,
                                                           tmp_path: Path) -> None:
    ini = tmp_path / "prod.ini"
    ini.write_text("[app:main]\nuse = egg:webkit_app\nport = 9000\nwebkit_app.workers = 3\n"
                   "debug = true\nhost = 127.0.0.2\n")
    monkeypatch.setenv("HOST", "127.0.0.3")
    res = cli("config", str(ini))
    assert res.status == 0, res.err
    rows = settings(res.out)
    assert rows["port"] == ("9000", f"file {ini} port")
    assert rows["workers"] == ("3", f"file {ini} webkit_app.workers")
    assert rows["host"] == ("127.0.0.3", "environment HOST")


@pytest.mark.parametrize(("ini", "debug"), [("development.ini", "True"),
                                             ("production.ini", "False")])
def test_config_and_check_follow_a_pipeline_to_its_app_section(cli, monkeypatch, ini,
                                                               debug) -> None:
    """Regression: both deploy inis name a [pipeline:main]; its settings were the
    [DEFAULT] values only, so check refused development.ini for want of a secret."""
    path = ROOT / "deploy" / ini
    if ini == "production.ini":  # its secret and password file come from the environment
        monkeypatch.setenv("SECRET_KEY", SECRET)
        monkeypatch.setenv("HTPASSWD", str(ROOT / "deploy" / "development.htpasswd"))
    res = cli("config", "--settings", "webkit_app.demo:Config", str(path))
    assert res.status == 0, res.err
    assert settings(res.out)["debug"] == (debug, f"file {path} webkit_app.debug")
    if ini == "development.ini":  # production.ini's filter needs its /etc password file
        res = cli("check", "--settings", "webkit_app.demo:Config", f"config:{path}")
        assert res.status == 0, res.err
        assert "configuration: ok" in res.out


@pytest.mark.parametrize(("env", "commands", "named"), [
    pytest.param({}, (("check", DEMO),), "SECRET_KEY", id="no-secret"),
    pytest.param({"DEBUG": "1", "PORT": "abc"}, (("config",), ("check", DEMO)), "PORT",
                 id="bad-port"),
    pytest.param({"DEBUG": "maybe"}, (("config",), ("check", DEMO)), "DEBUG", id="bad-debug"),
])
def test_a_bad_configuration_is_one_line_and_exit_1(cli, monkeypatch, env, commands,
                                                    named) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for command in commands:
        res = cli(*command, "--settings", "webkit_app.demo:Config")
        assert res.status == 1
        assert res.err.startswith("webkit-app: error: configuration: ")
        assert named in res.err and res.err.count("\n") == 1


# -- check, serve ------------------------------------------------------------------------

def test_check_passes_for_the_demo_in_production_mode(cli, monkeypatch) -> None:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    res = cli("check", DEMO, "--settings", "webkit_app.demo:Config")
    assert res.status == 0, res.err
    assert "configuration: ok" in res.out
    assert re.search(r"application: ok, webkit_app.demo.wsgi:application \(\d+ routes\)", res.out)


def test_check_reads_the_settings_of_a_pastedeploy_file(cli, module, tmp_path: Path) -> None:
    name = module(APP_SOURCE)
    ini = tmp_path / "dev.ini"
    ini.write_text(f"[app:main]\nuse = call:{name}:paste_factory\ndebug = true\n")
    res = cli("check", f"config:{ini}#main")
    assert res.status == 0, res.err  # no SECRET_KEY needed: debug from the file
    assert "(2 routes)" in res.out
    ini.write_text(f"[app:main]\nuse = call:{name}:paste_factory\nport = 0\ndebug = true\n")
    res = cli("check", f"config:{ini}#main")
    assert res.status == 1 and "port" in res.err


def test_check_fails_for_an_app_that_cannot_be_imported(cli, monkeypatch) -> None:
    monkeypatch.setenv("DEBUG", "1")
    res = cli("check", "no_such_module_xyz:app")
    assert res.status == 1
    assert "no_such_module_xyz" in res.err


def test_check_accepts_a_wsgi_callable_that_is_not_an_app(cli, monkeypatch, module) -> None:
    monkeypatch.setenv("DEBUG", "1")
    name = module("def app(environ, start_response):\n    return []\n")
    res = cli("check", f"{name}:app")
    assert res.status == 0, res.err
    assert "(a WSGI callable)" in res.out


@pytest.mark.parametrize(("variable", "value"), [("PORT", "abc"), ("PORT", "0"),
                                                 ("WEB_CONCURRENCY", "many")])
def test_serve_refuses_a_bad_environment_before_starting(cli, monkeypatch, variable,
                                                         value) -> None:
    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.setenv(variable, value)
    res = cli("serve", "--server", "gunicorn", "no_such_module_xyz:app")
    assert res.status == 1
    assert f"{variable}={value!r}" in res.err


def test_serve_reports_an_app_that_cannot_be_imported(cli) -> None:
    res = cli("serve", "no_such_module_xyz:app", "--port", "1")
    assert res.status == 1
    assert "cannot import module 'no_such_module_xyz'" in res.err


# -- as a process ----------------------------------------------------------------------------

def run_module(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    return subprocess.run([sys.executable, "-m", "webkit_app", *argv], capture_output=True,
                          text=True, timeout=60, env={**environ, **env})


def test_python_m_webkit_app_routes(tmp_path: Path) -> None:
    proc = run_module("routes", DEMO, DEBUG="1",
                      DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert proc.returncode == 0, proc.stderr
    assert table(proc.stdout)[0] == ["Name", "Methods", "Pattern", "Handler"]
    assert "/api/echo" in proc.stdout


def test_python_m_webkit_app_without_a_command_is_a_usage_error() -> None:
    proc = run_module()
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: webkit-app") and proc.stdout == ""


def test_python_m_webkit_app_names_an_unimportable_app_without_traceback() -> None:
    proc = run_module("check", "no_such_module_xyz:app", DEBUG="1")
    assert proc.returncode == 1
    assert proc.stderr.startswith("webkit-app: error: cannot import module 'no_such_module_xyz'")
    assert "Traceback" not in proc.stderr


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "webkit-app"
    if not script.exists():
        pytest.skip("the webkit-app console script is not installed (pip install -e .)")
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "serve" in proc.stdout


def test_serve_in_production_without_a_secret_stops_with_one_line() -> None:
    proc = run_module("serve", DEMO, "--port", "1")
    assert proc.returncode == 1
    assert proc.stderr.startswith("webkit-app: error: importing module 'webkit_app.demo.wsgi' "
                                  "failed: configuration: SECRET_KEY")
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


# -- the CLI as a user meets it ----------------------------------------------------------

def test_routes_and_config_need_no_secret(cli, monkeypatch, module) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DEBUG", raising=False)
    name = module(APP_SOURCE)
    res = cli("routes", f"{name}:app")
    assert res.status == 0, res.err
    res = cli("routes", "--call", "webkit_app.demo:make_demo")
    assert res.status == 0, res.err and "/api/echo" in res.out
    res = cli("config", "--settings", "webkit_app.demo:Config")
    assert res.status == 0, res.err
    assert settings(res.out)["secret_key"][0] == ""


def test_routes_of_a_factory_without_call_suggests_call(cli) -> None:
    res = cli("routes", "webkit_app.demo:make_demo")
    assert res.status == 1
    assert res.err.startswith("webkit-app: error: no webkit_app.App found in "
                              "webkit_app.demo:make_demo")
    assert "add --call" in res.err and res.err.count("\n") == 1


def test_an_app_is_required(cli) -> None:
    res = cli("routes")
    assert res.status == 2
    assert "APP is required" in res.err and DEMO in res.err


def test_routes_into_a_closed_pipe_prints_no_traceback(tmp_path: Path) -> None:
    # NOTE: more than a pipe buffer (64 KiB) of rows, so the write after head exits fails
    (tmp_path / "many_routes.py").write_text(textwrap.dedent("""
        from webkit_app import App, text_response
        app = App()
        for i in range(3000):
            app.add_route("GET", f"/a/long/path/number/{i}/x", lambda r: text_response("x"),
                          name=f"route_{i}")
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    script = f"{sys.executable} -m webkit_app routes many_routes:app | head -2"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True,
                          text=True, timeout=60, env=env, cwd=tmp_path)
    assert len(proc.stdout.splitlines()) == 2
    assert proc.stderr == ""
