"""Run WebOb's own request and response tests against webkit_app's subclasses.

Handlers get :class:`webkit_app.Request` and return :class:`webkit_app.Response`,
and users hand both to code written for WebOb, so they must keep WebOb's
contract except where the toolkit is deliberately stricter. This script runs
``tests/test_request.py`` and ``tests/test_response.py`` of an unpacked WebOb
sdist with ``webob.Request``/``webob.request.Request`` and
``webob.Response``/``webob.response.Response`` rebound to the subclasses, and
compares the failing test ids with ``deliberate.txt`` (one ``test id # reason``
a line; ``README.rst`` explains each difference).

It fails on a failure that is not listed, on a listed test that passes (the
list is stale) and on a listed id that no longer exists. It downloads nothing::

    .venv/bin/pip download --no-deps --no-binary :all: WebOb==1.8.11 -d .venv/webob-sdist
    tar -xzf .venv/webob-sdist/webob-1.8.11.tar.gz -C .venv/webob-sdist
    .venv/bin/python tests/webob_contract/run.py .venv/webob-sdist/webob-1.8.11

Arguments after ``--`` go to pytest (``-- --tb=short -x``).
"""

from __future__ import annotations

import argparse
import sys
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
DELIBERATE = HERE / "deliberate.txt"
MODULES = ("tests/test_request.py", "tests/test_response.py")
#: (module, name) pairs rebound while WebOb's tests run
TARGETS = (("webob", "Request"), ("webob.request", "Request"),
           ("webob", "Response"), ("webob.response", "Response"))


def load_deliberate(path: Path) -> dict[str, str]:
    """The listed test ids and their reasons; ``ValueError`` for a line without both."""
    listed: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        test_id, sep, reason = line.partition(" # ")
        if not sep or not test_id.strip() or not reason.strip():
            raise ValueError(f"{path.name}:{number}: expected 'test id # reason', got {line!r}")
        if test_id.strip() in listed:
            raise ValueError(f"{path.name}:{number}: {test_id.strip()} is listed twice")
        listed[test_id.strip()] = reason.strip()
    return listed


def compare(failed: set[str], passed: set[str], listed: dict[str, str]) -> list[str]:
    """The problems, one line each: unlisted failures, stale and unknown entries."""
    problems = [f"FAILS, not listed as deliberate: {t}" for t in sorted(failed - listed.keys())]
    problems += [f"PASSES, but listed as deliberate (stale): {t}" for t in sorted(passed & listed.keys())]
    problems += [f"LISTED, but no such test ran: {t}"
                 for t in sorted(listed.keys() - failed - passed)]
    return problems


class Contract:
    """A pytest plugin: rebinds WebOb's names and records each test's outcome."""

    def __init__(self) -> None:
        self.failed: set[str] = set()
        self.passed: set[str] = set()
        self.saved: list[tuple[Any, str, Any]] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        import importlib

        from webkit_app.request import Request
        from webkit_app.response import Response

        # NOTE: before collection, so ``from webob.request import Request`` at a
        # test module's top and inside test functions both get the subclass.
        for module_name, name in TARGETS:
            module = importlib.import_module(module_name)
            self.saved.append((module, name, getattr(module, name)))
            setattr(module, name, Request if name == "Request" else Response)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for module, name, value in reversed(self.saved):
            setattr(module, name, value)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.add(report.nodeid)
        elif report.passed and report.when == "call":
            self.passed.add(report.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.failed.add(f"collection of {report.nodeid}")


def check_version(sdist: Path) -> str:
    """The sdist's version; ``SystemExit`` unless it is the installed WebOb's."""
    from importlib.metadata import version

    info = sdist / "PKG-INFO"
    if not info.is_file() or not all((sdist / m).is_file() for m in MODULES):
        raise SystemExit(f"{sdist} is not an unpacked WebOb sdist (no PKG-INFO or {MODULES})")
    sdist_version = Parser().parsestr(info.read_text(encoding="utf-8"))["Version"]
    installed = version("WebOb")
    if sdist_version != installed:
        raise SystemExit(f"the sdist is WebOb {sdist_version} but {installed} is installed")
    return installed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path, help="an unpacked WebOb sdist (holds tests/)")
    parser.add_argument("--deliberate", type=Path, default=DELIBERATE)
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)
    sdist = args.sdist.resolve()
    webob_version = check_version(sdist)
    listed = load_deliberate(args.deliberate)
    plugin = Contract()
    pytest_args = [str(sdist / m) for m in MODULES]
    pytest_args += ["--rootdir", str(sdist), "-c", str(sdist / "setup.cfg"),
                    "-p", "no:cacheprovider", "-q", "--tb=no", "-o", "addopts=", *args.pytest_args]
    code = pytest.main(pytest_args, plugins=[plugin])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        print(f"pytest could not run WebOb's tests (exit {code})", file=sys.stderr)
        return 2
    problems = compare(plugin.failed, plugin.passed, listed)
    print(f"\nWebOb {webob_version}: {len(plugin.passed)} passed, {len(plugin.failed)} failed, "
          f"{len(listed)} listed as deliberate in {args.deliberate.name}")
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
