"""cors: the Fetch standard's CORS protocol, deny by default, Vary: Origin everywhere."""

import pytest
import webtest

from webkit_app.middleware import cors

A = "https://a.com"
ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"


def plain_app(calls):
    """Answers 200, or the status in the path (/status/404), possibly with its own CORS headers."""

    def app(environ, start_response):
        calls.append(environ["REQUEST_METHOD"])
        path = environ["PATH_INFO"]
        status = "404 Not Found" if path == "/status/404" else "200 OK"
        headers = [("Content-Type", "text/plain"), ("X-Total", "3")]
        if path == "/vary":
            headers.append(("Vary", "Accept-Encoding"))
        if path == "/own-cors":
            headers += [(ACAO, "*"), ("access-control-allow-credentials", "true")]
        start_response(status, headers)
        return [b"body"]

    return app


def make(calls=None, **kw):
    return webtest.TestApp(cors(plain_app([] if calls is None else calls), **kw))


def cors_headers(res):
    return {k: v for k, v in res.headerlist if k.lower().startswith("access-control-")}


def preflight(app, origin=A, method="PUT", headers=None, status=204, **extra):
    h = {"Origin": origin, "Access-Control-Request-Method": method, **extra}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return app.options("/things", headers=h, status=status)


@pytest.mark.parametrize("origin", [
    "https://a.com.evil.org",
    "https://evil.org",
    "https://A.com",
    "HTTPS://a.com",
    "http://a.com",
    "https://a.com:443",
    "https://a.com/",
    "https://a.com, https://b.com",
    "https://a.comx",
    " https://a.com",
    "null",
    "",
])
@pytest.mark.parametrize("credentials", [False, True])
def test_an_unlisted_origin_never_gets_allow_origin(origin, credentials):
    res = make(allow_origins=(A,), allow_credentials=credentials).get(
        "/", extra_environ={"HTTP_ORIGIN": origin})
    assert cors_headers(res) == {}
    assert res.headers["Vary"] == "Origin"


def test_a_listed_origin_gets_itself_back_with_vary_origin():
    res = make(allow_origins=(A, "https://b.com")).get("/", headers={"Origin": A})
    assert res.headers[ACAO] == A
    assert res.headers["Vary"] == "Origin"
    assert ACAC not in res.headers


def test_cve_2024_6866_origin_matching_is_case_sensitive():
    # flask-cors matched case-insensitively; the origin must be exactly as listed.
    app = make(allow_origins=("https://App.example.com",),
               allow_origin_regex=r"https://[a-z]+\.example\.org")
    assert app.get("/", headers={"Origin": "https://App.example.com"}).headers[ACAO]
    for origin in ("https://app.example.com", "https://APP.example.org"):
        assert ACAO not in app.get("/", headers={"Origin": origin}).headers


def test_cve_2024_6839_origin_regex_must_match_the_whole_origin():
    app = make(allow_origin_regex=r"https://[a-z]+\.example\.com")
    assert app.get("/", headers={"Origin": "https://app.example.com"}).headers[ACAO] == (
        "https://app.example.com")
    for origin in ("https://app.example.com.evil.org", "https://evil.org?https://x.example.com",
                   "xhttps://app.example.com", "https://app.example.com:8443"):
        assert ACAO not in app.get("/", headers={"Origin": origin}).headers


def test_several_origin_regexes_and_ini_string_options():
    app = make(allow_origins="https://a.com, https://b.com", allow_origin_regex=[
        r"https://.*\.a\.com", r"http://localhost:\d+"], allow_credentials="true", max_age="60")
    for origin in ("https://b.com", "https://x.a.com", "http://localhost:8080"):
        res = app.get("/", headers={"Origin": origin})
        assert (res.headers[ACAO], res.headers[ACAC]) == (origin, "true")
    assert preflight(app, method="GET").headers["Access-Control-Max-Age"] == "60"


@pytest.mark.parametrize("config", [
    {"allow_origins": (A,)},
    {"allow_origins": ("*",)},
    {"allow_origin_regex": ".*"},
])
def test_origin_null_is_refused_unless_listed(config):
    app = make(**config)
    assert ACAO not in app.get("/", headers={"Origin": "null"}).headers
    preflight(app, origin="null", method="GET", status=403)
    listed = make(allow_origins=("null",))
    assert listed.get("/", headers={"Origin": "null"}).headers[ACAO] == "null"


def test_wildcard_is_sent_as_star_without_credentials():
    res = make(allow_origins="*").get("/", headers={"Origin": "https://any.org"})
    assert res.headers[ACAO] == "*"
    assert ACAC not in res.headers


def test_wildcard_with_credentials_is_refused_at_start_up():
    with pytest.raises(ValueError):
        cors(plain_app([]), allow_origins=("*",), allow_credentials=True)


def test_credentials_send_the_concrete_origin_never_star():
    res = make(allow_origins=(A,), allow_credentials=True,
               expose_headers=("X-Total",)).get("/", headers={"Origin": A})
    assert cors_headers(res) == {ACAO: A, ACAC: "true", "Access-Control-Expose-Headers": "X-Total"}


def test_vary_origin_is_sent_without_origin_and_merged_with_the_apps():
    app = make(allow_origins=(A,))
    assert app.get("/").headers["Vary"] == "Origin"
    res = app.get("/vary", headers={"Origin": A})
    assert res.headers.getall("Vary") == ["Accept-Encoding, Origin"]


def test_error_responses_from_the_app_carry_cors_headers():
    res = make(allow_origins=(A,)).get("/status/404", headers={"Origin": A}, status=404)
    assert res.headers[ACAO] == A and res.headers["Vary"] == "Origin"


def test_cors_headers_set_by_the_app_are_replaced_never_duplicated():
    app = make(allow_origins=(A,))
    allowed = app.get("/own-cors", headers={"Origin": A})
    assert allowed.headers.getall(ACAO) == [A]
    assert ACAC not in allowed.headers
    refused = app.get("/own-cors", headers={"Origin": "https://evil.org"})
    assert cors_headers(refused) == {}


def test_preflight_for_allowed_origin_method_and_headers_answers_204():
    calls = []
    app = make(calls, allow_origins=(A,), allow_methods=("GET", "PUT"),
               allow_headers=("Content-Type", "X-Token"), allow_credentials=True, max_age=120)
    res = preflight(app, headers="content-type, X-Token")
    assert res.body == b"" and "Content-Type" not in res.headers
    assert cors_headers(res) == {
        ACAO: A, ACAC: "true", "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Max-Age": "120",
        "Access-Control-Allow-Headers": "content-type, x-token",
    }
    assert "Origin" in res.headers["Vary"]
    assert calls == []  # the app never sees a preflight


@pytest.mark.parametrize("origin, method, headers", [
    ("https://evil.org", "GET", None),       # origin not allowed
    (A, "DELETE", None),                     # method not allowed
    (A, "put", None),                        # methods are case-sensitive
    (A, "GET", "X-Token"),                   # header not allowed
    (A, "GET", "content-type, x-other"),     # one header not allowed
])
def test_a_preflight_asking_for_what_is_not_allowed_gets_403_without_cors_headers(
        origin, method, headers):
    calls = []
    app = make(calls, allow_origins=(A,), allow_methods=("GET", "PUT"),
               allow_headers=("Content-Type",), allow_credentials=True)
    res = preflight(app, origin=origin, method=method, headers=headers, status=403)
    assert cors_headers(res) == {}
    assert "Origin" in res.headers["Vary"]
    assert res.json["status"] == 403
    assert calls == []


def test_options_without_request_method_is_an_actual_request():
    calls = []
    res = make(calls, allow_origins=(A,)).options("/things", headers={"Origin": A})
    assert calls == ["OPTIONS"] and res.headers[ACAO] == A


def test_options_with_request_method_but_no_origin_is_not_a_preflight():
    calls = []
    make(calls, allow_origins=(A,)).options(
        "/things", headers={"Access-Control-Request-Method": "GET"})
    assert calls == ["OPTIONS"]


def test_expose_headers_only_on_actual_responses():
    app = make(allow_origins=(A,), expose_headers="X-Total X-Page")
    assert app.get("/", headers={"Origin": A}).headers[
        "Access-Control-Expose-Headers"] == "X-Total, X-Page"
    assert "Access-Control-Expose-Headers" not in preflight(app, method="GET").headers


def test_wildcard_methods_and_headers_reflect_valid_tokens_only():
    app = make(allow_origins=(A,), allow_methods="*", allow_headers="*")
    res = preflight(app, method="PATCH", headers="X-A, x-b")
    assert res.headers["Access-Control-Allow-Methods"] == "PATCH"
    assert res.headers["Access-Control-Allow-Headers"] == "x-a, x-b"
    preflight(app, method="GET", headers="bad header", status=403)
    preflight(app, method="PA TCH", status=403)


def test_cve_2024_6221_private_network_access_is_off_by_default():
    asks = {"Access-Control-Request-Private-Network": "true"}
    res = preflight(make(allow_origins=(A,)), method="GET", **asks)
    assert "Access-Control-Allow-Private-Network" not in res.headers
    res = preflight(make(allow_origins=(A,), allow_private_network=True), method="GET", **asks)
    assert res.headers["Access-Control-Allow-Private-Network"] == "true"
    res = preflight(make(allow_origins=(A,), allow_private_network=True), method="GET")
    assert "Access-Control-Allow-Private-Network" not in res.headers


def test_nothing_is_allowed_by_default():
    app = make()
    assert cors_headers(app.get("/", headers={"Origin": A})) == {}
    preflight(app, method="GET", status=403)


def test_max_age_can_be_omitted():
    res = preflight(make(allow_origins=(A,), max_age=None), method="GET")
    assert "Access-Control-Max-Age" not in res.headers


def test_streamed_body_passes_through_and_is_closed():
    events = []

    def app(environ, start_response):
        def body():
            try:
                start_response("200 OK", [("Content-Type", "text/plain")])
                yield b"a"
                yield b"b"
            finally:
                events.append("finally")
        return body()

    res = webtest.TestApp(cors(app, allow_origins=(A,))).get("/", headers={"Origin": A})
    assert res.body == b"ab" and res.headers[ACAO] == A and events == ["finally"]
