"""The real-server figures: gunicorn under ``wrk``, and peak RSS through waitress.

Every server runs on a free loopback port in a session of its own; waits are
bounded and the whole process group is killed in ``finally``::

    gunicorn_rps(("raw", "webkit_app"))  # {"raw": {"rps": ..., "cpu_us": ...}, ...}
    peak_rss("stream")            # {"baseline_kib": ..., "peak_kib": ..., ...}
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .memapp import CHUNK

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
WRK_ARGS = ("-t2", "-c16")
STREAM_SIZE = 1024 ** 3          # 1 GiB
UPLOAD_SIZE = 200 * 1024 ** 2    # 200 MiB
BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"
TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """A server process in its own session, output in a temporary file."""

    def __init__(self, argv: list[str], port: int) -> None:
        self.argv, self.port = argv, port
        self.log = tempfile.TemporaryFile()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN")}
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        finally:
            self.log.close()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:].decode(errors="replace")

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        """Wait until ``path`` answers 200; fail early if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited ({self.proc.returncode}):\n"
                                   f"{self.output()}")
            try:
                status, _ = request(self.port, "GET", path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.argv[0]} did not answer {path} in {timeout} s:\n{self.output()}")


def request(port: int, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request; the response body is read in chunks, only its head kept."""
    conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        head, total = b"", 0
        while chunk := resp.read(CHUNK):
            total += len(chunk)
            if len(head) < 4096:
                head += chunk[:4096]
        return resp.status, head if total <= 4096 else str(total).encode()
    finally:
        conn.close()


# -- gunicorn under wrk ---------------------------------------------------------

def tools_missing() -> str | None:
    """Why the gunicorn run cannot happen here, or ``None``."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (apt-get install wrk)"
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return "gunicorn is not installed (pip install -e '.[bench]')"
    return None


def _wrk(port: int, path: str, seconds: int) -> dict[str, Any]:
    argv = ["wrk", *WRK_ARGS, f"-d{seconds}s", f"http://{HOST}:{port}{path}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30,
                         check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    if rps is None or done is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": float(rps.group(1)), "requests": int(done.group(1)),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(0) if errors else ""}


def _workers(server: Server) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True,
                         timeout=10).stdout.split()
    if not out:
        raise RuntimeError(f"gunicorn has no workers:\n{server.output()}")
    return [int(pid) for pid in out]


def _cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used (``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def _gunicorn(subject: str) -> Server:
    """gunicorn with 2 sync workers serving ``subject`` on a free loopback port."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
            "--bind", f"{HOST}:{port}", "--log-level", "warning", "--chdir", str(ROOT),
            f"bench.subjects:build({subject!r})"]
    return Server(argv, port)


def gunicorn_rps(subjects: tuple[str, ...], seconds: int = 10, bursts: int = 10,
                 runs: int = 3, path: str = "/hello") -> dict[str, dict[str, Any]]:
    """``wrk`` on ``path`` of each subject under gunicorn, in interleaved bursts.

    Every subject's server runs at once (idle when not loaded); ``wrk`` loads
    them in turn, ``runs`` times ``bursts`` bursts of ``seconds / bursts``
    each, the order turned by one each time, so a slow stretch of the machine
    (they last seconds here) falls on every subject alike. Per subject:
    requests per second over its ``runs * seconds``, the rate of each run of
    ``seconds``, each burst's rate, the workers' CPU time per request, and
    wrk's non-2xx and socket-error counts.
    """
    burst = max(1, seconds // bursts)
    bursts *= runs
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(_gunicorn(name)) for name in subjects}
        for srv in servers.values():
            srv.wait_ready(path)
            _wrk(srv.port, path, 1)  # NOTE: warm-up: both workers have imported and served
        workers = {name: _workers(srv) for name, srv in servers.items()}
        out = {name: {"requests": 0, "seconds": 0.0, "cpu_s": 0.0, "bursts": [], "non2xx": 0,
                      "errors": []} for name in subjects}
        for i in range(bursts):
            for name in subjects[i % len(subjects):] + subjects[:i % len(subjects)]:
                before = _cpu_seconds(workers[name])
                res = _wrk(servers[name].port, path, burst)
                acc = out[name]
                # NOTE: the workers' own CPU time: what the app costs the
                # server, whatever share of the 2 cores wrk happened to take.
                acc["cpu_s"] += _cpu_seconds(workers[name]) - before
                acc["requests"] += res["requests"]
                acc["seconds"] += res["requests"] / res["rps"] if res["rps"] else burst
                acc["bursts"].append(res["rps"])
                acc["non2xx"] += res["non2xx"]
                if res["errors"]:
                    acc["errors"].append(res["errors"])
    per_run = len(out[subjects[0]]["bursts"]) // runs
    return {name: {"rps": acc["requests"] / acc["seconds"], "bursts": acc["bursts"],
                   "runs": [sum(acc["bursts"][i:i + per_run]) / per_run
                            for i in range(0, per_run * runs, per_run)],
                   "cpu_us": acc["cpu_s"] / max(acc["requests"], 1) * 1e6,
                   "non2xx": acc["non2xx"], "errors": "; ".join(acc["errors"])}
            for name, acc in out.items()}


# -- where a gunicorn worker's time goes (py-spy) --------------------------------

#: frames from these files are the application's; the rest is the server's (py-spy
#: names a file by its path from the package root: ``webkit_app/app.py``)
APP_FILES = ("webkit_app/", "webob/", "bench/subjects.py")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def _py_spy() -> str | None:
    """py-spy beside this Python (the venv's), else on the PATH, else ``None``."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def profiler_missing() -> str | None:
    """Why a worker cannot be profiled here, or ``None``."""
    if _py_spy() is None:
        return "py-spy is not installed (pip install -e '.[bench]')"
    return tools_missing()


def app_share(collapsed: str) -> dict[str, Any]:
    """Samples, the share inside the application, and its costliest frames.

    ``collapsed`` is py-spy's ``--format raw`` output: one ``frame;frame;...
    count`` line per stack, outermost first. A sample is the application's
    when any frame's file is in :data:`APP_FILES`; a function is counted once
    per sample it appears in.
    """
    total = in_app = 0
    funcs: dict[str, int] = {}
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        seen = set()
        for frame in stack.split(";"):
            m = _FRAME.match(frame)
            if m and any(m["file"].startswith(p) or "/" + p in m["file"] for p in APP_FILES):
                seen.add(f"{m['func']} ({Path(m['file']).name})")
        if seen:
            in_app += n
            for func in seen:
                funcs[func] = funcs.get(func, 0) + n
    top = sorted(funcs.items(), key=lambda kv: -kv[1])[:4]
    return {"samples": total, "app_share": in_app / total if total else 0.0,
            "top": [(f, n / total) for f, n in top]}


def worker_profile(subject: str, seconds: int = 5, path: str = "/hello") -> dict[str, Any]:
    """Sample one gunicorn worker with py-spy while ``wrk`` loads ``path``.

    The same server and load as :func:`gunicorn_rps`; py-spy samples without
    pausing the worker (``--nonblocking``), idle time left out, so the shares
    are of the worker's busy time.
    """
    with _gunicorn(subject) as server, tempfile.TemporaryDirectory() as tmp:
        port = server.port
        server.wait_ready(path)
        _wrk(port, path, 1)
        workers = _workers(server)
        out = Path(tmp) / "profile.txt"
        load = subprocess.Popen(["wrk", *WRK_ARGS, f"-d{seconds + 2}s",
                                 f"http://{HOST}:{port}{path}"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            subprocess.run([str(_py_spy()), "record", "--pid", str(workers[0]), "--duration",
                            str(seconds), "--rate", "1000", "--nonblocking", "--format", "raw",
                            "--output", str(out)], capture_output=True, timeout=seconds + 60,
                           check=True)
        finally:
            load.wait(seconds + 30)
        return app_share(out.read_text())


# -- peak RSS through waitress ----------------------------------------------------

def _status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {field} in /proc/{pid}/status")
    return int(match.group(1))


def _blocks(size: int) -> Iterator[bytes]:
    block = os.urandom(CHUNK)
    left = size
    while left > 0:
        yield block if left >= CHUNK else block[:left]
        left -= CHUNK


def _multipart(size: int) -> tuple[int, Iterator[bytes]]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _blocks(size)
        yield tail

    return len(head) + size + len(tail), body()


def _transfer(kind: str, port: int) -> tuple[int, Any]:
    if kind.startswith("stream"):
        status, body = request(port, "GET", f"/stream?size={STREAM_SIZE}")
        return status, int(body) if status == 200 else body
    if kind == "upload-raw":
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Length": str(UPLOAD_SIZE)}
        status, body = request(port, "POST", "/upload/raw", _blocks(UPLOAD_SIZE), headers)
        return status, json.loads(body).get("bytes") if status == 200 else body
    length, gen = _multipart(UPLOAD_SIZE)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
               "Content-Length": str(length)}
    status, body = request(port, "POST", "/upload/multipart", gen, headers)
    return status, json.loads(body).get("size") if status == 200 else body


#: kind -> (what is measured, bytes expected); ``-ref`` kinds are the raw WSGI reference
MEMORY_RUNS = {
    "stream": ("streaming a 1 GiB response", STREAM_SIZE),
    "upload-raw": ("receiving a 200 MiB raw upload (body_file)", UPLOAD_SIZE),
    "upload-multipart": ("receiving a 200 MiB multipart upload (POST)", UPLOAD_SIZE),
    "stream-ref": ("reference: a raw WSGI app streaming 1 GiB", STREAM_SIZE),
}


def _one_rss(kind: str) -> dict[str, Any]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.memapp", str(port)]
    with Server(argv + ["raw"] if kind.endswith("-ref") else argv, port) as server:
        server.wait_ready("/ping")
        baseline = _status_kib(server.proc.pid, "VmHWM")
        start = time.perf_counter()
        status, got = _transfer(kind, port)
        seconds = time.perf_counter() - start
        peak = _status_kib(server.proc.pid, "VmHWM")
    expected = MEMORY_RUNS[kind][1]
    if status != 200 or got != expected:
        raise RuntimeError(f"{kind}: status {status}, got {got!r}, expected {expected} bytes")
    return {"baseline_kib": baseline, "peak_kib": peak, "seconds": seconds,
            "mib_per_s": expected / 2 ** 20 / seconds}


def peak_rss(kind: str, runs: int = 2) -> dict[str, Any]:
    """Peak RSS (VmHWM) of a fresh waitress process through one ``kind`` transfer.

    Each run is a new process; the worst run is kept (the peaks vary with
    glibc's heap, and a limit is about the worst case).
    """
    results = [_one_rss(kind) for _ in range(runs)]
    worst = max(results, key=lambda r: r["peak_kib"])
    return {**worst, "peaks_kib": [r["peak_kib"] for r in results]}
