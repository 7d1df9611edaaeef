"""Project-wide test set-up. ``testapp`` comes from the ``webkit_app.testing``
plugin, opted into here as any project does; ``wsgi_app`` is the reference
service (the notes demo) built from ``settings``."""

import os

import pytest

pytest_plugins = ["webkit_app.testing"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def settings(tmp_path):
    """The demo's settings for a test: production mode, a test secret, a temp database."""
    return {
        "webkit_app.debug": "false",
        "webkit_app.secret_key": "test-secret-key-" + "x" * 32,
        "webkit_app.database_url": f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "webkit_app.files_dir": str(tmp_path / "files"),
    }


@pytest.fixture
def app(request, settings):
    """The demo behind its middleware stack, from ``--ini`` or ``settings``."""
    ini = request.config.getoption("ini", None)
    if ini:
        from webkit_app.testing import load_ini

        return load_ini(ini, request.config.invocation_params.dir)
    from webkit_app.demo import Config, create_app

    return create_app(Config.from_settings(settings))


@pytest.fixture
def wsgi_app(app):
    return app


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skipped test is a failure: nothing may go untested there."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true makes a skip a failure): {reason}"
