"""Work and memory a client can cause are bounded: caches keyed by client data,
concurrent password-hash checks, and path decisions that agree with the router."""

import base64
import json
import subprocess
import sys
import threading
import time

import pytest
from webob import Request
from webob.exc import HTTPBadRequest

import webkit_app.middleware._basic_auth as auth_module
from webkit_app import App, Response, httperror
from webkit_app.httperror import JSON_TYPE, negotiate
from webkit_app.middleware import access_log, basic_auth, hash_password
from webkit_app.middleware._wsgi import normalized_path

SLOW = "scrypt:16384:8:1"  # 16 MiB and tens of ms a check: what the bound is for
FAST = "pbkdf2:sha256:1000"


def basic(user_pass: bytes) -> str:
    return "Basic " + base64.b64encode(user_pass).decode("ascii")


def ok_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


# -- the error-format cache ------------------------------------------------------------------


def test_accept_cache_holds_no_huge_keys(monkeypatch):
    cache = dict(httperror._FORMAT_CACHE)
    monkeypatch.setattr(httperror, "_FORMAT_CACHE", cache)
    for i in range(300):
        accept = f"text/plain;q=0.{i % 9 + 1}, " + "a/b;c=d, " * 2500 + f"x/y{i}"  # ~22 KB
        assert negotiate(accept) == "text/plain"
    assert sum(len(key or "") for key in cache) <= 256 * 256
    assert len(cache) <= 256


def test_accept_cache_still_remembers_browser_values(monkeypatch):
    cache = dict(httperror._FORMAT_CACHE)
    monkeypatch.setattr(httperror, "_FORMAT_CACHE", cache)
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert negotiate(accept) == "text/html" and cache[accept] == "text/html"
    assert negotiate(None) == JSON_TYPE


# -- concurrent hash checks ------------------------------------------------------------------


class Meter:
    """Wraps every compiled hash check: counts those running at once; a check of
    the password ``hold`` waits for :attr:`release`."""

    def __init__(self, monkeypatch, pause=0.0):
        self.now = self.peak = self.calls = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.pause = pause
        real = auth_module.make_checker
        monkeypatch.setattr(auth_module, "make_checker", lambda stored: self.wrap(real(stored)))

    def wrap(self, check):
        def counted(password):
            with self.lock:
                self.now += 1
                self.calls += 1
                self.peak = max(self.peak, self.now)
            try:
                if password == b"hold":
                    self.release.wait(10)
                time.sleep(self.pause)  # NOTE: lets the other threads pile up, if they may
                return check(password)
            finally:
                with self.lock:
                    self.now -= 1
        return counted


def get(app, user_pass, results=None):
    req = Request.blank("/", headers={"Authorization": basic(user_pass)})
    res = req.get_response(app)
    if results is not None:
        results.append(res.status_code)
    return res


def test_failed_logins_run_at_most_max_concurrent_checks_hashes_at_once(monkeypatch):
    meter = Meter(monkeypatch, pause=0.02)
    app = basic_auth(ok_app, users={"admin": hash_password("s3cret", SLOW)},
                     max_concurrent_checks=2, check_timeout=30)
    statuses = []
    threads = [threading.Thread(target=get, args=(app, f"admin:wrong{i}".encode(), statuses))
               for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [401] * 12
    assert meter.peak == 2 and meter.calls == 12


def test_no_free_slot_answers_503_with_retry_after_and_known_logins_skip_the_queue(monkeypatch):
    meter = Meter(monkeypatch)
    app = basic_auth(ok_app, users={"admin": hash_password("s3cret", FAST)},
                     max_concurrent_checks=1, check_timeout=0.05)
    assert get(app, b"admin:s3cret").status_code == 200  # remembered from now on
    holder = threading.Thread(target=get, args=(app, b"admin:hold"))
    holder.start()
    try:
        while meter.now == 0:
            time.sleep(0.001)
        res = get(app, b"nobody:guess")
        assert res.status_code == 503 and res.headers["Retry-After"] == "1"
        assert json.loads(res.body)["detail"] == "Too many logins are being checked; try again shortly"
        assert get(app, b"admin:s3cret").status_code == 200
    finally:
        meter.release.set()
        holder.join(10)
    assert get(app, b"nobody:guess").status_code == 401


@pytest.mark.parametrize("kw", [{"max_concurrent_checks": 0}, {"check_timeout": -1}])
def test_bad_check_limits_fail_at_start_up(kw):
    with pytest.raises(ValueError, match="max_concurrent_checks must be >= 1"):
        basic_auth(ok_app, users={"a": hash_password("x", FAST)}, **kw)


RSS_PROBE = """
import base64, resource, sys, threading
from webob import Request
from webob.exc import HTTPBadRequest
from webkit_app.middleware import basic_auth, hash_password

def ok(environ, start_response):
    start_response("200 OK", [])
    return [b""]

app = basic_auth(ok, users={"admin": hash_password("pw", "scrypt:16384:8:1")},
                 max_concurrent_checks=2, check_timeout=60)
def login(i):
    auth = "Basic " + base64.b64encode(b"admin:no%d" % i).decode()
    assert Request.blank("/", headers={"Authorization": auth}).get_response(app).status_code == 401
login(-1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
threads = [threading.Thread(target=login, args=(i,)) for i in range(12)]
for t in threads: t.start()
for t in threads: t.join()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_twelve_concurrent_scrypt_failures_grow_memory_by_at_most_two_hashes():
    out = subprocess.run([sys.executable, "-c", RSS_PROBE], capture_output=True, text=True,
                         timeout=60, check=True)
    # NOTE: one scrypt:16384:8:1 check holds 16 MiB; unbounded, 12 at once held ~190 MiB.
    assert int(out.stdout) < 3 * 16


# -- path decisions agree with the router ----------------------------------------------------


def admin_app():
    app = App()

    @app.route("/admin/users/{id:int}")
    def user(request):
        return Response(f"user {request.urlvars['id']}")

    @app.route("/{section}/users/{id:int}")
    def other(request):
        return Response("other")

    return app


ADMIN = admin_app()
GUARDED = basic_auth(ADMIN, users={"admin": hash_password("s3cret", FAST)}, protect="/admin")


def call(app, raw_path):
    """The response to a GET of ``raw_path`` (WebTest's lint refuses the bad ones)."""
    req = Request.blank("/")
    req.environ["PATH_INFO"] = raw_path
    res = req.get_response(app)
    res.body  # NOTE: iterated and closed, as a server would  # noqa: B018
    return res


def routed_to_admin(raw_path):
    try:
        path = normalized_path({"PATH_INFO": raw_path})
    except Exception:
        return False
    found = ADMIN.router.match(path)
    return found is not None and found[0].routes["GET"].pattern == "/admin/users/{id:int}"


@pytest.mark.parametrize("raw, status", [
    # raw PATH_INFO (WSGI: percent-decoded by the server, latin-1 str), answer without credentials
    pytest.param("/admin/users/1", 401, id="plain"),
    pytest.param("/admin/users/01", 401, id="leading-zero"),
    pytest.param("admin/users/1", 400, id="no-leading-slash"),
    pytest.param("xadmin/users/1", 400, id="router-would-drop-first-char"),
    pytest.param("", 404, id="empty-is-root"),
    pytest.param("//admin/users/1", 401, id="double-slash"),
    pytest.param("/./admin/users/1", 401, id="dot-segment"),
    pytest.param("/x/../admin/users/1", 401, id="dot-dot-segment"),
    pytest.param("/ADMIN/users/1", 200, id="upper-case-is-another-route"),
    pytest.param("/admin;x/users/1", 200, id="semicolon-is-another-segment"),
    pytest.param("/admin./users/1", 200, id="trailing-dot-segment"),
    pytest.param("/admin/users/1.", 401, id="trailing-dot-value"),
    pytest.param("/admin%2Fusers/1", 404, id="undecoded-2F-is-one-segment"),
    pytest.param("/admin/users/1\n", 401, id="newline"),
    pytest.param("/admin\xc3\xa9/users/1", 200, id="utf8-segment"),
    pytest.param("/admin/users/\xff", 400, id="not-utf8"),
])
def test_basic_auth_protects_every_path_the_router_sends_to_admin(raw, status):
    res = call(GUARDED, raw)
    if routed_to_admin(raw):
        assert res.status_int == 401
    assert res.status_int == status


def test_a_path_not_starting_with_slash_gets_the_dispatchers_400_message():
    res = call(GUARDED, "admin/users/1")
    assert res.status_int == 400 and res.json["detail"] == "The request path must start with '/'"
    with pytest.raises(HTTPBadRequest, match="not valid UTF-8"):
        normalized_path({"PATH_INFO": "/\xff"})


@pytest.mark.parametrize("raw, logged", [
    pytest.param("/healthz", False, id="excluded"),
    pytest.param("/b\xc3\xbcro", False, id="excluded-non-ascii"),
    pytest.param("healthz", True, id="no-leading-slash-is-logged"),
    pytest.param("/healthz/", True, id="trailing-slash-is-another-path"),
    pytest.param("/HEALTHZ", True, id="case"),
])
def test_access_log_exclude_paths_match_the_decoded_path_exactly(raw, logged, caplog):
    app = access_log(ok_app, exclude_paths=("/healthz", "/büro"))
    with caplog.at_level("INFO", logger="webkit_app.access"):
        assert call(app, raw).status_int == 200
    assert bool(caplog.records) is logged


def test_hash_checks_still_run_in_a_child_forked_after_one_ran():
    script = (
        "import base64, os, sys\n"
        "from webob import Request\n"
        "from webkit_app.middleware import basic_auth, hash_password\n"
        "def ok(e, s):\n    s('200 OK', []); return [b'']\n"
        "app = basic_auth(ok, users={'a': hash_password('pw', 'pbkdf2:sha256:1000')},\n"
        "                 max_concurrent_checks=1, check_timeout=5)\n"
        "def status(pw):\n"
        "    auth = 'Basic ' + base64.b64encode(b'a:' + pw).decode()\n"
        "    return Request.blank('/', headers={'Authorization': auth}).get_response(app).status_code\n"
        "assert status(b'no') == 401\n"
        "pid = os.fork()\n"
        "if pid == 0:\n    os._exit(0 if status(b'pw') == 200 else 3)\n"
        "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "0"
