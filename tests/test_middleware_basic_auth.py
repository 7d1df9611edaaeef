"""basic_auth: RFC 7617 against password hashes; malformed input is a 401, never a 500."""

import base64
import hashlib

import bcrypt
import pytest
import webtest

import webkit_app.middleware._basic_auth as auth_module
from webkit_app.middleware import basic_auth, check_password, hash_password
from webkit_app.middleware._basic_auth import parse_basic

FAST = "pbkdf2:sha256:1000"  # cheap hashes keep the tests quick
USERS = {"alice": hash_password("wonderland", FAST), "jörg": hash_password("pässwörd", FAST)}
CHALLENGE = 'Basic realm="Restricted", charset="UTF-8"'


def whoami(environ, start_response):
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    if environ["PATH_INFO"] == "/cached":
        headers += [("Cache-Control", "max-age=60"), ("Vary", "Accept")]
    start_response("200 OK", headers)
    user = environ.get("REMOTE_USER", "anonymous")
    return [f"{user} {environ.get('AUTH_TYPE', '-')}".encode()]


def make(**kw):
    kw.setdefault("users", USERS)
    return webtest.TestApp(basic_auth(whoami, **kw))


def basic(user_pass: bytes) -> str:
    return "Basic " + base64.b64encode(user_pass).decode("ascii")


def test_valid_credentials_set_remote_user():
    res = make().get("/", headers={"Authorization": basic(b"alice:wonderland")})
    assert res.text == "alice Basic"


def test_missing_credentials_get_a_401_challenge():
    res = make().get("/", status=401)
    assert res.headers["WWW-Authenticate"] == CHALLENGE
    assert res.json["status"] == 401


@pytest.mark.parametrize("header", [
    "Basic !!!",                                   # b64decode without validate gives b''
    "Basic",
    "Basic ",
    "Basic " + base64.b64encode(b"alice:wonderland").decode()[:-2],   # bad padding
    "Basic Zm9v YmFy",
    basic(b"alicewonderland"),                     # no colon
    basic(b"\xff\xfe:wonderland"),                 # user not UTF-8
    basic(b"alice:\xffwonderland"),                # password not UTF-8
    "Basic \xe9\xe9\xe9\xe9",                      # non-ASCII in the token
    "Bearer abc.def.ghi",
    "Digest username=alice",
    basic(b"alice:Wonderland"),                    # wrong password
    basic(b"Alice:wonderland"),                    # user names are case-sensitive
    basic(b"bob:wonderland"),                      # unknown user
    basic(b":"),
])
def test_malformed_or_wrong_credentials_get_401_never_500(header):
    res = make().get("/", extra_environ={"HTTP_AUTHORIZATION": header}, status=401)
    assert res.headers["WWW-Authenticate"] == CHALLENGE
    assert "REMOTE_USER" not in res.request.environ


def test_scheme_is_case_insensitive():
    res = make().get("/", headers={"Authorization": "bAsIc " + basic(b"alice:wonderland")[6:]})
    assert res.text == "alice Basic"


def test_non_ascii_credentials_compare_as_utf8_bytes():
    # hmac.compare_digest raises TypeError on non-ASCII str: bytes are compared.
    ok = make().get("/", headers={"Authorization": basic("jörg:pässwörd".encode())})
    assert ok.text == "jörg Basic"
    make().get("/", headers={"Authorization": basic("jörg:passwörd".encode())}, status=401)
    make().get("/", headers={"Authorization": basic("alice:wönderland".encode())}, status=401)


def test_password_may_contain_colons():
    app = make(users={"carol": hash_password("a:b:c", FAST)})
    assert app.get("/", headers={"Authorization": basic(b"carol:a:b:c")}).text == "carol Basic"


def test_cve_2023_30861_authenticated_responses_are_private_and_vary():
    res = make().get("/", headers={"Authorization": basic(b"alice:wonderland")})
    assert res.headers.getall("Vary") == ["Authorization"]
    assert res.headers["Cache-Control"] == "private"


def test_the_apps_cache_control_is_kept_and_vary_merged():
    res = make().get("/cached", headers={"Authorization": basic(b"alice:wonderland")})
    assert res.headers["Cache-Control"] == "max-age=60"
    assert res.headers.getall("Vary") == ["Accept, Authorization"]


PATHS = [
    # path, needs credentials (protect=/admin, exempt=/admin/health)
    ("/", False),
    ("/public", False),
    ("/admin", True),
    ("/admin/", True),
    ("/admin/users/7", True),
    ("/administrator", False),
    ("/Admin", False),  # matching is case-sensitive, like the router
    ("/admin/health", False),
    ("/admin/health/deep", False),
    ("//admin", True),                     # a lenient router might collapse slashes
    ("/public/../admin", True),
    ("/./admin", True),
    ("/admin/health/../users", True),      # exempt only if exempt both raw and resolved
    ("/admin/./health", True),
]


@pytest.mark.parametrize("path, protected", PATHS)
def test_protect_and_exempt_prefixes(path, protected):
    app = basic_auth(whoami, users=USERS, protect=("/admin",), exempt=("/admin/health",))
    assert app.needs_auth(path) is protected
    status = 401 if protected else 200
    webtest.TestApp(app).get("/", extra_environ={"PATH_INFO": path}, status=status)


def test_protect_and_exempt_accept_ini_strings_and_non_ascii_paths():
    app = basic_auth(whoami, users=USERS, protect="/admin /büro", exempt="/admin/health,")
    assert app.needs_auth("/b\xc3\xbcro/x")  # the WSGI (latin-1) form of /büro/x
    assert not app.needs_auth("/admin/health")
    assert app.needs_auth("/admin/x")


def test_protects_everything_by_default():
    app = basic_auth(whoami, users=USERS)
    assert all(app.needs_auth(p) for p in ("/", "", "/x", "/%ff", "/\xff"))


def test_401_renders_like_the_dispatcher_by_accept():
    res = make().get("/", headers={"Accept": "text/html"}, status=401)
    assert res.content_type == "text/html" and "<h1>401 Unauthorized</h1>" in res.text
    res = make().get("/", headers={"Accept": "text/plain"}, status=401)
    assert res.content_type == "text/plain"


def test_realm_is_quoted_and_validated():
    res = make(realm='Back "office" \\ 2').get("/", status=401)
    assert res.headers["WWW-Authenticate"] == (
        'Basic realm="Back \\"office\\" \\\\ 2", charset="UTF-8"')
    for realm in ("a\r\nSet-Cookie: x=1", "caf\xe9"):
        with pytest.raises(ValueError):
            basic_auth(whoami, users=USERS, realm=realm)


@pytest.mark.parametrize("users", [None, {}, {"a:b": hash_password("x", FAST)}])
def test_bad_user_tables_fail_at_start_up(users):
    with pytest.raises(ValueError):
        basic_auth(whoami, users=users)


@pytest.mark.parametrize("stored", [
    "plaintext-password",
    "$apr1$abc$def",
    "md5$salt$abcd",
    "scrypt:3:8:1$salt$00",          # N not a power of two
    "pbkdf2:sha256:0$salt$00",
    "pbkdf2:sha256:1000$salt$nothex",
    "{SHA}not base64!",
    "$2b$12$tooshort",
])
def test_unsupported_or_malformed_hashes_fail_at_start_up(stored):
    with pytest.raises(ValueError):
        basic_auth(whoami, users={"u": stored})


@pytest.mark.parametrize("method, prefix", [
    ("scrypt", "scrypt:32768:8:1$"),
    ("pbkdf2", "pbkdf2:sha256:600000$"),
    ("scrypt:1024:8:1", "scrypt:1024:8:1$"),
    ("pbkdf2:sha512:1000", "pbkdf2:sha512:1000$"),
])
def test_hash_password_is_self_describing_and_salted(method, prefix):
    stored = hash_password("s3cret", method)
    assert stored.startswith(prefix)
    assert check_password("s3cret", stored) and not check_password("s3creT", stored)
    assert hash_password("s3cret", method) != stored


def test_werkzeug_hashes_verify_and_ours_verify_in_werkzeug():
    security = pytest.importorskip("werkzeug.security")
    assert check_password("pw", security.generate_password_hash("pw"))
    assert check_password("pw", security.generate_password_hash("pw", "pbkdf2:sha256:1000"))
    assert security.check_password_hash(hash_password("pw", FAST), "pw")


def htpasswd_lines():
    bc = bcrypt.hashpw(b"bcrypt-pw", bcrypt.gensalt(4)).decode()
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(b"sha-pw").digest()).decode()
    long_pw = bcrypt.hashpw(b"L" * 72, bcrypt.gensalt(4)).decode()
    return "\n".join([
        "# users for the admin area",
        "",
        f"bee:{bc}",
        f"why:{bc.replace('$2b$', '$2y$', 1)}",   # htpasswd -B writes $2y$
        f"sha:{sha}",
        f"pb:{hash_password('pb-pw', FAST)}",
        f"long:{long_pw}",
    ]) + "\n"


@pytest.mark.parametrize("user, password, status", [
    ("bee", "bcrypt-pw", 200),
    ("bee", "bcrypt-PW", 401),
    ("why", "bcrypt-pw", 200),
    ("sha", "sha-pw", 200),
    ("sha", "sha-pw ", 401),
    ("pb", "pb-pw", 200),
    ("long", "L" * 72, 200),
    ("long", "L" * 100, 200),    # bcrypt uses 72 bytes, as Apache does; bcrypt>=5 would raise
    ("long", "L" * 71, 401),
    ("alice", "wonderland", 200),  # users= is merged over the file
])
def test_htpasswd_file(tmp_path, user, password, status):
    path = tmp_path / ".htpasswd"
    path.write_text(htpasswd_lines(), encoding="utf-8")
    app = make(htpasswd=str(path), users={"alice": USERS["alice"]})
    header = basic(f"{user}:{password}".encode())
    app.get("/", headers={"Authorization": header}, status=status)


def test_htpasswd_line_without_colon_fails_at_start_up(tmp_path):
    path = tmp_path / ".htpasswd"
    path.write_text("justaname\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":1:"):
        basic_auth(whoami, htpasswd=str(path))


def spy_checks(monkeypatch):
    """Record the stored hash each password check runs against (compiled from now on)."""
    checked = []
    make_checker = auth_module.make_checker

    def spy(stored):
        check = make_checker(stored)
        return lambda password: checked.append(stored) or check(password)

    monkeypatch.setattr(auth_module, "make_checker", spy)
    return checked


def test_successful_credentials_skip_the_slow_hash_next_time(monkeypatch):
    checked = spy_checks(monkeypatch)
    test_app = make()
    for _ in range(3):
        test_app.get("/", headers={"Authorization": basic(b"alice:wonderland")})
    test_app.get("/", headers={"Authorization": basic(b"alice:wrong")}, status=401)
    assert checked == [USERS["alice"], USERS["alice"]]


def mixed_table():
    """Users by cost class: two bcrypt costs, {SHA}, pbkdf2, scrypt; two users share one."""
    return {
        "bee": ("bcrypt-4", bcrypt.hashpw(b"bee-pw", bcrypt.gensalt(4)).decode()),
        "wasp": ("bcrypt-4", bcrypt.hashpw(b"wasp-pw", bcrypt.gensalt(4)).decode()
                 .replace("$2b$", "$2y$", 1)),
        "hornet": ("bcrypt-5", bcrypt.hashpw(b"hornet-pw", bcrypt.gensalt(5)).decode()),
        "sha": ("sha", "{SHA}" + base64.b64encode(hashlib.sha1(b"sha-pw").digest()).decode()),
        "pb": ("pbkdf2", hash_password("pb-pw", FAST)),
        "sc": ("scrypt", hash_password("sc-pw", "scrypt:1024:8:1")),
    }


@pytest.mark.parametrize("user, password, status", [
    ("mallory", "guess", 401),
    ("mallory", "bee-pw", 401),       # a decoy's own password authenticates no one
    ("bee", "wrong", 401),
    ("wasp", "wasp-pw", 200),
    ("hornet", "hornet-pw", 200),
    ("sha", "wrong", 401),
    ("pb", "pb-pw", 200),
    ("sc", "wrong", 401),
])
def test_unknown_users_run_the_same_hash_checks_as_known_ones(monkeypatch, user, password,
                                                              status):
    # Was: an unknown user cost one scrypt (~150 ms), a {SHA} user ~0 ms.
    checked = spy_checks(monkeypatch)
    table = mixed_table()
    app = make(users={name: stored for name, (_, stored) in table.items()})
    app.get("/", headers={"Authorization": basic(f"{user}:{password}".encode())}, status=status)
    label = {stored: cls for cls, stored in table.values()}
    assert sorted(label[stored] for stored in checked) == sorted(set(label.values()))
    if user in table:
        assert table[user][1] in checked  # the user's own hash, not a decoy of its class


def test_unknown_users_do_not_pay_for_a_slower_hash_than_the_tables(monkeypatch):
    users = {"bee": bcrypt.hashpw(b"bee-pw", bcrypt.gensalt(4)).decode()}
    app = make(users=users)
    calls = {"bcrypt": 0, "scrypt": 0}
    checkpw, scrypt = bcrypt.checkpw, auth_module._scrypt
    monkeypatch.setattr(bcrypt, "checkpw",
                        lambda *a: calls.update(bcrypt=calls["bcrypt"] + 1) or checkpw(*a))
    monkeypatch.setattr(auth_module, "_scrypt",
                        lambda *a: calls.update(scrypt=calls["scrypt"] + 1) or scrypt(*a))
    app.get("/", headers={"Authorization": basic(b"mallory:guess")}, status=401)
    assert calls == {"bcrypt": 1, "scrypt": 0}
    app.get("/", headers={"Authorization": basic(b"bee:guess")}, status=401)
    assert calls == {"bcrypt": 2, "scrypt": 0}


def test_parse_basic_table():
    assert parse_basic(basic(b"a:b")) == ("a", "b")
    assert parse_basic(basic(b"a:")) == ("a", "")
    assert parse_basic(None) is None
    assert parse_basic("Basic !!!") is None


def test_streamed_body_passes_through_and_is_closed():
    events = []

    class Body:
        def __iter__(self):
            yield b"a"
            yield b"b"

        def close(self):
            events.append("close")

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    test_app = webtest.TestApp(basic_auth(app, users=USERS))
    res = test_app.get("/", headers={"Authorization": basic(b"alice:wonderland")})
    assert res.body == b"ab" and events == ["close"]
