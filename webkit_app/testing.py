"""A pytest plugin for projects built with webkit_app: opt in from your conftest.py.

Nothing is registered until a project asks for it, so installing webkit_app
adds no fixture to any other test suite::

    # conftest.py
    import pytest

    pytest_plugins = ["webkit_app.testing"]

    @pytest.fixture
    def wsgi_app():
        from mypkg.web import app
        return app

    # test_home.py
    def test_home(testapp):
        assert testapp.get("/").status_int == 200

Fixtures: ``wsgi_app`` (the WSGI app under test: define it, or pass
``--ini``; without either a test that needs it fails with a message saying
so), ``testapp`` (a ``webtest.TestApp`` with lint on) and
``wsgi_live_server`` (``wsgi_app`` served over real HTTP on loopback; its
``url``). The names leave ``app``, ``client`` and ``live_server`` to
pytest-flask, pytest-django and pytest-localserver.

Command-line options point the same tests at other targets:

``--ini deploy/development.ini[#name]``
    build ``wsgi_app`` from a PasteDeploy file (``paste.deploy.loadapp``).
``--live``
    serve ``wsgi_app`` with waitress on loopback and send ``testapp``'s
    requests over HTTP to it.
``--live-url http://127.0.0.1:6543[/prefix]``
    send ``testapp``'s requests to a server that is already running.

Over HTTP, ``testapp`` keeps WebTest's whole API (``get``, ``post_json``,
``status=``, cookies, ``.json``), but ``extra_environ`` values other than
headers do not reach the server and the path must be valid UTF-8.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from webob.client import send_request_app

from ._extras import require

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "HTTPForwarder",
    "LiveServer",
    "live_testapp",
    "load_ini",
    "testapp",
    "wsgi_app",
    "wsgi_live_server",
]

LIVE_TIMEOUT = 30.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("webkit_app", "webkit_app test targets")
    group.addoption("--ini", metavar="FILE[#NAME]", default=None,
                    help="build the 'app' fixture from this PasteDeploy file")
    group.addoption("--live", action="store_true", default=False,
                    help="run 'testapp' through a real HTTP server (waitress on loopback)")
    group.addoption("--live-url", metavar="URL", default=None,
                    help="run 'testapp' against an already running server at URL")


def load_ini(spec: str, relative_to: str | os.PathLike[str] = ".") -> WSGIApplication:
    """Load the app of a PasteDeploy file, ``path.ini`` or ``path.ini#name``::

        app = load_ini("deploy/development.ini")
    """
    loadapp = require("paste.deploy", "paste", "load_ini").loadapp

    path, _, name = str(spec).partition("#")
    uri = "config:" + os.path.abspath(os.path.join(relative_to, path))
    app: WSGIApplication = loadapp(uri + ("#" + name if name else ""))
    return app


class HTTPForwarder:
    """A WSGI app sending each request over HTTP to ``url`` (WebOb's client),
    so ``webtest.TestApp(HTTPForwarder(url))`` tests a live server::

        testapp = webtest.TestApp(HTTPForwarder("http://127.0.0.1:6543"))
    """

    def __init__(self, url: str, timeout: float = LIVE_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"live server URL {url!r}: expected http://host[:port][/prefix]")
        self.url, self.timeout = url, timeout
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = str(parts.port or (443 if parts.scheme == "https" else 80))
        self.netloc = parts.netloc
        self.prefix = parts.path.rstrip("/")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        env = dict(environ)
        # NOTE: WebOb's client quotes text: turn the raw WSGI (latin-1) path into text.
        path = (env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", "")).encode("latin-1")
        env.update(SCRIPT_NAME=self.prefix, PATH_INFO=path.decode("utf-8"),
                   SERVER_NAME=self.host, SERVER_PORT=self.port, HTTP_HOST=self.netloc)
        env["wsgi.url_scheme"] = self.scheme
        env["webob.client.timeout"] = self.timeout
        return send_request_app(env, start_response)


def live_testapp(url: str, **kwargs: Any) -> Any:
    """A ``webtest.TestApp`` (lint on) whose requests go to the server at ``url``::

        res = live_testapp("http://127.0.0.1:6543").get("/health/live")
    """
    webtest = require("webtest", "testing", "live_testapp")
    kwargs.setdefault("lint", True)
    return webtest.TestApp(HTTPForwarder(url), **kwargs)


class LiveServer:
    """``app`` served by waitress on a free loopback port, in a thread::

        with LiveServer(app) as server:
            requests.get(server.url + "/")
    """

    def __init__(self, app: WSGIApplication, host: str = "127.0.0.1") -> None:
        self.app, self.host = app, host
        self.server: Any = None
        self.url = ""

    def start(self) -> LiveServer:
        StopableWSGIServer = require("webtest.http", "testing", "LiveServer").StopableWSGIServer

        # NOTE: port 0 lets the kernel pick: no bind on all interfaces, no race.
        self.server = StopableWSGIServer.create(self.app, host=self.host, port=0,
                                                expose_tracebacks=False)
        self.url = f"http://{self.host}:{self.server.effective_port}"
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.runner.join(LIVE_TIMEOUT)
            self.server = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def wsgi_app(request: pytest.FixtureRequest) -> Any:
    """The WSGI application under test: from ``--ini``, or defined by the project.

    Override it in your conftest.py (``@pytest.fixture def wsgi_app(): ...``).
    """
    ini = request.config.getoption("ini", None)
    if ini:
        return load_ini(ini, request.config.invocation_params.dir)
    pytest.fail("webkit_app.testing: no application to test. Define a 'wsgi_app' fixture in "
                "your conftest.py that returns it, or run pytest --ini your.ini", pytrace=False)


@pytest.fixture
def wsgi_live_server(wsgi_app: Any) -> Iterator[LiveServer]:
    """``wsgi_app`` served over HTTP on loopback for the test; ``wsgi_live_server.url``."""
    with LiveServer(wsgi_app) as server:
        yield server


@pytest.fixture
def testapp(request: pytest.FixtureRequest, wsgi_app: Any) -> Any:
    """A ``webtest.TestApp`` (lint on) around ``wsgi_app``, or a live server with
    ``--live`` / ``--live-url``."""
    url = request.config.getoption("live_url", None)
    if url:
        return live_testapp(url)
    if request.config.getoption("live", False):
        return live_testapp(request.getfixturevalue("wsgi_live_server").url)
    webtest = require("webtest", "testing", "the testapp fixture")
    return webtest.TestApp(wsgi_app, lint=True)
