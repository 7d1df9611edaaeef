"""The demo scaled out on one machine: PostgreSQL, N gunicorn instances, nginx.

``make cluster`` runs it; Ctrl-C (or SIGTERM) stops everything it started::

    python deploy/cluster.py                       # 3 instances, http://127.0.0.1:8080/
    python deploy/cluster.py --instances 2 --port 9000 --workdir /tmp/cluster

PostgreSQL's data, the instances' and nginx's logs live in one work folder
(a new temporary one unless ``--workdir``); PostgreSQL refuses to run as
root, so when run as root it runs as the ``postgres`` user, in a folder that
user owns. Everything listens on 127.0.0.1 only. The pieces
(:class:`Postgres`, :func:`render_nginx`, :class:`Cluster`) are what the
tests start too (``tests/pg_util.py``).
"""

from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

HOST = "127.0.0.1"
DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _as_root() -> bool:
    return os.geteuid() == 0


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers any HTTP status; fail if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


# -- PostgreSQL --------------------------------------------------------------------


def pg_bin() -> Path:
    """The newest Debian PostgreSQL's bin folder (``/usr/lib/postgresql/N/bin``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return Path(found[-1]).parent


class Postgres:
    """A PostgreSQL server of its own in ``base``, on ``127.0.0.1:port``.

    Password authentication (scram-sha-256) for the user ``webkit``, no Unix
    socket; ``durable=False`` turns fsync off (tests)::

        pg = Postgres(Path("/tmp/pg"), free_port())
        pg.start()
        pg.create_database("notes")
        pg.url("notes")      # 'postgresql://webkit:...@127.0.0.1:PORT/notes'
        pg.stop()
    """

    user = "webkit"

    def __init__(self, base: Path, port: int, *, durable: bool = True,
                 max_connections: int = 100) -> None:
        self.base, self.port, self.durable = base, port, durable
        self.max_connections = max_connections
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.bin = pg_bin()
        self.password = secrets.token_urlsafe(16)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{HOST}:{self.port}/{dbname}"

    def _run(self, *argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in argv]
        if _as_root():  # NOTE: PostgreSQL refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120,
                              cwd="/")

    def _make_base(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)  # NOTE: mkdtemp's 0700 would keep the postgres user out
        if _as_root():
            shutil.chown(self.base, "postgres", "postgres")

    def init(self) -> None:
        """Create the cluster (once), with the password of :attr:`password`."""
        self._make_base()
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if _as_root():
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-U", self.user, "--pwfile", pwfile,
                  "-A", "scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions")
        pwfile.unlink()
        settings = {"listen_addresses": f"'{HOST}'", "port": str(self.port),
                    "unix_socket_directories": "''",
                    "max_connections": str(self.max_connections)}
        if not self.durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        """Start the server (initialising it first if needed); wait until it accepts."""
        if not (self.data / "PG_VERSION").exists():
            self.init()
        done = self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                         "start", check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}\n"
                               f"{self.log.read_text(errors='replace')[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions are ended); nothing if it is not running."""
        if (self.data / "postmaster.pid").exists():
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60",
                      "stop", check=False)

    def running(self) -> bool:
        return self._run(self.bin / "pg_ctl", "-D", self.data, "status",
                         check=False).returncode == 0

    def create_database(self, name: str) -> str:
        """Create the database ``name``; return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # NOTE: a name of ours, not input
        return self.url(name)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


# -- nginx ---------------------------------------------------------------------------


def render_site(ports: Sequence[int], listen: str, max_body_size: int,
                server_name: str = "localhost") -> str:
    """``deploy/nginx/webkit_app.conf`` for instances on ``ports``."""
    servers = "".join(f"    server {HOST}:{port} max_fails=1 fail_timeout=3s;\n"
                      for port in ports)
    values = {"@SERVERS@\n": servers, "@LISTEN@": listen, "@SERVER_NAME@": server_name,
              "@MAX_BODY_SIZE@": str(max_body_size)}
    text = (DEPLOY / "nginx" / "webkit_app.conf").read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def render_nginx(prefix: Path, ports: Sequence[int], listen_port: int,
                 max_body_size: int) -> Path:
    """Write nginx.conf and webkit_app.conf into ``prefix``; return nginx.conf's path.

    Run it with ``nginx -p PREFIX -c PREFIX/nginx.conf`` (``-t`` to check it).
    """
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    site = render_site(ports, f"{HOST}:{listen_port}", max_body_size)
    (prefix / "webkit_app.conf").write_text(site)
    # NOTE: started as root, nginx's workers run as nobody: they must reach the folder.
    user = "user nobody nogroup;" if _as_root() else ""
    main = (DEPLOY / "nginx" / "nginx.conf").read_text().replace("@USER@", user)
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    if _as_root():
        prefix.chmod(0o755)
        shutil.chown(prefix / "tmp", "nobody", "nogroup")
    return conf


def nginx_argv(conf: Path, *extra: str) -> list[str]:
    """The command that runs (or, with ``-t``, checks) the configuration ``conf``."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return [nginx, "-e", "stderr", "-p", f"{conf.parent}/", "-c", str(conf), *extra]


# -- the cluster -------------------------------------------------------------------


class Cluster:
    """PostgreSQL, ``instances`` gunicorn instances of the demo and nginx in front.

    ::

        with Cluster(Path("/tmp/c"), instances=3, port=8080) as cluster:
            cluster.url      # 'http://127.0.0.1:8080'
            cluster.kill(0)  # SIGKILL instance 0; cluster.start_instance(0) brings it back
    """

    def __init__(self, workdir: Path, *, instances: int = 3, port: int = 8080,
                 workers: int = 2, env: Mapping[str, str] | None = None,
                 durable: bool = True) -> None:
        self.workdir = workdir
        self.port = port
        self.workers = workers
        self.extra_env = dict(env or {})
        self.postgres = Postgres(workdir / "postgres", free_port(), durable=durable)
        self.ports = [free_port() for _ in range(instances)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.database_url = ""

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def instance_env(self, port: int) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": self.database_url, "PORT": str(port),
               "HOST": HOST, "WEB_CONCURRENCY": str(self.workers),
               "SECRET_KEY": self.secret, "TRUSTED_PROXIES": HOST,
               "FILES_DIR": str(self.workdir / "files"), "POOL_SIZE": "4",
               "POOL_TIMEOUT": "3", "LOG_HEALTH_CHECKS": "0", "ACCESS_LOG": "",
               # NOTE: gthread workers: requests waiting on the database (an
               # outage) must not hold every worker, or /health/ready, queued
               # behind them, would answer only after the database is back.
               "THREADS": "4",
               "PYTHONPATH": str(ROOT), **self.extra_env}
        return env

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        with open(self.workdir / f"{name}.log", "ab") as log:  # NOTE: the child keeps its copy
            self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                                                start_new_session=True)

    def start_instance(self, index: int) -> None:
        """Start (or start again) gunicorn instance ``index``; wait until it answers."""
        port = self.ports[index]
        self._spawn(f"instance{index}", [sys.executable, "-m", "gunicorn", "-c",
                                         str(DEPLOY / "gunicorn.conf.py")],
                    self.instance_env(port))
        _wait_http(f"http://{HOST}:{port}/health/live", START_TIMEOUT,
                   self.procs[f"instance{index}"])

    def kill(self, index: int) -> None:
        """SIGKILL instance ``index``: its master and workers, no goodbye."""
        self._signal(f"instance{index}", signal.SIGKILL)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # NOTE: the postgres and nobody users pass through it
        (self.workdir / "files").mkdir(exist_ok=True)
        self.secret = secrets.token_urlsafe(32)
        self.postgres.start()
        self.database_url = self.postgres.create_database("notes")
        for index in range(len(self.ports)):
            self.start_instance(index)
        from webkit_app.demo.config import Config

        max_body = Config.from_environ(self.instance_env(self.ports[0])).max_body_size
        conf = render_nginx(self.workdir / "nginx", self.ports, self.port, max_body)
        self._spawn("nginx", nginx_argv(conf))
        _wait_http(f"{self.url}/health/live", START_TIMEOUT, self.procs["nginx"])

    def _signal(self, name: str, signum: int) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            return

    def stop(self) -> None:
        """Stop nginx, the instances and PostgreSQL; kill what does not stop in 15 s."""
        for name in self.procs:
            self._signal(name, signal.SIGTERM if name != "nginx" else signal.SIGQUIT)
        deadline = time.monotonic() + 15
        for name, proc in self.procs.items():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(name, signal.SIGKILL)
                proc.wait(5)
        self.postgres.stop()

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1")
    parser.add_argument("--workdir", type=Path, help="data and logs (default: a temp folder)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="webkit-cluster-"))
    stop = False

    def interrupted(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    cluster = Cluster(workdir.resolve(), instances=args.instances, port=args.port,
                      workers=args.workers)
    with cluster:
        print(f"webkit_app cluster: {cluster.url}/  ({args.instances} instances on ports "
              f"{', '.join(map(str, cluster.ports))}, PostgreSQL on {cluster.postgres.port}, "
              f"logs in {workdir}); Ctrl-C stops it", flush=True)
        while not stop:
            time.sleep(0.2)
        print("stopping...", flush=True)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
