"""deploy/nginx/ and ``make cluster`` (deploy/cluster.py), with the real nginx and PostgreSQL.

The site configuration is rendered with test ports and checked by ``nginx -t``;
the cluster script is run as ``make cluster`` runs it: it starts, a request
goes through nginx, SIGINT stops it, and nothing it started is left.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from pg_util import load_cluster, new_workdir, postgres_available
from serverutil import free_port

from webkit_app.demo import Config

ROOT = load_cluster().ROOT
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

needs_nginx = pytest.mark.skipif(not os.path.exists(NGINX),
                                 reason="nginx is not installed (apt-get install nginx)")


@pytest.fixture
def workdir():
    path = new_workdir("webkit-cluster-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def rendered(workdir, ports=(8001, 8002, 8003), listen=8080):
    cluster = load_cluster()
    max_body = Config.from_environ({"DEBUG": "1"}).max_body_size
    return cluster.render_nginx(workdir / "nginx", list(ports), listen, max_body)


@needs_nginx
def test_nginx_t_accepts_the_rendered_site(workdir):
    conf = rendered(workdir, ports=(free_port(), free_port(), free_port()), listen=free_port())
    done = subprocess.run(load_cluster().nginx_argv(conf, "-t"), capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def _directives(text):
    """``name -> [arguments]`` of every directive, comments left out."""
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip().rstrip(";")
        if line and not line.endswith(("{", "}")):
            name, _, args = line.partition(" ")
            found.setdefault(name, []).append(args.strip())
    return found


def test_site_limits_match_the_app_and_post_is_never_sent_twice(workdir):
    conf = rendered(workdir)
    site = _directives((conf.parent / "webkit_app.conf").read_text())
    assert site["client_max_body_size"] == [str(Config.from_environ({"DEBUG": "1"})
                                                .max_body_size)]
    assert site["server"] == [f"127.0.0.1:{p} max_fails=1 fail_timeout=3s"
                              for p in (8001, 8002, 8003)]
    assert site["keepalive"] and site["proxy_http_version"] == ["1.1"]
    # NOTE: without non_idempotent nginx never passes a POST on once it was sent.
    assert site["proxy_next_upstream"] == ["error timeout http_502"]
    assert site["proxy_set_header"] == ['Connection ""', "Host $host",
                                        "X-Forwarded-For $proxy_add_x_forwarded_for",
                                        "X-Forwarded-Proto $scheme"]
    assert site["proxy_buffering"] == ["on", "off"]  # on; off in the export's location
    export = (conf.parent / "webkit_app.conf").read_text().split("location = /api/notes/export")
    assert len(export) == 2 and "proxy_buffering off" in export[1].split("}")[0]


def _listening(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes_under(path):
    """Pids whose command line names ``path`` (postgres -D, nginx -p)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(path).encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            continue
    return pids


@needs_nginx
@pytest.mark.server
@pytest.mark.slow
@pytest.mark.timeout(150)
def test_make_cluster_starts_serves_and_stops_everything_on_ctrl_c(workdir):
    reason = postgres_available()
    if reason is not None:
        pytest.skip(reason)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "deploy/cluster.py", "--instances", "2",
                             "--workers", "1", "--port", str(port), "--workdir", str(workdir)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()  # NOTE: printed once everything answers
        match = re.search(r"(http://127\.0\.0\.1:\d+)/ +\(2 instances on ports (\d+), (\d+), "
                          r"PostgreSQL on (\d+)", line)
        assert match, line + proc.stdout.read(4000) if proc.poll() is not None else line
        url, ports = match.group(1), [int(g) for g in match.groups()[1:]]
        assert url == f"http://127.0.0.1:{port}"
        created = requests.post(f"{url}/api/notes", json={"text": "via nginx"}, timeout=10)
        assert created.status_code == 201, created.text
        note = requests.get(f"{url}{created.json()['url']}", timeout=10)
        assert note.json()["text"] == "via nginx" and note.headers["Server"].startswith("nginx")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert out.splitlines()[-1] == "stopped"
    time.sleep(0.5)
    assert [p for p in [port, *ports] if _listening(p)] == []
    assert _processes_under(workdir) == []
