"""session: a signed cookie read as ``request.session``; a bad cookie is an empty session."""

import base64
import json
import logging
import sys

import pytest
import webtest
from webob.cookies import SignedSerializer

from webkit_app import App, json_response, stream, text_response
from webkit_app.middleware import SessionCookie, SessionTooLarge, errors, session

session_module = sys.modules["webkit_app.middleware._session"]
SECRET = "s" * 16 + "3cr3t-for-the-session-tests!"
OLD = "o" * 16 + "ld-key-that-was-rotated-out!!"
OTHER = "x" * 16 + "another-application-entirely"
SALT = "webkit_app.session"  # NOTE: the cookie format's namespace (SessionCookie)


def kit():
    """Handlers touching the session in each way a view can."""
    app = App()

    def put(request):
        for key, value in request.POST.items():
            request.session[key] = value
        return text_response("ok")

    app.add_route("POST", "/put", put)
    app.add_route("GET", "/get", lambda r: json_response(dict(r.session)))
    app.add_route("GET", "/peek", lambda r: text_response(str("user" in r.session)))
    app.add_route("GET", "/untouched", lambda r: text_response("no session"))
    app.add_route("GET", "/clear", lambda r: r.session.clear() or text_response("cleared"))
    app.add_route("GET", "/cached", lambda r: text_response(
        str(r.session.get("user")), headers={"Cache-Control": "no-store", "Vary": "Accept"}))
    return app


def make(app=None, **kw):
    kw.setdefault("secret", SECRET)
    return webtest.TestApp(session(app or kit(), **kw), lint=True)


def signed_in(t, **values):
    t.post("/put", values or {"user": "alice"})
    return t


def cookie_value(res):
    header = res.headers["Set-Cookie"]
    return header.split(";")[0].partition("=")[2]


def with_cookie(t, value, path="/get"):
    t.reset()
    return t.get(path, headers={"Cookie": f"session={value}"})


def test_a_value_written_is_read_on_the_next_request():
    t = signed_in(make(), user="alice", theme="dark")
    assert t.get("/get").json == {"user": "alice", "theme": "dark"}


def test_request_session_without_the_middleware_names_it():
    app = App()
    app.add_route("GET", "/", lambda r: text_response(str(r.session)))
    with pytest.raises(RuntimeError, match=r"request.session needs the session middleware"):
        webtest.TestApp(app).get("/")


def test_untouched_or_only_read_sessions_send_no_cookie():
    t = signed_in(make())
    for path in ("/untouched", "/get", "/peek"):
        assert "Set-Cookie" not in t.get(path).headers, path


def test_a_response_that_read_the_session_varies_by_cookie_and_is_private():
    t = signed_in(make())
    res = t.get("/peek")
    assert res.text == "True"
    assert res.headers["Vary"] == "Cookie"
    assert res.headers["Cache-Control"] == "private"
    untouched = t.get("/untouched")
    assert "Vary" not in untouched.headers and "Cache-Control" not in untouched.headers


def test_the_apps_own_vary_and_cache_control_are_kept():
    res = signed_in(make()).get("/cached")
    assert res.headers.getall("Vary") == ["Accept, Cookie"]
    assert res.headers["Cache-Control"] == "no-store"


def test_clearing_a_session_deletes_its_cookie_and_clearing_nothing_sends_none():
    t = signed_in(make())
    res = t.get("/clear")
    assert res.headers["Set-Cookie"].startswith("session=; Max-Age=0; ")
    assert t.get("/get").json == {}
    t.reset()
    assert "Set-Cookie" not in t.get("/clear").headers


def test_values_must_be_json():
    app = App()
    app.add_route("GET", "/", lambda r: r.session.__setitem__("when", object()))
    with pytest.raises(TypeError, match="session values must be JSON-serialisable"):
        make(app).get("/")


@pytest.mark.parametrize("mangle", [
    pytest.param(lambda v: v[:-1], id="truncated_by_one"),
    pytest.param(lambda v: v[: len(v) // 2], id="truncated_by_half"),
    pytest.param(lambda v: v[:10], id="signature_only"),
    pytest.param(lambda v: ("A" if v[5] != "A" else "B").join((v[:5], v[6:])), id="signature_flipped"),
    pytest.param(lambda v: v[:-2] + ("A" if v[-2] != "A" else "B") + v[-1], id="payload_flipped"),
    pytest.param(lambda v: v + "AAAA", id="extended"),
])
def test_a_tampered_or_truncated_cookie_is_an_empty_session(mangle, caplog):
    t = make()
    value = cookie_value(t.post("/put", {"user": "alice"}))
    with caplog.at_level(logging.DEBUG, logger="webkit_app.session"):
        res = with_cookie(t, mangle(value))
    assert res.status_int == 200 and res.json == {}
    assert any("no key verifies it" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value", [
    pytest.param("", id="empty"),
    pytest.param("!!!", id="not_base64"),
    pytest.param("=", id="padding"),
    pytest.param("\u00e9t\u00e9", id="latin1"),
    pytest.param("a" * 5000, id="long"),
    pytest.param('"quoted"', id="quoted"),
    pytest.param(base64.urlsafe_b64encode(b'{"d": {"user": "admin"}}').decode(), id="unsigned_json"),
])
def test_a_garbage_cookie_is_an_empty_session_never_an_error(value):
    res = with_cookie(make(), value)
    assert res.status_int == 200 and res.json == {}


def test_a_cookie_signed_with_a_foreign_key_is_an_empty_session():
    foreign = make(secret=OTHER)
    value = cookie_value(foreign.post("/put", {"user": "admin"}))
    assert with_cookie(make(), value).json == {}


def test_a_signed_value_that_is_not_a_session_is_an_empty_session(caplog):
    forged = SignedSerializer(SECRET, SALT).dumps(["not", "a", "session"]).decode()
    with caplog.at_level(logging.DEBUG, logger="webkit_app.session"):
        assert with_cookie(make(), forged).json == {}
    assert any("not a session" in r.getMessage() for r in caplog.records)


def test_the_first_cookie_that_verifies_wins_over_a_tossed_one():
    t = make()
    value = cookie_value(t.post("/put", {"user": "alice"}))
    t.reset()
    res = t.get("/get", headers={"Cookie": f"session=garbage; session={value}"})
    assert res.json == {"user": "alice"}


def test_rotation_reads_with_fallbacks_and_writes_with_the_new_key_only():
    old = make(secret=OLD)
    old_value = cookie_value(old.post("/put", {"user": "alice"}))
    rotated = make(secret=SECRET, fallback_secrets=(OLD,))
    assert with_cookie(rotated, old_value).json == {"user": "alice"}
    new_value = cookie_value(rotated.post("/put", {"user": "bob"}))
    assert with_cookie(make(secret=SECRET), new_value).json == {"user": "bob"}
    assert with_cookie(make(secret=OLD), new_value).json == {}, "written with a fallback key"
    assert with_cookie(make(secret=SECRET), old_value).json == {}, "old key no longer listed"


def test_an_expired_cookie_is_an_empty_session_even_if_the_client_kept_it(monkeypatch):
    t = make(max_age=60)
    value = cookie_value(t.post("/put", {"user": "alice"}))
    now = session_module.time.time()
    monkeypatch.setattr(session_module.time, "time", lambda: now + 59)
    assert with_cookie(t, value).json == {"user": "alice"}
    monkeypatch.setattr(session_module.time, "time", lambda: now + 61)
    assert with_cookie(t, value).json == {}


def test_the_expiry_is_inside_the_signature():
    t = make(max_age=60)
    value = cookie_value(t.post("/put", {"user": "alice"}))
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    sig, payload = raw[:64], json.loads(raw[64:])
    assert payload["e"] - payload["c"] == 60 and payload["d"] == {"user": "alice"}
    payload["e"] += 10**6
    extended = base64.urlsafe_b64encode(sig + json.dumps(payload).encode()).decode().rstrip("=")
    assert with_cookie(t, extended).json == {}


def test_cookie_flags_by_default():
    header = make().post("/put", {"user": "alice"}).headers["Set-Cookie"]
    attrs = [a.strip() for a in header.split(";")[1:]]
    assert "HttpOnly" in attrs and "SameSite=Lax" in attrs and "Path=/" in attrs
    assert f"Max-Age={14 * 24 * 3600}" in attrs
    assert "secure" not in [a.lower() for a in attrs]


@pytest.mark.parametrize(("environ", "secure", "expected"), [
    pytest.param({"wsgi.url_scheme": "https"}, None, True, id="https"),
    pytest.param({}, None, False, id="http"),
    pytest.param({"HTTP_X_FORWARDED_PROTO": "https"}, None, False, id="forged_forwarded_proto"),
    pytest.param({}, True, True, id="always"),
    pytest.param({"wsgi.url_scheme": "https"}, False, False, id="never"),
])
def test_secure_exactly_over_https(environ, secure, expected):
    t = make(secure=secure)
    header = t.post("/put", {"user": "a"}, extra_environ=environ).headers["Set-Cookie"]
    assert ("; secure" in header.lower()) is expected


def test_cookie_options_reach_the_header():
    t = make(cookie_name="sid", path="/app", domain="example.com", httponly=False,
             samesite="strict", max_age="3600")
    header = t.post("/put", {"user": "a"}).headers["Set-Cookie"]
    assert header.startswith("sid=")
    assert "; Path=/app; " in header and "; Domain=example.com; " in header
    assert "; Max-Age=3600; " in header and header.endswith("SameSite=Strict")
    assert "HttpOnly" not in header


@pytest.mark.parametrize(("kw", "message"), [
    pytest.param({"secret": "short"}, "at least 32 characters", id="short_secret"),
    pytest.param({"secret": None}, "at least 32 characters", id="no_secret"),
    pytest.param({"fallback_secrets": ("x" * 31,)}, "fallback_secrets must be", id="short_fallback"),
    pytest.param({"max_age": 0}, "max_age must be 1 second or more", id="max_age"),
    pytest.param({"samesite": "sometimes"}, "samesite is .Strict., .Lax.", id="samesite"),
    pytest.param({"samesite": "None"}, "needs secure=True", id="none_without_secure"),
    pytest.param({"path": "/a; Domain=evil.com"}, "path must be printable ASCII", id="path"),
    pytest.param({"domain": "example.com\r\nX: y"}, "domain must be printable", id="domain"),
    pytest.param({"cookie_name": "bad name"}, "cookie_name must be a token", id="cookie_name"),
])
def test_bad_options_fail_at_construction(kw, message):
    kw.setdefault("secret", SECRET)
    with pytest.raises(ValueError, match=message):
        session(kit(), **kw)


def test_a_session_too_large_for_a_cookie_is_a_loud_error(caplog):
    t = webtest.TestApp(errors(session(kit(), secret=SECRET)))
    t.post("/put", {"a": "x" * 2000})
    with caplog.at_level(logging.ERROR):
        res = t.post("/put", {"b": "y" * 1500}, status=500)
    assert "Set-Cookie" not in res.headers
    assert any("browsers drop cookies over 4096 bytes" in r.getMessage() for r in caplog.records)
    assert any(r.exc_info and r.exc_info[0] is SessionTooLarge for r in caplog.records)
    with pytest.raises(SessionTooLarge, match="over 4096"):
        make().post("/put", {"a": "x" * 5000})


def test_a_debug_stack_shows_the_size_error():
    t = webtest.TestApp(errors(session(kit(), secret=SECRET), debug=True))
    res = t.post("/put", {"a": "x" * 5000}, status=500, headers={"Accept": "text/html"})
    assert "SessionTooLarge" in res.text


def test_a_streamed_body_is_not_buffered_and_still_gets_its_cookie():
    started = []

    def chunks():
        started.append(True)
        yield b"one\n"
        yield b"two\n"

    app = App()
    app.add_route("GET", "/s", lambda r: r.session.update(user="s") or stream(chunks()))
    calls = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/s", "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1"}
    body = session(app, secret=SECRET)(environ, lambda s, h, e=None: calls.append(h))
    assert calls and any(n == "Set-Cookie" for n, _ in calls[0]) and not started
    assert b"".join(body) == b"one\ntwo\n"
    body.close()


def test_flash_messages_are_shown_once():
    app = App()
    app.add_route("GET", "/add", lambda r: r.session.flash("saved") or text_response("ok"))
    app.add_route("GET", "/show", lambda r: text_response(",".join(r.session.pop_flash())))
    t = make(app)
    t.get("/add")
    assert t.get("/show").text == "saved"
    assert t.get("/show").text == ""


def test_the_cookie_format_is_shared_by_session_cookie():
    cookie = SessionCookie(SECRET)
    value = cookie.encode({"user": "alice"}, 1, session_module.time.time())
    assert with_cookie(make(), value).json == {"user": "alice"}


@pytest.mark.parametrize("failure", [
    pytest.param(lambda: text_response("half done", status=500), id="returned-500"),
    pytest.param(lambda: text_response("busy", status=503), id="returned-503"),
])
def test_a_failed_request_does_not_save_what_it_changed(failure):
    app = kit()

    def fail(request):
        request.session["user"] = "mallory"
        return failure()

    app.add_route("POST", "/fail", fail)
    t = signed_in(make(app))
    res = t.post("/fail", status="5*")
    assert "Set-Cookie" not in res.headers
    assert res.headers["Cache-Control"] == "private" and "Cookie" in res.headers["Vary"]
    assert t.get("/get").json == {"user": "alice"}
