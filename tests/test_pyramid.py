"""webkit_app.pyramid: an App's handlers as Pyramid views in a real Configurator,
driven through WebTest; ``proutes`` lists them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pyramid.config import Configurator
from webob.exc import HTTPConflict, HTTPFound
from webtest import TestApp

from webkit_app import App, json_response, text_response
from webkit_app.examples.pyramid_app import main
from webkit_app.pyramid import pyramid_pattern
from webkit_app.routing import Route

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_INI = ROOT / "webkit_app" / "examples" / "pyramid.ini"


@pytest.fixture
def site():
    """The README's example: the kit's routes under /api, the kit mounted at /kit."""
    return TestApp(main({}), lint=True)


def configure(app, prefix="", settings=None, **kwargs):
    config = Configurator(settings=settings or {})
    config.include("webkit_app.pyramid")
    config.add_webkit_routes(app, prefix=prefix, **kwargs)
    return config


def serve(app, prefix="", settings=None, **kwargs):
    return TestApp(configure(app, prefix, settings, **kwargs).make_wsgi_app(), lint=True)


@pytest.mark.parametrize("pattern, expected", [
    ("/", "/"),
    ("/users/{id:int}", "/users/{id:[0-9]{1,18}}"),
    ("/users/{name}", "/users/{name:[^/]+}"),
    ("/files/{p:path}", "/files/{p:[^/].*}"),
    ("/a/{x:float}/b/", "/a/{x:-?[0-9]{1,20}(?:\\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,3})?}/b/"),
])
def test_pyramid_pattern_translates_converters(pattern, expected):
    assert pyramid_pattern(Route(pattern, ("GET",), print)) == expected


def test_pyramid_pattern_adds_the_prefix():
    assert pyramid_pattern(Route("/users/{id:int}", ("GET",), print), "/api/") == \
        "/api/users/{id:[0-9]{1,18}}"


@pytest.mark.parametrize("pattern", ["/a/:b", "/files/*rest"])
def test_literals_pyramid_would_misread_are_refused(pattern):
    with pytest.raises(ValueError, match="Pyramid placeholder syntax"):
        pyramid_pattern(Route(pattern, ("GET",), print))


@pytest.mark.parametrize("path, expected", [
    ("/api/users/7", {"id": 7, "self": "/api/users/7"}),        # int, converted
    ("/api/users/bob", {"name": "bob"}),                         # int rejects: next route
    ("/api/users/%C3%A9", {"name": "é"}),
    ("/api/files/a/b/", {"path": "a/b/"}),                       # path keeps the slash
    ("/api/notes", {"notes": [], "create": "/api/notes"}),       # a second name, same path
    ("/api/", {"user": "/api/users/7", "notes": "/api/notes",
               "file": "/api/files/docs/a%20b.txt"}),
    ("/", {"api_user": "/api/users/7", "kit_user": "/kit/users/7"}),  # route_path by name
])
def test_handlers_run_as_pyramid_views(site, path, expected):
    assert site.get(path).json == expected


@pytest.mark.parametrize("path", ["/api/files//x", "/api/users/", "/api/nope"])
def test_paths_the_toolkit_would_not_match_are_404(site, path):
    site.get(path, status=404)


def test_route_url_builds_toolkit_routes():
    config = configure(App_with_user(), prefix="/api")
    config.commit()
    request = _pyramid_request(config, "http://example.com/")
    assert request.route_url("user", id=7) == "http://example.com/api/users/7"


def App_with_user():  # reads as a constructor
    app = App()
    app.add_route("GET", "/users/{id:int}", lambda r: json_response(r.urlvars), name="user")
    return app


def _pyramid_request(config, url):
    from pyramid.request import Request as PyramidRequest

    request = PyramidRequest.blank(url)
    request.registry = config.registry
    return request


def test_urlvars_hold_converted_values_and_matchdict_too():
    app = App()
    seen = {}

    @app.route("/items/{id:int}/{key:uuid}")
    def item(request):
        seen.update(urlvars=request.urlvars, matchdict=request.pyramid_request.matchdict)
        return text_response("ok")

    key = "12345678-1234-5678-1234-567812345678"
    serve(app).get(f"/items/42/{key}")
    assert seen["urlvars"] == {"id": 42, "key": __import__("uuid").UUID(key)}
    assert seen["matchdict"]["id"] == 42


def test_routes_sharing_a_path_keep_their_own_parameter_names():
    app = App()
    app.add_route("GET", "/a/{x:int}", lambda r: json_response(r.urlvars))
    app.add_route("POST", "/a/{y:int}", lambda r: json_response(r.urlvars))
    t = serve(app)
    assert t.get("/a/1").json == {"x": 1}
    assert t.post("/a/2").json == {"y": 2}


def test_the_most_specific_route_wins_whatever_the_registration_order():
    app = App()
    app.add_route("GET", "/items/{name}", lambda r: text_response("str"))
    app.add_route("GET", "/items/{id:int}", lambda r: text_response("int"))
    app.add_route("GET", "/items/new", lambda r: text_response("literal"))
    app.add_route("GET", "/items/{rest:path}", lambda r: text_response("path"))
    t = serve(app)
    assert [t.get(p).text for p in ("/items/new", "/items/5", "/items/x", "/items/x/y")] == \
        ["literal", "int", "str", "path"]


def test_unsupported_method_is_405_with_allow(site):
    res = site.put("/api/users/7", status=405)
    assert res.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert res.json["status"] == 405


def test_options_is_204_with_allow_and_head_follows_get(site):
    assert site.options("/api/notes", status=204).headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    res = site.head("/api/users/7", status=200)
    assert res.body == b"" and res.content_type == "application/json"


def test_webob_errors_are_rendered_like_the_toolkit(site):
    assert site.get("/api/private", status=403).json == \
        {"status": 403, "title": "Forbidden", "detail": "Members only"}
    html = site.get("/api/private", headers={"Accept": "text/html"}, status=403)
    assert html.content_type == "text/html" and "Members only" in html.text


def test_a_returned_error_is_rendered_too():
    app = App()
    app.add_route("GET", "/c", lambda r: HTTPConflict("taken"))
    assert serve(app).get("/c", status=409).json["detail"] == "taken"


@pytest.mark.parametrize("raise_it", [False, True])
def test_a_header_with_a_newline_never_reaches_the_server(raise_it):
    def handler(request):
        resp = HTTPFound(location="/ok")
        resp.headers["X-Next"] = "a\r\nSet-Cookie: admin=1"
        if raise_it:
            raise resp
        return resp

    app = App()
    app.add_route("GET", "/go", handler)
    with pytest.raises(ValueError, match="X-Next"):
        serve(app).get("/go")


def test_redirects_built_with_url_for_stay_under_the_prefix(site):
    assert site.get("/api/old", status=301).headers["Location"] == "/api/"


def test_request_parsing_is_the_toolkits_strict_one(site):
    assert site.post_json("/api/notes", {"a": 1}, status=201).json == {"note": {"a": 1}}
    bad = site.post("/api/notes", "{bad", content_type="application/json", status=400)
    assert "Malformed JSON" in bad.json["detail"]
    site.post("/api/notes", "x", content_type="text/plain", status=415)


def test_max_body_size_is_read_under_the_webkit_app_prefix():
    from webkit_app.examples.kit import make_kit

    t = serve(make_kit(), settings={"webkit_app.max_body_size": "10"})
    t.post_json("/notes", {"a": "b"}, status=201)
    t.post_json("/notes", {"a": "bcdefghijk"}, status=413)


@pytest.mark.parametrize("value", ["lots", "+10", "1_000", "0", "-5"])
def test_a_bad_setting_names_the_key(value):
    message = re.escape(f"webkit_app.max_body_size='{value}': expected a size")
    with pytest.raises(ValueError, match=message):
        configure(App_with_user(), settings={"webkit_app.max_body_size": value})


def test_sizes_read_as_config_reads_them_and_misspelt_keys_refused():
    """Regression: add_webkit_routes parsed the size with int(), refusing the
    documented '10MiB' (deploy/production.ini) and accepting '+10' and '1_000';
    a misspelt webkit_app.* key was silently ignored."""
    from webkit_app.examples.kit import make_kit

    t = serve(make_kit(), settings={"webkit_app.max_body_size": "1KiB", "max_body_size": "x"})
    t.post_json("/notes", {"a": "b" * 900}, status=201)
    t.post_json("/notes", {"a": "b" * 1100}, status=413)
    with pytest.raises(ValueError, match="webkit_app.max_bodysize: unknown setting"):
        configure(App_with_user(), settings={"webkit_app.max_bodysize": "10"})


def test_name_prefix_and_url_for_fallback_to_pyramid_routes():
    app = App()
    app.add_route("GET", "/u/{id:int}", lambda r: json_response(
        {"own": r.url_for("user", id=3), "pyramid": r.url_for("home", _absolute=True)}),
        name="user")
    config = configure(app, prefix="/v1", name_prefix="v1.")
    config.add_route("home", "/")
    t = TestApp(config.make_wsgi_app())
    assert t.get("/v1/u/1").json == {"own": "/v1/u/3", "pyramid": "http://localhost/"}


def test_url_for_validates_parameters_like_the_toolkit():
    app = App()
    app.add_route("GET", "/u/{id:int}", lambda r: text_response(r.url_for("user", id="x")),
                  name="user")
    with pytest.raises(ValueError, match="not a valid int"):
        serve(app).get("/u/1")


def test_mounted_apps_are_served_with_wsgiapp2():
    inner = App()
    inner.add_route("GET", "/", lambda r: text_response(r.script_name + "|" + r.url_for("r")),
                    name="r")
    outer = App()
    outer.mount("/sub", inner)
    t = serve(outer, prefix="/api")
    assert t.get("/api/sub").text == "/api/sub|/api/sub/"
    assert t.get("/api/sub/").text == "/api/sub|/api/sub/"


def test_error_views_render_pyramids_own_404_as_json():
    config = configure(App_with_user())
    config.add_webkit_error_views()
    t = TestApp(config.make_wsgi_app())
    res = t.get("/nope", status=404)
    assert res.json["status"] == 404 and res.json["title"] == "Not Found"


def test_proutes_lists_the_toolkit_routes():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "proutes"),
                          str(EXAMPLE_INI)], capture_output=True, text=True, timeout=60,
                         env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[2:] if line.strip()]
    assert ["user", "/api/users/{id:[0-9]{1,18}}", "webkit_app.examples.kit.user", "GET"] in rows
    assert ["notes", "/api/notes", "webkit_app.examples.kit.list_notes", "GET"] in rows
    assert ["notes", "/api/notes", "webkit_app.examples.kit.create_note", "POST"] in rows
    assert ["file", "/api/files/{path:[^/].*}", "webkit_app.examples.kit.file", "GET"] in rows
    assert [r[:2] for r in rows if r[0] == "kit"] == [["kit", "/kit/*subpath"]]


def test_the_pyramid_guide_shows_the_tested_example_files():
    """The guide includes the real files (``literalinclude``), so it cannot drift from them."""
    guide = (ROOT / "docs" / "guides" / "pyramid.rst").read_text()
    included = set(re.findall(r"^\.\. literalinclude:: \.\./\.\./(\S+)$", guide, re.M))
    assert included == {
        "deploy/development.ini", "webkit_app/examples/kit.py",
        "webkit_app/examples/urlmap.ini", "webkit_app/examples/pyramid_app.py",
        "webkit_app/examples/pyramid.ini"}
    assert all((ROOT / path).is_file() for path in included)


def test_an_explicit_head_route_wins_over_get():
    app = App()
    app.add_route("GET", "/x", lambda r: text_response("get"))
    app.add_route("HEAD", "/x", lambda r: text_response("", headers={"X-Head": "1"}))
    assert serve(app).head("/x").headers.get("X-Head") == "1"
    assert serve(app).get("/x").text == "get"


def test_params_predicate_takes_converter_names():
    config = Configurator()
    config.include("webkit_app.pyramid")
    config.add_route("n", "/n/{n:[0-9]+}", webkit_params=(("n", "int"),))
    config.add_view(lambda request: text_response(repr(request.matchdict["n"])), route_name="n")
    assert TestApp(config.make_wsgi_app()).get("/n/0012").text == "12"


@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
def test_any_method_route_runs_as_the_fallback_view():
    """An ANY_METHOD route (the demo's echo) takes methods no other view names;
    OPTIONS stays the automatic 204 and Allow lists named methods only."""
    from webkit_app import ANY_METHOD

    app = App()
    app.add_route("GET", "/echo", lambda request: text_response("get"))
    app.add_route(ANY_METHOD, "/echo", lambda request: text_response(request.method))
    t = serve(app)
    assert t.get("/echo").text == "get"
    assert t.request("/echo", method="PROPFIND").text == "PROPFIND"
    assert t.post("/echo", "", content_type="text/plain").text == "POST"
    res = t.options("/echo", status=204)
    assert res.headers["Allow"] == "GET, HEAD, OPTIONS"
