"""The three layers: the toolkit imports neither the adapters nor the demo, the
demo uses the toolkit's public names only, and a core install is the toolkit
alone (WebOb and multipart), with one line naming the extra that is missing."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "webkit_app"
ADAPTERS = {"pyramid", "paste", "server", "cli", "testing", "__main__"}
FORBIDDEN = ("sqlite3", "bcrypt", "waitress", "hupper", "paste.deploy", "pyramid", "webtest",
             "psycopg", "webkit_app.demo")


def test_importing_the_toolkit_loads_nothing_it_did_not_ask_for():
    code = textwrap.dedent(f"""
        import sys
        import webkit_app, webkit_app.middleware, webkit_app.routing
        loaded = [m for m in {FORBIDDEN!r} if m in sys.modules]
        print(",".join(loaded) or "none")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "none"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(module, names, level)`` for every import statement of ``path``."""
    rows = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            rows.append((node.module or "", [a.name for a in node.names], node.level))
        elif isinstance(node, ast.Import):
            rows.extend((a.name, [], 0) for a in node.names)
    return rows


def _toolkit_modules() -> list[Path]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).parts
        if rel[0] in ("demo", "examples") or path.stem in ADAPTERS and len(rel) == 1:
            continue
        out.append(path)
    return out


@pytest.mark.parametrize("path", _toolkit_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_toolkit_never_imports_an_adapter_or_the_demo(path):
    for module, _names, level in _imports(path):
        absolute = module if level == 0 else "webkit_app." + module  # approximate: top level
        parts = absolute.split(".")
        assert "demo" not in parts, f"{path.name} imports the demo: {module}"
        assert not (parts[0] == "webkit_app" and len(parts) > 1 and parts[1] in ADAPTERS), \
            f"{path.name} imports the adapter {module}"
        for top in ("pyramid", "paste", "waitress", "hupper", "webtest", "bcrypt", "sqlite3",
                    "pytest", "psycopg"):
            assert parts[0] != top or level, f"{path.name} imports {top} at module level"


def _public(module: str) -> set[str]:
    import importlib

    return set(getattr(importlib.import_module(module), "__all__", ()))


@pytest.mark.parametrize("path", sorted((PACKAGE / "demo").glob("*.py")),
                         ids=lambda p: p.name)
def test_the_demo_uses_only_public_names_of_the_toolkit(path):
    for module, names, level in _imports(path):
        if level == 2 or (level == 0 and module.startswith("webkit_app") and
                          not module.startswith("webkit_app.demo")):
            assert level == 0, f"{path.name}: relative import into the toolkit: {module}"
            assert not any(p.startswith("_") for p in module.split(".")), \
                f"{path.name} imports the private module {module}"
            if names:
                private = set(names) - _public(module)
                assert not private, f"{path.name} imports non-public {sorted(private)} of {module}"


# -- a core install ------------------------------------------------------------------------

HELLO = '''
from webob.exc import HTTPNotFound
from webtest import TestApp

from webkit_app import App, json_response

app = App()

@app.route("/users/{id:int}", name="user")
def user(request):
    uid = request.urlvars["id"]
    if uid == 0:
        raise HTTPNotFound("no user 0")
    return json_response({"id": uid, "self": request.url_for("user", id=uid)})

t = TestApp(app)
assert t.get("/users/7").json == {"id": 7, "self": "/users/7"}
assert t.get("/users/x", status=404).json["status"] == 404
assert t.get("/users/0", status=404).json["detail"] == "no user 0"
assert app.url_for("user", id=3, _query={"a": "b c"}) == "/users/3?a=b+c"
print("hello ok")
'''


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory):
    """A fresh venv with ``pip install .`` (and WebTest, to test the hello app)."""
    where = tmp_path_factory.mktemp("core") / "venv"
    venv.create(where, with_pip=True)
    py = str(where / "bin" / "python")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # NOTE: a copy, so the build never writes into the checkout other tests read
    # (a checkout or an unpacked sdist alike: no git needed)
    src = tmp_path_factory.mktemp("src") / "webkit_app"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", "build", ".git", "__pycache__", "*.egg-info", "_generated", "*.sqlite3*"))
    done = subprocess.run([py, "-m", "pip", "install", "-q", str(src)], env=env,
                          timeout=600, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return py


def _installed(py: str) -> set[str]:
    out = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], check=True,
                         capture_output=True, text=True).stdout
    return {line.split("==")[0].lower().replace("_", "-") for line in out.split()}


@pytest.mark.slow
def test_a_core_install_is_webob_and_multipart(core_venv):
    extra = _installed(core_venv) - {"pip", "setuptools", "webkit-app", "webob", "multipart",
                                     "legacy-cgi", "webtest", "beautifulsoup4", "soupsieve",
                                     "typing-extensions"}
    assert extra == set()


@pytest.mark.slow
def test_a_core_install_serves_a_typed_hello_app_through_webtest(core_venv, tmp_path):
    # NOTE: WebTest requires waitress, which would hide a missing server extra from
    # the tests below: TestApp in process needs only these.
    subprocess.run([core_venv, "-m", "pip", "install", "-q", "--no-deps", "WebTest>=3.0.2",
                    "beautifulsoup4", "soupsieve", "typing_extensions"], check=True,
                   timeout=300, capture_output=True)
    (tmp_path / "hello.py").write_text(HELLO)
    res = subprocess.run([core_venv, "hello.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "hello ok"


@pytest.mark.slow
@pytest.mark.parametrize("argv, extra", [
    pytest.param(["serve", "hello:app"], "server", id="serve"),
    pytest.param(["routes", "config:x.ini"], "paste", id="ini"),
])
def test_a_missing_extra_is_one_line_naming_it(core_venv, tmp_path, argv, extra):
    (tmp_path / "hello.py").write_text("from webkit_app import App\napp = App()\n")
    (tmp_path / "x.ini").write_text("[app:main]\nuse = egg:webkit_app\n")
    script = Path(core_venv).parent / "webkit-app"
    res = subprocess.run([str(script), *argv], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 1
    assert res.stderr.endswith(f"pip install 'webkit_app[{extra}]'\n")
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


@pytest.mark.slow
@pytest.mark.parametrize("module, needs, extra", [
    pytest.param("webkit_app.pyramid", "pyramid", "pyramid", id="pyramid"),
    pytest.param("webkit_app.server", "waitress", "server", id="server"),
])
def test_a_missing_extra_on_import_names_it(core_venv, module, needs, extra):
    res = subprocess.run([core_venv, "-c", f"import {module}"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 1
    assert res.stderr.strip().endswith(f"{module} needs {needs}, which is not "
                                       f"installed: pip install 'webkit_app[{extra}]'")
