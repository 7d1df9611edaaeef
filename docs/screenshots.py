"""Screenshots of the built manual in headless Chromium: ``make docs-shots``.

.. code-block:: console

    python docs/screenshots.py build/docs/html build/docs-shots

writes ``index.png``, ``tutorial.png`` and ``api.png`` (1280 px wide), so a
person can look at the pages as a reader sees them. Chromium is Debian's
``chromium`` (``make system-deps`` installs it when root).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PAGES = {"index": "index.html", "tutorial": "tutorial.html", "api": "api.html"}
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--window-size=1280,1600", "--virtual-time-budget=5000")


def shoot(html: Path, out: Path, chromium: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, page in PAGES.items():
        png = out / f"{name}.png"
        url = (html / page.split("#")[0]).resolve().as_uri() + (
            "#" + page.split("#")[1] if "#" in page else "")
        subprocess.run([chromium, *FLAGS, f"--user-data-dir={out / '.profile'}",
                        f"--screenshot={png}", url], check=True, timeout=90,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        written.append(png)
    shutil.rmtree(out / ".profile", ignore_errors=True)
    return written


def main(argv: list[str]) -> int:
    html, out = Path(argv[0]), Path(argv[1])
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    for png in shoot(html, out, chromium):
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
