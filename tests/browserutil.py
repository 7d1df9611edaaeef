"""Headless Chromium for the browser tests (Debian's ``chromium``; ``make test``
installs it when root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_TIMEOUT = 45  # seconds for one chromium run
# NOTE: without the background-networking flags Chromium's own connections are
# refused by this machine's closed network, many at a time.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--virtual-time-budget=10000", "--dump-dom")


def dump_dom(url: str, profile: Path) -> tuple[str, str]:
    """Load ``url`` in headless chromium with ``profile``: the DOM it ends on, and stderr."""
    argv = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", url]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        dom, err = proc.communicate(timeout=BROWSER_TIMEOUT)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    return dom.decode(errors="replace"), err.decode(errors="replace")
