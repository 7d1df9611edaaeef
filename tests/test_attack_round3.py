"""Round-3 attacks on the new surfaces: each test is a finding's reproduction
(it failed before its fix) or pins a behaviour an attacker probed."""

from __future__ import annotations

import pytest
import webtest

from webkit_app import App, Response, text_response
from webkit_app.middleware import SessionCookie, cross_origin, hash_password, session
from webkit_app.paths import relative_location

SECRET = "r3" * 8 + "attack-round-three-secret!!!"


# -- Location: backslashes are slashes to a browser ------------------------------------


@pytest.mark.parametrize("value", ["\\\\evil.example/x", "\\/evil.example", "/\\evil.example",
                                   "\t\\\\evil.example", "\\\t\\evil.example"])
def test_a_location_a_browser_reads_as_protocol_relative_stays_on_the_site(value):
    # NOTE: the WHATWG URL parser reads '\' as '/' in http(s) URLs, so
    # 'Location: \\evil.example' went to //evil.example (WebOb made it
    # absolute on the request's host, which the relative Location dropped).
    assert relative_location(value) == "/%2f" + value.replace("\t", "")[2:]


def test_a_raw_location_header_with_backslashes_is_not_an_open_redirect():
    app = App()
    app.add_route("GET", "/go", lambda r: Response(status=302, headers={"Location": r.GET["to"]}))
    res = webtest.TestApp(app, lint=True).get("/go", {"to": "\\\\evil.example"}, status=302)
    assert res.headers["Location"] == "/%2fevil.example"


@pytest.mark.parametrize("value", ["/notes", "\\notes", "/a\\b", "https://ok.example/x", "?q=1"])
def test_other_locations_are_kept(value):
    assert relative_location(value) == value


# -- error handlers ------------------------------------------------------------------------


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit,
                                      BaseException])
def test_an_error_handler_for_an_exception_never_handled_is_refused(exc_type):
    app = App()
    with pytest.raises(TypeError, match=f"{exc_type.__name__} is not an Exception subclass"):
        app.add_error_handler(exc_type, lambda request, exc: text_response("never"))


def test_head_of_an_error_handlers_answer_has_its_headers_and_no_body():
    app = App()
    app.add_route("GET", "/", lambda r: 1 / 0)
    app.add_error_handler(ZeroDivisionError, lambda r, e: text_response("div", status=418))
    res = webtest.TestApp(app, lint=True).head("/", status=418)
    assert res.body == b""
    assert res.headers["Content-Length"] == "3"


# -- sessions ------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "message"), [
    ({"cookie_name": "__Host-session"}, "__Host- needs secure=True"),
    ({"cookie_name": "__Secure-session"}, "__Secure- needs secure=True"),
    ({"cookie_name": "__Host-session", "secure": True, "domain": "example.com"},
     "__Host- needs no domain"),
    ({"cookie_name": "__Host-session", "secure": True, "path": "/app"}, "__Host- needs path='/'"),
    ({"cookie_name": "__host-Session"}, "__Host- needs secure=True"),
])
def test_a_prefixed_cookie_name_a_browser_would_drop_is_refused(options, message):
    # NOTE: browsers silently refuse a __Host- cookie with Domain, a Path other
    # than / or no Secure: the session would never come back, with no error.
    with pytest.raises(ValueError, match=message):
        SessionCookie(SECRET, **options)


def test_a_correct_host_prefixed_cookie_is_accepted():
    assert SessionCookie(SECRET, cookie_name="__Host-session", secure=True).name == "__Host-session"


def _writes_session(cache_control):
    app = App()

    def view(request):
        request.session["seen"] = True
        return text_response("hi", headers={"Cache-Control": cache_control})

    app.add_route("GET", "/", view)
    return webtest.TestApp(session(app, secret=SECRET), lint=True)


@pytest.mark.parametrize(("chosen", "sent"), [
    ("public, max-age=600", "private, max-age=600"),
    ("max-age=600", "max-age=600, private"),
    ("s-maxage=60", "s-maxage=60, private"),
    ("private, max-age=60", "private, max-age=60"),
    ("no-store", "no-store"),
])
def test_a_response_setting_the_session_cookie_is_never_stored_by_a_shared_cache(chosen, sent):
    # NOTE: Vary: Cookie alone lets a shared cache hand the Set-Cookie (a new
    # session, its CSRF token) to the next client sending the same Cookie
    # header (none at all, say): session fixation through the cache.
    res = _writes_session(chosen).get("/")
    assert res.headers.getall("Cache-Control") == [sent]
    assert res.headers["Set-Cookie"].startswith("session=")


def test_a_value_nested_too_deep_is_the_session_type_error_not_a_recursion_error():
    app = App()

    def view(request):
        value: list = []
        for _ in range(100_000):
            value = [value]
        request.session["deep"] = value
        return text_response("no")

    app.add_route("GET", "/", view)
    t = webtest.TestApp(session(app, secret=SECRET))
    with pytest.raises(TypeError, match="session values must be JSON-serialisable"):
        t.get("/")


def test_the_samesite_error_names_the_choices_once():
    with pytest.raises(ValueError, match=r"samesite is 'Strict', 'Lax', 'None' \(the string\) "
                                         r"or None, not 'bogus'"):
        SessionCookie(SECRET, samesite="bogus")


# -- cross_origin: the tricks that must all be refused or passed as Go does ----------------


def _co():
    app = App()
    for path in ("/x", "/hooks/pay", "/api/{rest:path}"):
        app.add_route(["POST", "GET"], path, lambda r: text_response("ok"))
    return webtest.TestApp(cross_origin(app, bypass=("/hooks/pay", "/api/"),
                                        trusted_origins=("https://t.example",)))


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/x", {"Sec-Fetch-Site": "Same-Origin"}, 403),
    ("/x", {"Sec-Fetch-Site": " same-origin"}, 403),
    ("/x", {"Sec-Fetch-Site": "same-origin, cross-site"}, 403),
    ("/x", {"Sec-Fetch-Site": "cross-site", "Origin": "https://T.example"}, 403),
    ("/x", {"Sec-Fetch-Site": "cross-site", "Origin": "https://t.example"}, 200),
    ("/x", {"Origin": "http://h.example/"}, 403),
    ("/x", {"Origin": "http://h.example:80"}, 403),
    ("/x", {"Origin": "http://h.example@evil.example"}, 403),
    ("/x", {"Origin": "null"}, 403),
    ("/x", {"Origin": "http://H.EXAMPLE"}, 200),
    ("/hooks/pay/", {"Origin": "http://evil.example"}, 403),
    ("/hooks//pay", {"Origin": "http://evil.example"}, 403),
    ("/api/./x", {"Origin": "http://evil.example"}, 403),
    ("/api//x", {"Origin": "http://evil.example"}, 403),
    ("/api", {"Origin": "http://evil.example"}, 403),
    ("/api/x", {"Origin": "http://evil.example"}, 200),
])
def test_cross_origin_tricks(path, headers, status):
    res = _co().post(path, headers={"Host": "h.example", **headers}, status="*")
    assert res.status_int == status


def test_cross_origin_ipv6_host_and_lowercase_method():
    t = _co()
    assert t.post("/x", headers={"Host": "[::1]:8080", "Origin": "http://[::1]:8080"}).text == "ok"
    res = t.request("/x", method="get", headers={"Host": "h.example",
                                                "Origin": "http://evil.example"}, expect_errors=True)
    assert res.status_int == 403, "only upper-case GET, HEAD and OPTIONS are safe (as in Go)"


def test_the_refusal_page_escapes_the_origin():
    res = _co().post("/x", headers={"Host": "h", "Accept": "text/html",
                                    "Origin": "http://<script>alert(1)</script>"}, status=403)
    assert "<script>" not in res.text
    assert "&lt;script&gt;" in res.text


# -- PasteDeploy: secrets never in error messages ------------------------------------------


def test_a_bad_users_option_does_not_print_the_password_hashes():
    from webkit_app import paste

    stored = hash_password("pw", "pbkdf2:sha256:1000")
    with pytest.raises(ValueError, match=r"\[filter:basic_auth\] users: expected one 'user:hash'") \
            as raised:
        paste.basic_auth_filter({}, users=f"alice:{stored}\nbob")
    assert stored.rpartition("$")[2] not in str(raised.value)


@pytest.mark.parametrize("option", ["secret", "fallback_secrets"])
def test_session_filter_errors_never_show_a_secret(option, monkeypatch):
    from webkit_app import paste

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FALLBACKS", raising=False)
    leaked = "LEAKED-short-key"
    with pytest.raises(ValueError, match=f"session {option} must be") as raised:
        paste.session_filter({}, **{"secret": SECRET, option: leaked})
    assert leaked not in str(raised.value)


# -- the notes stores: NUL, injection-shaped text, huge offsets ---------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def notes_app(request, settings):
    """The demo under its stack on each store; the store's pool closed after."""
    from webkit_app.demo import Config, make_demo, make_store
    from webkit_app.demo.factory import wrap

    if request.param == "postgresql":
        settings = {**settings, "webkit_app.database_url": request.getfixturevalue("pg_url")}
    config = Config.from_settings(settings)
    store = make_store(config)
    yield webtest.TestApp(wrap(make_demo(config, store=store), config))
    store.pool.close()


@pytest.mark.timeout(60)
def test_a_nul_in_a_note_is_422_on_every_store(notes_app):
    # NOTE: PostgreSQL text cannot hold U+0000: psycopg raised DataError -> 500.
    res = notes_app.post_json("/api/notes", {"text": "a\x00b"}, status=422)
    assert res.json == {"status": 422, "title": "Unprocessable Entity", "field": "text",
                        "detail": "text: contains a NUL character (U+0000)"}
    assert notes_app.get("/api/notes").json["total"] == 0


@pytest.mark.timeout(60)
def test_injection_shaped_input_is_data_on_every_store(notes_app):
    text = "x'); DROP TABLE notes; --"
    notes_app.post_json("/api/notes", {"text": text}, status=201)
    assert notes_app.get("/api/notes").json["notes"][0]["text"] == text
    for query in ({"offset": "1;DROP TABLE notes"}, {"limit": "1 OR 1=1"},
                  {"offset": "9" * 30}, {"offset": "-1"}):
        notes_app.get("/api/notes", query, status=400)
    notes_app.get("/api/notes/1%20OR%201=1", status=404)
    assert notes_app.get("/api/notes").json["total"] == 1
