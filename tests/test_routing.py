"""Router tests: tables of (pattern, path, expected params)."""

import math
import uuid

import pytest

from webkit_app.routing import BUILTINS, Route, Router, new_converter, parse_template


def _router(*patterns, method="GET"):
    router = Router()
    for p in patterns:
        router.add(Route(p, (method,), lambda r: None, name=None))
    return router


def assert_matches(patterns, path, expected_pattern, **params):
    router = _router(*patterns)
    found = router.match(path)
    assert found is not None, f"{path} should match {expected_pattern}"
    endpoint, values = found
    route = endpoint.routes["GET"]
    assert route.pattern == expected_pattern
    assert dict(zip(route.names, values, strict=True)) == params


UID = "12345678-1234-5678-1234-567812345678"

MATCHES = [
    # patterns, path, expected pattern, params
    (["/"], "/", "/", {}),
    (["/users"], "/users", "/users", {}),
    (["/users/{id}"], "/users/abc", "/users/{id}", {"id": "abc"}),
    (["/users/{id:int}"], "/users/42", "/users/{id:int}", {"id": 42}),
    (["/users/{id:int}"], "/users/0042", "/users/{id:int}", {"id": 42}),
    (["/p/{x:float}"], "/p/1.5", "/p/{x:float}", {"x": 1.5}),
    (["/p/{x:float}"], "/p/3", "/p/{x:float}", {"x": 3.0}),
    (["/u/{u:uuid}"], "/u/" + UID, "/u/{u:uuid}", {"u": uuid.UUID(UID)}),
    (["/f/{p:path}"], "/f/a/b/c.txt", "/f/{p:path}", {"p": "a/b/c.txt"}),
    (["/f/{p:path}"], "/f/a", "/f/{p:path}", {"p": "a"}),
    # literal beats placeholder
    (["/users/{id}", "/users/me"], "/users/me", "/users/me", {}),
    (["/users/{id}", "/users/me"], "/users/you", "/users/{id}", {"id": "you"}),
    # specificity: int before str, whatever the registration order
    (["/x/{s}", "/x/{n:int}"], "/x/7", "/x/{n:int}", {"n": 7}),
    (["/x/{n:int}", "/x/{s}"], "/x/seven", "/x/{s}", {"s": "seven"}),
    # backtracking: the literal branch fails deeper, the param branch matches
    (["/a/b/c", "/a/{x}/d"], "/a/b/d", "/a/{x}/d", {"x": "b"}),
    # path after a literal prefix, and a more specific sibling
    (["/f/{p:path}", "/f/{n:int}/meta"], "/f/3/meta", "/f/{n:int}/meta", {"n": 3}),
    (["/f/{p:path}", "/f/{n:int}/meta"], "/f/3/other", "/f/{p:path}", {"p": "3/other"}),
    # non-ASCII literal and parameter (paths are matched decoded)
    (["/café/{name}"], "/café/naïve", "/café/{name}", {"name": "naïve"}),
    (["/users/"], "/users/", "/users/", {}),
]


@pytest.mark.parametrize("patterns,path,expected,params", MATCHES)
def test_matches(patterns, path, expected, params):
    assert_matches(patterns, path, expected, **params)


NO_MATCH = [
    (["/admin"], "/admin\n"),            # docs/hostile-inputs.rst: /admin%0a is not /admin
    (["/admin"], "/admin/"),
    (["/admin"], "/ADMIN"),              # case-sensitive (flask-cors CVE-2024-6866 shape)
    (["/users/{id:int}"], "/users/abc"),
    (["/users/{id:int}"], "/users/-1"),
    (["/users/{id:int}"], "/users/"),     # placeholders never match an empty segment
    (["/users/{id:int}"], "/users/1\n"),
    (["/users/{id}"], "/users/a/b"),
    (["/users/{id}"], "/users//"),
    (["/u/{u:uuid}"], "/u/not-a-uuid"),
    (["/p/{x:float}"], "/p/nan"),
    (["/f/{p:path}"], "/f/"),
    (["/f/{p:path}"], "/f"),
    (["/a b"], "/a+b"),                  # flask-cors CVE-2024-6844: '+' is not a space in paths
]


@pytest.mark.parametrize("patterns,path", NO_MATCH)
def test_no_match(patterns, path):
    assert _router(*patterns).match(path) is None


INVALID = [
    ("users", "must be a string starting with '/'"),
    ("/users//x", "empty segment"),
    ("/users/{id:nope}", "unknown converter 'nope'"),
    ("/users/{id}/{id}", "repeats the parameter 'id'"),
    ("/users/{id", "must be a literal or a whole"),
    ("/file-{id}.txt", "must be a literal or a whole"),
    ("/{p:path}/x", "must be the last segment"),
    ("/a\nb", "must be a literal or a whole"),
    ("/a?b", "must be a literal or a whole"),
]


@pytest.mark.parametrize("pattern,message", INVALID)
def test_invalid_pattern_raises_naming_it(pattern, message):
    with pytest.raises(ValueError) as info:
        parse_template(pattern)
    assert message in str(info.value)
    assert repr(pattern) in str(info.value)


CONFLICTS = [
    ("/users/{id:int}", "/users/{uid:int}"),
    ("/users", "/users"),
    ("/f/{a:path}", "/f/{b:path}"),
]


@pytest.mark.parametrize("first,second", CONFLICTS)
def test_conflicting_route_raises_naming_both(first, second):
    router = _router(first)
    with pytest.raises(ValueError) as info:
        router.add(Route(second, ("GET",), lambda r: None))
    assert first in str(info.value) and second in str(info.value)


def test_same_shape_different_methods_share_an_endpoint():
    router = Router()
    router.add(Route("/n/{id:int}", ("GET",), lambda r: "get"))
    router.add(Route("/n/{nid:int}", ("DELETE",), lambda r: "delete"))
    endpoint, values = router.match("/n/5")
    assert endpoint.routes["GET"].names == ("id",)
    assert endpoint.routes["DELETE"].names == ("nid",)
    assert endpoint.allow == "DELETE, GET, HEAD, OPTIONS"
    assert values == [5]


def _app_router(converters, *patterns):
    router = Router(converters)
    for p in patterns:
        router.add(Route(p, ("GET",), lambda r: None, converters=router.converters))
    return router


def test_custom_converter_regex_to_python_and_to_url():
    slug = new_converter("slug", r"[a-z0-9]+(?:-[a-z0-9]+)*", str.upper, str.lower)
    router = _app_router({"slug": slug}, "/posts/{s:slug}")
    endpoint, values = router.match("/posts/hello-world")
    assert values == ["HELLO-WORLD"]
    assert router.match("/posts/Hello_World") is None
    route = endpoint.routes["GET"]
    assert route.build({"s": "NEW-POST"}) == "/posts/new-post"
    with pytest.raises(ValueError, match="converter 'slug' is already registered"):
        router.add_converter("slug", new_converter("slug", r".*"))


def test_custom_converter_rejecting_in_to_python_falls_through():
    def even(text):
        if int(text) % 2:
            raise ValueError(text)
        return int(text)

    router = _app_router({"even": new_converter("even", r"[0-9]+", even, str)},
                         "/n/{x:even}", "/n/{y}")
    assert router.match("/n/4")[1] == [4]
    endpoint, values = router.match("/n/5")
    assert endpoint.routes["GET"].pattern == "/n/{y}" and values == ["5"]


def test_converters_belong_to_their_app_not_to_the_process():
    from webkit_app import App

    upper = App(converters={"code": new_converter("code", r"[a-z]+", str.upper)})
    digits = App()
    digits.add_converter("code", r"[0-9]+", int)
    upper.add_route("GET", "/c/{c:code}", lambda r: None)
    digits.add_route("GET", "/c/{c:code}", lambda r: None)
    assert upper.router.match("/c/abc")[1] == ["ABC"]
    assert upper.router.match("/c/123") is None
    assert digits.router.match("/c/123")[1] == [123]
    with pytest.raises(ValueError, match=r"unknown converter 'code' \(known: float, int, path, str, uuid\)"):
        App().add_route("GET", "/c/{c:code}", lambda r: None)
    with pytest.raises(ValueError, match="unknown converter 'code'"):
        parse_template("/c/{c:code}")


def test_the_built_in_converters_are_shared_read_only():
    with pytest.raises(TypeError, match="does not support item assignment"):
        BUILTINS["slug"] = new_converter("slug", r"[a-z]+")
    with pytest.raises(ValueError, match="converter 'int' is already registered"):
        Router({"int": new_converter("int", r"[0-9]+")})


def test_a_converter_is_added_before_the_first_request_only():
    from webtest import TestApp

    from webkit_app import App

    app = App()
    app.add_route("GET", "/", lambda r: None)
    TestApp(app).get("/", status="*")
    with pytest.raises(RuntimeError, match="cannot add converter 'slug': the app has served"):
        app.add_converter("slug", r"[a-z]+")


@pytest.mark.parametrize(("converters", "message"), [
    pytest.param({"slug": "[a-z]+"}, "expected a Converter named 'slug'", id="not-a-converter"),
    pytest.param({"slug": new_converter("other", "[a-z]+")}, "expected a Converter named 'slug'",
                 id="name-differs"),
])
def test_an_app_converter_must_be_a_converter_of_that_name(converters, message):
    from webkit_app import App

    with pytest.raises(ValueError, match=message):
        App(converters=converters)


def test_register_converter_is_gone_from_the_public_api():
    import webkit_app
    import webkit_app.routing

    assert not hasattr(webkit_app, "register_converter")
    assert not hasattr(webkit_app.routing, "register_converter")


BUILD = [
    ("/users/{id:int}", {"id": 7}, "/users/7"),
    ("/f/{p:path}", {"p": "a b/c?d"}, "/f/a%20b/c%3Fd"),
    ("/s/{name}", {"name": "a/b"}, "/s/a%2Fb"),
    ("/s/{name}", {"name": "é"}, "/s/%C3%A9"),
    ("/p/{x:float}", {"x": 1.5}, "/p/1.5"),
    ("/café", {}, "/caf%C3%A9"),
]


@pytest.mark.parametrize("pattern,params,path", BUILD)
def test_build(pattern, params, path):
    assert Route(pattern, ("GET",), lambda r: None).build(params) == path


@pytest.mark.parametrize("params,error", [
    ({}, KeyError),
    ({"id": 1, "x": 2}, KeyError),
    ({"id": "abc"}, ValueError),
    ({"id": -3}, ValueError),
])
def test_build_rejects_bad_params(params, error):
    with pytest.raises(error):
        Route("/users/{id:int}", ("GET",), lambda r: None).build(params)


def test_many_routes_are_in_the_trie_not_scanned():
    router = _router(*[f"/r{i}/{{x}}" for i in range(2000)])
    endpoint, values = router.match("/r1999/abc")
    assert endpoint.routes["GET"].pattern == "/r1999/{x}" and values == ["abc"]
    # one literal child per route prefix, held in a dict
    assert len(router.root.children) == 2000
    assert isinstance(router.root.children, dict)


# -- the float converter: negatives and exponents round-trip, nan and inf never ----------------

FLOAT_MATCHES = [
    ("-1.5", -1.5),
    ("-3", -3.0),
    ("1e5", 1e5),
    ("1E5", 1e5),
    ("1e+20", 1e20),
    ("1e-07", 1e-7),
    ("-2.5e-300", -2.5e-300),
    ("-0.0", -0.0),
    ("1.7976931348623157e+308", 1.7976931348623157e308),
]


@pytest.mark.parametrize("text,value", FLOAT_MATCHES)
def test_float_converter_matches_negatives_and_exponents(text, value):
    assert_matches(["/p/{x:float}"], "/p/" + text, "/p/{x:float}", x=value)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999",
                                  "-", "1.", ".5", "1e", "1e+", "--1", "+1", "1e5.0", "0x10",
                                  "1_000", "1e1234"])
def test_float_converter_refuses_nan_inf_and_malformed(text):
    assert _router("/p/{x:float}").match("/p/" + text) is None


FLOAT_ROUND_TRIPS = [1e20, 1e-7, -1.5, -0.0, 0.1, -1e16, 123456789.125, 5e-324, -5e-324,
                     1.7976931348623157e308, 0.00012345678901234567, 3]


@pytest.mark.parametrize("value", FLOAT_ROUND_TRIPS)
def test_float_converter_round_trips_negatives_and_exponents(value):
    route = Route("/p/{x:float}", ("GET",), lambda r: None)
    path = route.build({"x": value})
    router = Router()
    router.add(route)
    endpoint, values = router.match(path)
    assert values == [float(value)] and math.copysign(1, values[0]) == math.copysign(1, value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_float_converter_refuses_to_build_nan_and_inf(value):
    with pytest.raises(ValueError, match="is not a valid float"):
        Route("/p/{x:float}", ("GET",), lambda r: None).build({"x": value})


class _Handlers:
    def method(self, request):
        return None

    def __call__(self, request):
        return None


def _plain(request):
    return None


@pytest.mark.parametrize(("obj", "expected"), [
    pytest.param(_plain, f"{__name__}._plain", id="function"),
    pytest.param(_Handlers.method, f"{__name__}._Handlers.method", id="method"),
    pytest.param(_Handlers(), f"{__name__}._Handlers", id="callable-instance"),
    pytest.param(Route, "webkit_app.routing.template.Route", id="class"),
])
def test_dotted_name_names_functions_classes_and_instances(obj, expected):
    from webkit_app.routing.template import dotted_name

    assert dotted_name(obj) == expected
    assert Route("/x", ("GET",), obj).handler_name == expected


def test_route_listing_names_handlers_and_mounts_with_one_function():
    from webkit_app import App

    app = App()
    app.route("/x")(_plain)
    app.mount("/sub", _Handlers())
    assert [row.handler for row in app.routes] == [f"{__name__}._plain", f"{__name__}._Handlers"]
