"""The pytest plugin (opt-in: ``pytest_plugins = ["webkit_app.testing"]``), run
on a tiny project with ``pytester``: fixtures, ``--ini``, ``--live`` and ``--live-url``."""

from pathlib import Path

import pytest
import requests

from webkit_app.examples.kit import make_kit
from webkit_app.testing import LiveServer, live_testapp, load_ini

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parent.parent
DEV_INI = ROOT / "deploy" / "development.ini"
TIMEOUT = 120

CONFTEST = '''
import pytest

pytest_plugins = ["webkit_app.testing"]

@pytest.fixture
def wsgi_app():
    from webkit_app.examples.kit import make_kit
    from webkit_app.middleware import request_id
    return request_id(make_kit())
'''

PROJECT_TEST = '''
def test_users(testapp):
    res = testapp.get("/users/7")
    assert res.json["id"] == 7
    print("SERVER=" + res.headers.get("Server", "-"))
    print("RID=" + res.headers.get("X-Request-ID", "-"))
'''


@pytest.fixture
def project(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'notes.sqlite3'}")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_project=PROJECT_TEST)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args, timeout=TIMEOUT)


def test_a_project_that_opts_in_tests_its_own_app(project):
    result = run(project)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SERVER=-*", "*RID=????????????????*"])


def test_without_opting_in_no_fixture_is_added(pytester):
    pytester.makepyfile(test_project=PROJECT_TEST)
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'testapp' not found*"])
    assert "wsgi_app" not in result.stdout.str().split("available fixtures:")[-1]


def test_a_project_that_names_no_app_is_told_how(pytester):
    pytester.makeconftest('pytest_plugins = ["webkit_app.testing"]\n')
    pytester.makepyfile(test_project=PROJECT_TEST)
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*webkit_app.testing: no application to test. Define a "
                                 "'wsgi_app' fixture in your conftest.py*--ini your.ini*"])


def test_the_plugin_leaves_other_plugins_fixture_names_alone():
    import webkit_app.testing as plugin

    fixtures = {name for name in dir(plugin) if hasattr(getattr(plugin, name),
                                                         "_pytestfixturefunction")
                or type(getattr(plugin, name)).__name__ == "FixtureFunctionDefinition"}
    assert fixtures == {"wsgi_app", "testapp", "wsgi_live_server"}


def test_ini_option_builds_the_app_from_a_paste_file(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'notes.sqlite3'}")
    pytester.makeconftest('pytest_plugins = ["webkit_app.testing"]\n')
    pytester.makepyfile(test_project=PROJECT_TEST)
    result = run(pytester, f"--ini={DEV_INI}#demo")  # the bare App: no request id
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*RID=-*"])


def test_live_option_sends_the_same_tests_over_http(project):
    result = run(project, "--live")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SERVER=waitress*"])


def test_live_url_option_targets_a_running_server(project):
    with LiveServer(make_kit()) as server:
        result = run(project, f"--live-url={server.url}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SERVER=waitress*", "*RID=-*"])


def test_a_project_overrides_wsgi_app_and_lint_stays_on(pytester):
    pytester.makeconftest('''
import pytest

pytest_plugins = ["webkit_app.testing"]

@pytest.fixture
def wsgi_app():
    def bad(environ, start_response):
        # a body without Content-Type: WebTest's lint fails the test
        start_response("200 OK", [("Content-Length", "1")])
        return [b"x"]
    return bad
''')
    pytester.makepyfile(test_lint='''
def test_bad(testapp):
    testapp.get("/")
''')
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: No Content-Type header found*"])


def test_live_testapp_keeps_webtests_api_over_http():
    with LiveServer(make_kit()) as server:
        t = live_testapp(server.url)
        assert t.post_json("/notes", {"é": 1}, status=201).json == {"note": {"é": 1}}
        assert t.get("/users/%C3%A9").json == {"name": "é"}
        assert t.put("/users/7", status=405).headers["Allow"] == "GET, HEAD, OPTIONS"
        assert t.head("/users/7").body == b""
        prefixed = live_testapp(server.url + "/users")
        assert prefixed.get("/7").json == {"id": 7, "self": "/users/7"}


def test_live_server_stops():
    server = LiveServer(make_kit()).start()
    assert requests.get(server.url + "/users/1", timeout=5).json()["id"] == 1
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/users/1", timeout=5)


def test_load_ini_accepts_a_section_name():
    from webkit_app import App

    assert isinstance(load_ini(f"{DEV_INI}#demo"), App)
    assert not isinstance(load_ini(str(DEV_INI)), App)
