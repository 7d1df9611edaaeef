"""A pytest plugin for projects built with webkit_app (entry point ``pytest11``).

Fixtures: ``settings`` (a dict of ini-style settings, override it in your
conftest), ``app`` (the WSGI app under test), ``testapp`` (a
``webtest.TestApp`` with lint on)::

    def test_home(testapp):
        assert testapp.get("/").status_int == 200
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["settings", "app", "testapp"]


@pytest.fixture
def settings(tmp_path: Any) -> dict[str, str]:
    """Settings for a test app: production mode, a test secret, a temp database."""
    return {
        "webkit_app.debug": "false",
        "webkit_app.secret_key": "test-secret-key-" + "x" * 32,
        "webkit_app.database_url": f"sqlite:///{tmp_path / 'test.sqlite3'}",
        "webkit_app.files_dir": str(tmp_path / "files"),
    }


@pytest.fixture
def app(settings: dict[str, str]) -> Any:
    """The WSGI application under test, built by ``create_app`` from ``settings``."""
    from .config import Config
    from .factory import create_app

    return create_app(Config.from_settings(settings))


@pytest.fixture
def testapp(app: Any) -> Any:
    """A ``webtest.TestApp`` around ``app``, lint on."""
    import webtest

    return webtest.TestApp(app, lint=True)
