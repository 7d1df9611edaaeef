"""The code blocks of README.rst and docs/*.rst, as the docs tests run them.

The rules the pages follow (``docs/contributing.rst`` states them):

- every ``.. code-block:: python`` block runs; the blocks of one page run in
  order, in one namespace, in a scratch folder that is also on ``sys.path``;
- a python block whose first line is ``# name.py`` is written to that file
  instead (``# name.py, continued`` appends to it), so later blocks and
  commands import it; a ``test_*.py`` file is then run with pytest;
- an ``ini`` block whose first line is ``# name.ini`` is written and loaded
  with PasteDeploy; files shown whole are ``literalinclude`` of the real ones;
- ``console``, ``text``, ``http``, ``json``, ``nginx``, ... blocks are not
  Python and say so by their language; a Python block that must not run is
  preceded by the comment ``.. not-run: <reason>``;
- a bare ``::`` literal block is not allowed: every block names its language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: pages other helpers own; their blocks run too, but bare ``::`` is theirs to fix
FOREIGN = {"hostile-inputs.rst", "scaling.rst"}

_DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. (?P<kind>code-block|literalinclude|code)::"
                        r" *(?P<arg>\S*) *$")
_FILE = re.compile(r"^# (?P<name>[\w./-]+\.(?:py|ini))(?P<cont>, continued)?$")
_SKIP = re.compile(r"^ *\.\. not-run: \S")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the directive
    kind: str  # code-block or literalinclude
    language: str  # for literalinclude: the included path
    text: str
    skipped: bool

    @property
    def file(self) -> tuple[str, bool] | None:
        """``(name, append)`` when the block is a file to write."""
        match = _FILE.match(self.text.split("\n", 1)[0])
        return (match["name"], bool(match["cont"])) if match else None

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.rst and every page of the manual."""
    found = sorted(p for p in DOCS.rglob("*.rst") if "_generated" not in p.parts)
    return [ROOT / "README.rst", *found]


def _body(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The indented body after a directive's options: its lines and where it ends."""
    i = start
    while i < len(lines) and lines[i].strip().startswith(":") and lines[i].strip():
        i += 1
    body: list[str] = []
    while i < len(lines) and (not lines[i].strip() or
                              len(lines[i]) - len(lines[i].lstrip()) > indent):
        body.append(lines[i])
        i += 1
    while body and not body[-1].strip():
        body.pop()
    strip = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
    return [b[strip:] for b in body], i


def blocks(page: Path) -> list[Block]:
    """Every code block and literalinclude of ``page``, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        body, _ = _body(lines, i + 1, len(match["indent"]))
        skipped = any(_SKIP.match(lines[j]) for j in range(max(0, i - 2), i))
        out.append(Block(page, i + 1, match["kind"], match["arg"],
                         "\n".join(body).strip("\n") + "\n", skipped))
    return out


def bare_literal_blocks(page: Path) -> list[int]:
    """Lines of paragraphs ending in ``::`` that open an unnamed literal block."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.endswith("::") and not stripped.startswith(".. ") and i + 2 < len(lines) \
                and not lines[i + 1].strip() and lines[i + 2].startswith(" " * (
                    len(line) - len(line.lstrip()) + 1)):
            found.append(i + 1)
    return found
