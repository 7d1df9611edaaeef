"""The manual and README: every example runs, the build is clean, every public name is in it.

Rules for the blocks: ``tests/docblocks.py``. The Sphinx build runs once per
session (``-W -n``: a warning or an unresolved reference fails it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
from docblocks import DOCS, FOREIGN, ROOT, Block, bare_literal_blocks, blocks, pages
from serverutil import HOST, ServerProcess, free_port

README = ROOT / "README.rst"
BIN = Path(sys.executable).parent
#: languages a block may name; python runs, ini runs when it names a file
LANGUAGES = {"python", "ini", "console", "text", "http", "json", "nginx", "apache", "pycon",
             "shell-session", "none"}
PAGE_TIMEOUT = 120


def _python_pages() -> list[Path]:
    return [p for p in pages() if any(
        b.kind == "code-block" and b.language in ("python", "ini") and not b.skipped
        for b in blocks(p))]


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


# -- README ------------------------------------------------------------------------------

def test_readme_is_short_and_says_pip_install():
    data = README.read_bytes()
    assert len(data) < 10_000, f"README.rst is {len(data)} bytes (the PyPI page: under 10 kB)"
    text = data.decode()
    assert "pip install webkit_app" in text
    for command in ("make run", "make test", "make docs"):
        assert command in text, command


# -- every block names its language, every example runs ---------------------------------

@pytest.mark.parametrize("page", [p for p in pages() if p.name not in FOREIGN], ids=_id)
def test_no_bare_literal_blocks(page):
    assert bare_literal_blocks(page) == [], f"{_id(page)}: use .. code-block:: LANGUAGE"


@pytest.mark.parametrize("page", pages(), ids=_id)
def test_every_block_names_a_known_language(page):
    for block in blocks(page):
        if block.kind == "literalinclude":
            assert (block.page.parent / block.language).resolve().is_file(), block
        else:
            assert block.language in LANGUAGES, f"{block}: language {block.language!r}"


def _runner(page: Path, todo: list[Block]) -> str:
    """A script running ``todo`` (python and ini blocks) in order, in the working folder."""
    steps = []
    for block in todo:
        target = block.file
        if target is not None:
            steps.append(("file", str(block), target[0], target[1], block.text))
        elif block.language == "python":
            steps.append(("exec", str(block), "", False, block.text))
    return textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, os.getcwd())
        namespace = {{"__name__": "__docs__"}}
        written = []
        for kind, where, name, append, text in {steps!r}:
            if kind == "file":
                os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
                with open(name, "a" if append else "w") as f:
                    f.write(("\\n\\n" if append else "") + text)
                if name not in written:
                    written.append(name)
                continue
            exec(compile(text, where, "exec"), namespace)
        for name in written:
            if name.endswith(".ini"):
                from paste.deploy import loadapp
                loadapp("config:" + os.path.abspath(name))
        print("WRITTEN", *written)
    """)


@pytest.mark.parametrize("page", _python_pages(), ids=_id)
def test_python_examples_run(page, tmp_path):
    todo = [b for b in blocks(page) if b.kind == "code-block" and not b.skipped
            and (b.language == "python" or (b.language == "ini" and b.file))]
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")  # pages name deploy/ files
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for name in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "HTPASSWD", "CORS_ORIGINS"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", _runner(page, todo)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=PAGE_TIMEOUT)
    assert out.returncode == 0, out.stderr[-4000:]
    written = out.stdout.rsplit("WRITTEN", 1)[1].split()
    tests = [n for n in written if Path(n).name.startswith("test_") and n.endswith(".py")]
    if tests:
        res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              *tests], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=PAGE_TIMEOUT)
        assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
        assert re.search(r"\b[1-9][0-9]* passed", res.stdout), res.stdout


def _included_inis() -> list[Path]:
    found = set()
    for page in pages():
        for block in blocks(page):
            path = (block.page.parent / block.language).resolve()
            if block.kind == "literalinclude" and path.suffix == ".ini" and re.search(
                    r"^\[(app|composite|pipeline):", path.read_text(), re.M):
                found.add(path)  # a PasteDeploy file (uwsgi.ini is uWSGI's)
    return sorted(found)


@pytest.mark.parametrize("path", _included_inis(), ids=lambda p: str(p.relative_to(ROOT)))
def test_included_ini_files_load_with_pastedeploy(path, tmp_path, monkeypatch):
    from paste.deploy import loadapp, loadserver

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SECRET_KEY", "k7Qp2VxN9rT4mZ8wL1cY6bH3jD5fG0sA")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/notes.sqlite3")
    monkeypatch.setenv("FILES_DIR", str(tmp_path))
    assert callable(loadapp(f"config:{path}"))
    assert callable(loadserver(f"config:{path}"))


# -- the tutorial, end to end: files, tests, a served app --------------------------------

def test_tutorial_app_is_served_as_the_tutorial_says(tmp_path):
    tutorial = DOCS / "tutorial.rst"
    text = tutorial.read_text()
    for command in ("webkit-app serve todo:app", "pytest -q test_todo.py",
                    "pip install 'webkit_app[server,testing]'"):
        assert command in text, command
    todo = [b for b in blocks(tutorial) if b.file and b.file[0] == "todo.py"]
    (tmp_path / "todo.py").write_text("\n\n".join(b.text for b in todo))
    port = free_port()
    with ServerProcess([BIN / "webkit-app", "serve", "todo:app", "--port", str(port)],
                       log=tmp_path / "serve.log", cwd=tmp_path) as server:
        url = f"http://{HOST}:{port}"
        server.wait_ready(url + "/")
        assert requests.get(url + "/", timeout=5).text == "Hello from todo!\n"
        res = requests.post(url + "/todos", json={"text": "buy milk"}, timeout=5)
        assert (res.status_code, res.json()) == (201, {"id": 1, "text": "buy milk"})
        assert '{"id":1,"text":"buy milk"}' in text
        res = requests.get(url + "/todos/99", timeout=5)
        assert (res.status_code, res.text) == (404, '{"status": 404, "title": "Not Found", '
                                                    '"detail": "no to-do 99"}')
        assert res.text in text
        assert f"Serving on http://{HOST}:{port}" in server.output
        assert server.terminate() == 0


# -- the Sphinx build --------------------------------------------------------------------

@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "html"
    res = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-q",
                          "-b", "html", "-d", str(out.parent / "doctrees"), str(DOCS), str(out)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-6000:]
    assert res.stderr.strip() == "", res.stderr[-6000:]
    return out


def _inventory(html: Path) -> set[str]:
    from sphinx.util.inventory import InventoryFile

    with open(html / "objects.inv", "rb") as f:
        inv = InventoryFile.load(f, "", lambda base, uri: uri)
    return {name for kind, entries in inv.items() if kind.startswith("py:") for name in entries}


@pytest.mark.slow
def test_docs_build_without_warnings(html):
    for page in ("index", "tutorial", "api", "cli", "benchmark"):
        assert (html / f"{page}.html").is_file(), page


def _public_modules() -> list[str]:
    out = ["webkit_app"]
    for path in sorted((ROOT / "webkit_app").iterdir()):
        name = path.stem
        if name.startswith("_") or name in ("examples",):
            continue
        if path.suffix == ".py" or (path / "__init__.py").is_file():
            out.append(f"webkit_app.{name}")
    return out


def test_every_public_module_is_in_the_api_reference():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        apiref = importlib.import_module("apiref")
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    api = (DOCS / "api.rst").read_text()
    for module in _public_modules():
        assert module in apiref.MODULES, module
        assert f".. api-module:: {module}\n" in api, module


@pytest.mark.slow
def test_every_public_name_is_in_the_api_reference(html):
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        apiref = importlib.import_module("apiref")
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    names = _inventory(html)
    homes = apiref.homes()
    missing = []
    for module_name in apiref.MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            home = homes.get(id(value)) if apiref._shared(value) else None
            if f"{module_name}.{name}" not in names and home not in names:
                missing.append(f"{module_name}.{name}")
    assert missing == []


@pytest.mark.slow
def test_the_cli_reference_is_generated_from_the_parser(html):
    from webkit_app.cli import build_parser

    page = (html / "cli.html").read_text()
    sub = next(a for a in build_parser()._actions if a.choices)  # the subcommands
    for command, parser in sub.choices.items():
        assert f'id="webkit-app-{command}"' in page, command
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):  # sphinx-argparse leaves -h out
                continue
            for flag in action.option_strings:
                assert flag in page, (command, flag)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.links.append(value)


@pytest.mark.slow
def test_internal_links_resolve(html):
    broken = []
    for page in html.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text())
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path:
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(html)} -> {link}")
            elif parts.fragment and target.suffix == ".html" and \
                    f'id="{parts.fragment}"' not in target.read_text():
                broken.append(f"{page.relative_to(html)} -> {link}")
    assert broken == []


@pytest.mark.slow
def test_benchmark_charts_are_drawn_from_results_json(html):
    data = json.loads((ROOT / "bench" / "results.json").read_text())
    svg = (html / "_images" / "bench-in-process.svg").read_text()
    app = data["in_process"]["subjects"]["webkit_app App"]["hello"]["ratio"]
    assert f">{app:.2f}x<" in svg
    assert "bench-gunicorn.svg" in (html / "benchmark.html").read_text()


@pytest.mark.slow
@pytest.mark.browser
def test_screenshots_of_index_tutorial_and_api(html, tmp_path):
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        pytest.skip("chromium is not installed (apt-get install chromium; make test does it)")
    out = subprocess.run([sys.executable, str(DOCS / "screenshots.py"), str(html),
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:]
    for name in ("index", "tutorial", "api"):
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, name
