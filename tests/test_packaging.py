"""The sdist and the wheel: what each holds, their metadata, and the tests run
from the unpacked sdist.

Both are built once per module with ``python -m build`` (isolated: the build
backend comes from the package index, as for any user) from a copy of the
working tree, so the build never writes ``build/`` or ``*.egg-info`` into the
checkout that other tests run from.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
#: not source: environments, caches, build output, version control, local data
NOT_SOURCE = shutil.ignore_patterns(
    ".venv", "venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "*.py[cod]",
    ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", ".coverage", "var",
    "*.sqlite3", "*.sqlite3-*")
#: what the suite reads besides the package: its helpers, settings and files
SDIST_NEEDS = (
    "LICENSE", "README.rst", "CHANGELOG.rst", "pyproject.toml", "setup.cfg", "conftest.py",
    "tests/serverutil.py", "tests/reliability_util.py", "deploy/gunicorn.conf.py",
    "deploy/development.ini", "deploy/production.ini", "deploy/apache/webkit_app.conf",
    "bench/__main__.py", "docs/hostile-inputs.rst", "webkit_app/py.typed")
#: a cheap, representative part of the suite, run from the unpacked sdist (the
#: last reads docs/, so the page ships too)
SDIST_TESTS = ("tests/test_routing.py", "tests/test_app.py",
               "tests/test_bad_inputs_e2e.py::test_every_hostile_input_row_is_tested")
#: imports webkit_app first, says from where, then runs pytest in the same process
RUN_FROM = """\
import sys, pytest, webkit_app
print("webkit_app imported from", webkit_app.__file__, flush=True)
assert webkit_app.__file__.startswith(sys.argv[1]), "not the sdist's webkit_app"
sys.exit(pytest.main(sys.argv[2:]))
"""


@dataclass(frozen=True)
class Dists:
    """The two distributions, their member names (the sdist's without its top
    folder) and the sdist unpacked."""

    sdist: Path
    wheel: Path
    sdist_names: frozenset[str]
    wheel_names: frozenset[str]
    unpacked: Path
    source: Path  # the copy of the checkout they were built from

    def wheel_metadata(self) -> Message:
        name = next(n for n in self.wheel_names if n.endswith(".dist-info/METADATA"))
        with zipfile.ZipFile(self.wheel) as wheel:
            return HeaderParser().parsestr(wheel.read(name).decode("utf-8"))


def run(*args: str, cwd: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False,
                          cwd=cwd, env=env)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    for tool in ("build", "twine"):
        assert importlib.util.find_spec(tool), f"{tool} is missing: pip install -e '.[test]'"
    base = tmp_path_factory.mktemp("packaging")
    shutil.copytree(ROOT, base / "src", ignore=NOT_SOURCE)
    built = run(sys.executable, "-m", "build", "--outdir", str(base / "dist"), str(base / "src"))
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    (sdist,) = (base / "dist").glob("*.tar.gz")
    (wheel,) = (base / "dist").glob("*.whl")
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
        tar.extractall(base, filter="data")
    top = members[0].split("/", 1)[0]
    with zipfile.ZipFile(wheel) as whl:
        wheel_names = frozenset(whl.namelist())
    return Dists(sdist, wheel, frozenset(m.partition("/")[2] for m in members), wheel_names,
                 base / top, base / "src")


def source_files(root: Path, folder: str) -> set[str]:
    """The files under ``root/folder``, caches and hidden files left out."""
    names = {p.relative_to(root) for p in (root / folder).rglob("*") if p.is_file()}
    return {n.as_posix() for n in names if n.suffix != ".pyc"
            and not any(part == "__pycache__" or part.startswith(".") for part in n.parts)}


def test_twine_check_strict_passes_both(dists: Dists) -> None:
    checked = run(sys.executable, "-m", "twine", "check", "--strict",
                  str(dists.sdist), str(dists.wheel))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout


def test_the_license_is_in_the_sdist_and_the_wheel(dists: Dists) -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "webkit_app contributors" in text
    assert (dists.unpacked / "LICENSE").read_text(encoding="utf-8") == text
    (name,) = [n for n in dists.wheel_names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(dists.wheel) as wheel:
        assert wheel.read(name).decode("utf-8") == text
    metadata = dists.wheel_metadata()
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_the_wheel_holds_the_package_and_its_metadata_only(dists: Dists) -> None:
    dist_info = next(n.split("/")[0] for n in dists.wheel_names if ".dist-info/" in n)
    foreign = [n for n in dists.wheel_names
               if not n.startswith(("webkit_app/", dist_info + "/"))]
    assert not foreign, f"the wheel holds more than webkit_app/: {sorted(foreign)}"
    assert not [n for n in dists.wheel_names if "tests/" in n or n.endswith("conftest.py")]
    assert {"webkit_app/py.typed", "webkit_app/__init__.py"} <= dists.wheel_names
    assert any(n.startswith("webkit_app/examples/") and n.endswith(".ini")
               for n in dists.wheel_names)


def test_the_sdist_holds_what_its_tests_need(dists: Dists) -> None:
    missing = [n for n in SDIST_NEEDS if n not in dists.sdist_names]
    assert not missing, f"not in the sdist: {missing}"
    shipped = {name for folder in ("tests", "deploy", "docs", "bench")
               for name in source_files(dists.source, folder)}
    assert shipped - dists.sdist_names == set()
    junk = [n for n in dists.sdist_names
            if "__pycache__" in n or n.endswith((".pyc", ".sqlite3")) or n.startswith(".venv")]
    assert not junk, junk


def test_the_metadata_names_the_supported_pythons(dists: Dists) -> None:
    metadata = dists.wheel_metadata()
    classifiers = metadata.get_all("Classifier") or []
    for minor in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {minor}" in classifiers, classifiers
    assert metadata["Requires-Python"] == ">=3.11"


def test_the_tests_pass_from_the_unpacked_sdist(dists: Dists) -> None:
    """The sdist's own tests, against the sdist's package: PYTHONPATH puts the
    unpacked folder ahead of the editable install, and the run says so."""
    folder = str(dists.unpacked)
    env = {**os.environ, "PYTHONPATH": folder}
    ran = run(sys.executable, "-c", RUN_FROM, folder + os.sep, "--rootdir", folder,
              "-p", "no:cacheprovider", "-q", *SDIST_TESTS, cwd=folder, env=env)
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-3000:]
    assert f"webkit_app imported from {folder}{os.sep}webkit_app{os.sep}" in ran.stdout
    assert " passed" in ran.stdout and " failed" not in ran.stdout, ran.stdout[-2000:]
