"""Helpers for tests that start real server processes on loopback.

Every process is started in its own session (a process group of its own), its
output goes to a file, waits are bounded, and :meth:`ServerProcess.kill`
removes the whole group whatever happened: no test leaves a process behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> object:
    """Poll ``predicate`` until it returns a true value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class ServerProcess:
    """A server started in its own process group, output captured in ``log``::

        with ServerProcess(["gunicorn", ...], log=tmp_path / "out.log") as server:
            server.wait_ready("http://127.0.0.1:8000/")
            ...
            assert server.terminate() == 0
    """

    def __init__(self, argv: Sequence[str | os.PathLike[str]], log: Path,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.argv = [str(a) for a in argv]
        self.log = log
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self.env, cwd=self.cwd, start_new_session=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, url: str, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``url`` answers any HTTP status; fail early if the process dies."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.argv[0]} exited with {self.proc.returncode} "
                                     f"before answering:\n{self.output[-4000:]}")
            try:
                requests.get(url, timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise AssertionError(f"{self.argv[0]} did not answer {url} within {timeout} s:\n"
                             f"{self.output[-4000:]}")

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM the main process, as a process manager does; its exit status,
        or ``None`` if it did not exit within ``timeout`` seconds."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def group_alive(self) -> bool:
        """Whether a process of the server's group is still running (zombies,
        which only wait for a parent to reap them, do not count)."""
        assert self.proc is not None
        return bool(group_members(self.proc.pid))

    def kill(self) -> None:
        """SIGKILL everything left in the group and reap the main process."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        # NOTE: the command name (field 2) may hold spaces: split after its ")".
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


@contextmanager
def strict_server(app: Callable, **adjustments: object) -> Iterator[int]:
    """``app`` on webkit_app's strict waitress in a thread, on a free loopback
    port (yielded), closed when the block ends."""
    from webkit_app.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=2, **adjustments)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        thread.join(5)
