"""An App below a prefix: under Pyramid's wsgiapp2, a PasteDeploy urlmap
composite and App.mount, url_for, redirects and errors stay under it."""

from pathlib import Path

import pytest
from paste.deploy import loadapp
from pyramid.config import Configurator
from pyramid.wsgi import wsgiapp2
from webob.exc import HTTPForbidden
from webtest import TestApp

from webkit_app import App
from webkit_app.examples.kit import make_kit

EXAMPLES = Path(__file__).resolve().parent.parent / "webkit_app" / "examples"


def raw_forbidden(environ, start_response):
    """A plain WSGI app raising a webob.exc error: it escapes the App around it."""
    raise HTTPForbidden("raw app says no")


def kit_factory(global_config=None, **settings):
    kit = make_kit()
    kit.mount("/raw", raw_forbidden)
    return kit


def under_wsgiapp2(prefix):
    config = Configurator()
    view = wsgiapp2(kit_factory())
    config.add_route("kit_root", prefix)
    config.add_route("kit", prefix + "/*subpath")
    config.add_view(view, route_name="kit_root")
    config.add_view(view, route_name="kit")
    return config.make_wsgi_app()


def under_urlmap(prefix, tmp_path):
    ini = tmp_path / "urlmap.ini"
    ini.write_text(f"""
[composite:main]
use = egg:Paste#urlmap
{prefix} = kit

[pipeline:kit]
# errors turns a webob.exc escaping the App into a response
pipeline = errors kit_app

[filter:errors]
use = egg:webkit_app#errors

[app:kit_app]
use = call:test_mount:kit_factory
""")
    return loadapp(f"config:{ini}")


def under_app_mount(prefix):
    outer = App()
    outer.mount(prefix, kit_factory())
    return outer


HOSTS = ["wsgiapp2", "urlmap", "App.mount"]


@pytest.fixture(params=HOSTS)
def kit(request, tmp_path):
    build = {"wsgiapp2": under_wsgiapp2, "App.mount": under_app_mount,
             "urlmap": lambda p: under_urlmap(p, tmp_path)}[request.param]
    return TestApp(build("/kit"), lint=True)


def sent(kit, path):
    """A Location as the host sends it: the toolkit keeps it relative; Pyramid's
    own Response (wsgiapp2 re-sends the kit's) makes it absolute with the Host."""
    pyramid = not isinstance(kit.app, App) and type(kit.app).__module__.startswith("pyramid")
    return "http://localhost" + path if pyramid else path


@pytest.mark.parametrize("path", ["/kit", "/kit/"])
def test_url_for_includes_the_prefix(kit, path):
    assert kit.get(path).json == {"user": "/kit/users/7", "notes": "/kit/notes",
                                  "file": "/kit/files/docs/a%20b.txt"}


def test_path_params_and_url_for_below_the_prefix(kit):
    assert kit.get("/kit/users/7").json == {"id": 7, "self": "/kit/users/7"}
    assert kit.get("/kit/files/a/b").json == {"path": "a/b"}


def test_trailing_slash_redirect_stays_under_the_prefix(kit):
    res = kit.get("/kit/users/7/?x=1", status=308)
    assert res.headers["Location"] == sent(kit, "/kit/users/7?x=1")


def test_handler_redirect_stays_under_the_prefix(kit):
    assert kit.get("/kit/old", status=301).headers["Location"] == sent(kit, "/kit/")


def test_webob_error_raised_by_a_handler_is_a_response(kit):
    assert kit.get("/kit/private", status=403).json["detail"] == "Members only"
    assert kit.get("/kit/nope", status=404).json["detail"] == "No route matches '/nope'"


def test_webob_error_escaping_the_app_is_a_response(kit):
    res = kit.get("/kit/raw/x", status=403)
    assert "raw app says no" in res.text


@pytest.mark.parametrize("build", [under_wsgiapp2, under_app_mount], ids=["wsgiapp2", "App.mount"])
def test_non_ascii_prefix_is_encoded_once(build):
    kit = TestApp(build("/café"))
    assert kit.get("/caf%C3%A9/").json["user"] == "/caf%C3%A9/users/7"
    assert kit.get("/caf%C3%A9/users/7/", status=308).headers["Location"] == \
        sent(kit, "/caf%C3%A9/users/7")


def test_readme_urlmap_example():
    site = TestApp(loadapp(f"config:{EXAMPLES / 'urlmap.ini'}"), lint=True)
    assert site.get("/kit/users/7").json == {"id": 7, "self": "/kit/users/7"}
    assert site.get("/kit/users/7/", status=308).headers["Location"].endswith("/kit/users/7")
    assert site.get("/").json == {"api_user": "/api/users/7", "kit_user": "/kit/users/7"}
    assert site.get("/api/users/8").json["self"] == "/api/users/8"
