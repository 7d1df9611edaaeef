"""The demo on real servers: gunicorn, uWSGI, waitress (``webkit-app serve``) and
Apache httpd with mod_wsgi (``mod_wsgi-express`` and the hand-written virtual
host), each started with its file in ``deploy/`` on a free loopback port, put
through one shared set of HTTP checks, then stopped with SIGTERM.

A server whose software is missing is skipped with a reason naming the
package (``make test`` installs them; with ``CI=true`` a skip fails).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from serverutil import HOST, ServerProcess, free_port, wait_for

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
IS_ROOT = os.geteuid() == 0
APACHE_USER = "www-data"
TIMEOUT = 10  # seconds, for each HTTP request
APACHE_ACCESS_FORMAT = ('%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" '
                        "rid=%{X-Request-ID}o dur_ms=%{ms}T")


@dataclass
class Launch:
    """How to start one server, where it logs, and which exit statuses are clean."""

    argv: list[str]
    env: dict[str, str]
    logs: list[Path] = field(default_factory=list)
    clean_exit: tuple[int, ...] = (0,)


@dataclass
class Site:
    """A server's scratch folder (readable by the Apache user) and its port."""

    dir: Path
    port: int = field(default_factory=free_port)
    database_url: str = ""

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment of a production server: a secret, a database here."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("DEBUG", "WEB_CONCURRENCY", "WORKERS", "BIND", "WSGI_APP")}
        env.update(
            SECRET_KEY=secrets.token_urlsafe(32), HOST=HOST, PORT=str(self.port),
            DATABASE_URL=self.database_url or f"sqlite:///{self.dir / 'db' / 'notes.sqlite3'}",
            FILES_DIR=str(self.dir / "files"), LOG_LEVEL="INFO", WEB_CONCURRENCY="2",
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env


@pytest.fixture
def site() -> Iterator[Site]:
    # NOTE: not tmp_path: pytest's temporary folders are mode 700, and the
    # Apache daemon runs as www-data; this one is traversable, its db/ writable.
    path = Path(tempfile.mkdtemp(prefix="webkit_app-server-"))
    try:
        path.chmod(0o755)
        for sub in ("db", "files"):
            (path / sub).mkdir()
            if IS_ROOT and _has_user(APACHE_USER):
                shutil.chown(path / sub, APACHE_USER, APACHE_USER)
        yield Site(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- the servers -----------------------------------------------------------------

def gunicorn(site: Site) -> Launch:
    return Launch([str(BIN / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py")], site.env())


def uwsgi(site: Site) -> Launch:
    exe = BIN / "uwsgi"
    if not exe.exists():
        pytest.skip("uWSGI is not installed in the venv (pip install uWSGI; make test does it)")
    # NOTE: uWSGI says "goodbye" and exits 0 after die-on-term.
    return Launch([str(exe), "--ini", str(DEPLOY / "uwsgi.ini")], site.env())


DEMO = "webkit_app.demo.wsgi:application"


def waitress(site: Site) -> Launch:
    argv = [sys.executable, "-m", "webkit_app", "serve", DEMO, "--host", HOST, "--port",
            str(site.port)]
    return Launch(argv, site.env())


def cli_gunicorn(site: Site) -> Launch:
    """``webkit-app serve --server gunicorn``: gunicorn through its Python API."""
    argv = [sys.executable, "-m", "webkit_app", "serve", DEMO, "--server", "gunicorn",
            "--workers", "2", "--host", HOST, "--port", str(site.port)]
    return Launch(argv, site.env())


def mod_wsgi_express(site: Site) -> Launch:
    exe = _need_mod_wsgi()
    argv = [str(exe), "start-server", str(DEPLOY / "apache" / "app.wsgi"),
            "--host", HOST, "--port", str(site.port), "--server-root", str(site.dir / "apache"),
            "--locale", "C.UTF-8", "--log-to-terminal", "--access-log",
            "--access-log-format", APACHE_ACCESS_FORMAT,
            "--processes", "1", "--threads", "5", "--startup-timeout", "30"]
    if IS_ROOT:
        argv += ["--user", APACHE_USER, "--group", APACHE_USER]
    return Launch(argv, site.env())


def apache_vhost(site: Site) -> Launch:
    """Apache httpd itself, with deploy/apache/webkit_app.conf included as is."""
    exe = _need_mod_wsgi()
    httpd = shutil.which("apache2") or shutil.which("httpd") or "/usr/sbin/apache2"
    load_wsgi = subprocess.run([str(exe), "module-config"], capture_output=True, text=True,
                               timeout=30, check=True).stdout.splitlines()[0]
    modules = _apache_modules_dir()
    user = APACHE_USER if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name
    conf = site.dir / "httpd.conf"
    conf.write_text("\n".join([
        f"ServerRoot {site.dir}", f"ServerName {HOST}", f"Listen {HOST}:{site.port}",
        f"PidFile {site.dir}/httpd.pid", f"DefaultRuntimeDir {site.dir}",
        f"ErrorLog {site.dir}/server_error.log", "LogLevel warn",
        *([f"User {user}", f"Group {user}"] if IS_ROOT else []),
        f"LoadModule mpm_event_module {modules}/mod_mpm_event.so",
        f"LoadModule authz_core_module {modules}/mod_authz_core.so",
        load_wsgi,
        # NOTE: Debian's compiled-in default, /var/run/apache2, exists only
        # once the packaged service has run.
        f"WSGISocketPrefix {site.dir}/wsgi",
        f"Define WEBKIT_APP_ROOT {ROOT}", f"Define WEBKIT_APP_VENV {sys.prefix}",
        f"Define WEBKIT_APP_PORT {site.port}", f"Define WEBKIT_APP_LOG_DIR {site.dir}",
        f"Define WEBKIT_APP_USER {user}",
        f"Include {DEPLOY / 'apache' / 'webkit_app.conf'}", "",
    ]))
    env = site.env()
    # The daemon reads its settings from an env file, as the vhost documents.
    env_file = site.dir / "env"
    env_file.write_text("".join(f"{k}={env.pop(k)}\n" for k in ("SECRET_KEY", "DATABASE_URL")))
    env_file.chmod(0o644)
    env["WEBKIT_APP_ENV_FILE"] = str(env_file)
    logs = [site.dir / name for name in ("webkit_app_access.log", "webkit_app_error.log",
                                          "server_error.log")]
    return Launch([httpd, "-f", str(conf), "-DFOREGROUND"], env, logs)


SERVERS: dict[str, Callable[[Site], Launch]] = {
    "gunicorn": gunicorn,
    "uwsgi": uwsgi,
    "waitress": waitress,
    "webkit-app-gunicorn": cli_gunicorn,
    "mod_wsgi-express": mod_wsgi_express,
    "apache-vhost": apache_vhost,
}


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _need_mod_wsgi() -> Path:
    if not (shutil.which("apache2") or shutil.which("httpd") or Path("/usr/sbin/apache2").exists()):
        pytest.skip("Apache httpd is missing: install the Debian package apache2")
    exe = BIN / "mod_wsgi-express"
    if not exe.exists():
        pytest.skip("mod_wsgi is not installed in the venv: it compiles against the Debian "
                    "package apache2-dev (make test installs both)")
    if IS_ROOT:
        _let_apache_user_run_python()
    return exe


def _apache_modules_dir() -> str:
    apxs = shutil.which("apxs") or shutil.which("apxs2")
    if apxs:
        out = subprocess.run([apxs, "-q", "LIBEXECDIR"], capture_output=True, text=True,
                             timeout=30)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return "/usr/lib/apache2/modules"


def _let_apache_user_run_python() -> None:
    """As root: let www-data reach the interpreter, the venv and the project
    (a pyenv under /root, mode 700, is out of its reach), then prove it."""
    if not _has_user(APACHE_USER):
        pytest.skip(f"no user {APACHE_USER!r} to run Apache's daemon processes as "
                    "(the Debian package apache2 creates it)")
    for top in {Path(sys.base_prefix), Path(sys.prefix), ROOT}:
        for folder in (top, *top.parents):
            mode = folder.stat().st_mode
            if not mode & 0o001:
                folder.chmod(mode | 0o001)  # search only: names are not listed
    probe = subprocess.run([sys.executable, "-c", "import webkit_app, sqlite3"],
                           user=APACHE_USER, group=APACHE_USER, capture_output=True,
                           text=True, timeout=60, cwd="/")
    assert probe.returncode == 0, (
        f"{APACHE_USER} cannot run {sys.executable}: make the Python installation and the "
        f"venv readable by it:\n{probe.stderr[-2000:]}")


# -- the checks, the same for every server ----------------------------------------

def check_http(url: str, name: str, log_text: Callable[[], str],
               database: str = "sqlite") -> None:
    """One set of HTTP checks through a real client."""
    http = requests.Session()
    res = http.get(url + "/", timeout=TIMEOUT)
    assert res.status_code == 200 and res.headers["Content-Type"].startswith("text/html")
    assert "webkit_app demo" in res.text

    rid = f"{name}-{secrets.token_hex(8)}"
    payload = {"greeting": "h\u00e9llo", "numbers": [1, 2, 3]}
    res = http.post(url + "/api/echo?x=1", json=payload, headers={"X-Request-ID": rid},
                    timeout=TIMEOUT)
    assert res.status_code == 200, res.text
    assert res.json()["json"] == payload and res.json()["method"] == "POST"
    assert res.headers.get("X-Request-ID") == rid

    with http.get(url + "/stream", stream=True, timeout=TIMEOUT) as res:
        assert res.status_code == 200
        lines = list(res.iter_lines())
    assert len(lines) == 1000 and lines[0] == b"line 0" and lines[-1] == b"line 999"

    res = http.get(url + "/no/such/page", timeout=TIMEOUT)
    assert res.status_code == 404
    res = http.delete(url + "/", timeout=TIMEOUT)
    assert res.status_code == 405 and "GET" in res.headers["Allow"]

    res = http.get(url + "/health/ready", timeout=TIMEOUT)
    assert res.status_code == 200, res.text
    assert res.headers["Content-Type"].startswith("application/health+json")
    assert res.json()["status"] == "pass"
    # NOTE: the SQLite store also checks the disk under its file; PostgreSQL's does not
    assert ("disk:free" in res.json()["checks"]) == (database == "sqlite"), res.json()

    text = f"a note through {name}"
    res = http.post(url + "/api/notes", json={"text": text}, timeout=TIMEOUT)
    assert res.status_code == 201, res.text
    res = http.get(urljoin(url + "/", res.headers["Location"]), timeout=TIMEOUT)
    assert res.status_code == 200 and res.json()["text"] == text

    # NOTE: the access-log record is written when the body is closed, which
    # may be just after the client has read it.
    assert wait_for(lambda: rid in log_text(), timeout=10), (
        f"no access-log line with request id {rid}:\n{log_text()[-3000:]}")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", list(SERVERS))
def test_server(name: str, database: str, site: Site, request: pytest.FixtureRequest) -> None:
    """Every deploy file serves the demo, on SQLite and on PostgreSQL."""
    if database == "postgresql":
        site.database_url = request.getfixturevalue("pg_url")
    launch = SERVERS[name](site)
    out = site.dir / "server.out"

    def log_text() -> str:
        return "".join(p.read_text(errors="replace") for p in [out, *launch.logs] if p.exists())

    started = time.monotonic()
    with ServerProcess(launch.argv, log=out, env=launch.env, cwd=site.dir) as server:
        server.wait_ready(site.url + "/health/live")
        check_http(site.url, name, log_text, database)
        code = server.terminate()
        assert code in launch.clean_exit, (
            f"{name} exited with {code} on SIGTERM, expected {launch.clean_exit}:\n"
            f"{log_text()[-3000:]}")
        assert wait_for(lambda: not server.group_alive(), timeout=15), (
            f"{name}: processes left after the main one exited")
    assert time.monotonic() - started < 120


# -- deploy/gunicorn.conf.py reads the environment --------------------------------------

def gunicorn_config(tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``gunicorn --print-config`` with deploy/gunicorn.conf.py (the app is
    preloaded, so it is built too: in debug mode, with a database in ``tmp``)."""
    environ = {k: v for k, v in os.environ.items()
               if k not in ("PORT", "HOST", "BIND", "WEB_CONCURRENCY", "WORKERS", "PRELOAD")}
    return subprocess.run([str(BIN / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py"),
                           "--print-config"], capture_output=True, text=True, timeout=60,
                          env={**environ, "DEBUG": "1", "FILES_DIR": str(tmp),
                               "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3", **env}, cwd=tmp)


def printed(output: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in output.splitlines() if " = " in line)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, {"bind": "['127.0.0.1:8000']", "workers": "2", "preload_app": "True",
          "accesslog": "-", "max_requests": "1000", "control_socket_disable": "True"}),
    ({"PORT": "9999", "HOST": "0.0.0.0", "WORKERS": "3"},
     {"bind": "['0.0.0.0:9999']", "workers": "3"}),
    ({"WEB_CONCURRENCY": "5", "WORKERS": "3", "PRELOAD": "off", "ACCESS_LOG": ""},
     {"workers": "5", "preload_app": "False", "accesslog": "None"}),
    ({"BIND": "unix:/run/app.sock", "PORT": "1"}, {"bind": "['unix:/run/app.sock']"}),
])
def test_gunicorn_conf_reads_the_environment(tmp_path: Path, env: dict[str, str],
                                             expected: dict[str, str]) -> None:
    proc = gunicorn_config(tmp_path, **env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    values = {k.strip(): v.strip() for k, v in printed(proc.stdout).items()}
    for key, value in expected.items():
        assert values[key] == value, key
    assert "rid=%({x-request-id}o)s dur_ms=%(M)s" in values["access_log_format"]


@pytest.mark.parametrize(("name", "value"), [("PORT", "abc"), ("PORT", "70000"),
                                             ("WEB_CONCURRENCY", "0"), ("PRELOAD", "maybe")])
def test_gunicorn_conf_refuses_a_bad_value_naming_it(tmp_path: Path, name: str,
                                                     value: str) -> None:
    proc = gunicorn_config(tmp_path, **{name: value})
    assert proc.returncode != 0
    assert f"{name}={value!r}: expected" in proc.stdout + proc.stderr


# -- webkit-app serve --reload ------------------------------------------------------

HANDLER = '''\
from webkit_app import App, text_response

app = App()


@app.route("/")
def hello(request):
    return text_response("{text}\\n")
'''


def test_serve_reload_restarts_after_a_handler_changes(tmp_path: Path) -> None:
    module = tmp_path / "reload_target.py"
    module.write_text(HANDLER.format(text="version 1"))
    port = free_port()
    url = f"http://{HOST}:{port}/"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [sys.executable, "-m", "webkit_app", "serve", "reload_target:app", "--reload",
            "--host", HOST, "--port", str(port)]

    def body() -> str | None:
        try:
            return requests.get(url, timeout=2).text
        except requests.RequestException:
            return None

    with ServerProcess(argv, log=tmp_path / "out.log", env=env, cwd=tmp_path) as server:
        server.wait_ready(url)
        assert body() == "version 1\n"
        mtime = module.stat().st_mtime
        module.write_text(HANDLER.format(text="version 2"))
        # NOTE: the reloader records a file's mtime when it first sees the
        # module, up to a couple of seconds after the import; a change made
        # before that goes unnoticed. So bump the mtime again each second
        # until the new handler answers: a user keeps saving the same way.
        deadline = time.monotonic() + 30
        for bump in range(1, 100):
            os.utime(module, (mtime + bump, mtime + bump))
            if wait_for(lambda: body() == "version 2\n", timeout=1.0, interval=0.2):
                break
            assert time.monotonic() < deadline, f"no reload within 30 s:\n{server.output[-3000:]}"
        assert "reloading" in server.output
        assert server.terminate() == 0, server.output[-3000:]
        assert wait_for(lambda: not server.group_alive(), timeout=15)


def test_serve_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    """Ctrl-C in a terminal: waitress stops and ``webkit-app serve`` exits 0."""
    port = free_port()
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    argv = [sys.executable, "-m", "webkit_app", "serve", DEMO, "--host", HOST, "--port", str(port)]
    with ServerProcess(argv, log=tmp_path / "out.log", env=env, cwd=tmp_path) as server:
        server.wait_ready(f"http://{HOST}:{port}/health/live")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(15) == 0, server.output[-3000:]
