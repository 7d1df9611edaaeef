"""Every row of ``docs/hostile-inputs.rst`` end to end, and that page's test map.

The tests here send the bad input over real HTTP to the demo behind its
production middleware stack (``create_app``'s layers, DEBUG off, Basic auth
on ``/admin``, CORS and ALLOWED_HOSTS configured), served by gunicorn with
``deploy/gunicorn.conf.py`` and by waitress through ``webkit-app serve``; a
few rows that only a handler can produce (a bad status, an error half-way
through a body, X-Forwarded-For behind a trusted proxy) go in process
through the same stack, wrapped in ``wsgiref.validate``.

``docs/hostile-inputs.rst`` names, for each class of hostile input, its
answer and every test of it (``file::test``, a parametrized case in
brackets); :func:`test_every_hostile_input_row_is_tested` checks that each
named test exists.
"""

from __future__ import annotations

import ast
import functools
import http.client
import io
import json
import logging
import re
import time
import uuid
from importlib.metadata import version
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit
from wsgiref.validate import validator

import docutils.core
import docutils.nodes
import pytest
import requests
import webob
import webtest
from reliability_util import (
    HTPASSWD_PASSWORD,
    HTPASSWD_USER,
    Server,
    demo_server,
    exchange,
    write_htpasswd,
)
from webtest.http import StopableWSGIServer

from webkit_app import Response, json_response, stream
from webkit_app.demo import Config, make_demo
from webkit_app.demo.factory import wrap

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[1]
#: the project's list of hostile inputs, their answers and their tests
HOSTILE_INPUTS = ROOT / "docs" / "hostile-inputs.rst"

TIMEOUT = 10
ORIGIN = "http://127.0.0.1:9"  # the one origin CORS allows here
JSON = "application/json"
MP = "multipart/form-data; boundary=XyZ"


@pytest.fixture(scope="module", params=[pytest.param("gunicorn", marks=pytest.mark.server),
                                        pytest.param("waitress", marks=pytest.mark.server)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp(request.param)
    htpasswd = write_htpasswd(folder / "htpasswd")
    with demo_server(folder, request.param, app="reliability_util:fault_app",
                     WEB_CONCURRENCY="1", HTPASSWD=str(htpasswd), CORS_ORIGINS=ORIGIN,
                     ALLOWED_HOSTS="127.0.0.1,localhost") as running:
        yield running


def get(server: Server, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", TIMEOUT)
    kwargs.setdefault("allow_redirects", False)
    return requests.get(server.url + path, **kwargs)


def raw_get(server: Server, target: str, headers: dict[str, str] | None = None):
    """GET ``target`` byte for byte (``requests`` would re-quote a bad escape like
    ``%zz``); returns ``(status, headers, parsed JSON or text)``."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request("GET", target, headers=headers or {})
        res = conn.getresponse()
        body = res.read().decode("utf-8", "replace")
        is_json = res.getheader("Content-Type", "").startswith("application/json")
        return res.status, res.headers, json.loads(body) if is_json else body
    finally:
        conn.close()


def post(server: Server, path: str, body: bytes, content_type: str, **kwargs) -> requests.Response:
    headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
    return requests.post(server.url + path, data=body, headers=headers, timeout=TIMEOUT, **kwargs)


def multipart(parts: list[tuple[str, bytes, str | None]], boundary: str = "XyZ") -> bytes:
    out = []  # NOTE: joined once: bytes += is quadratic over 20,000 parts
    for name, value, filename in parts:
        disp = b'form-data; name="%s"' % name.encode()
        if filename is not None:
            disp += b'; filename="%s"' % filename.encode()
        out.append(b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n"
                   % (boundary.encode(), disp, value))
    return b"".join(out) + b"--%s--\r\n" % boundary.encode()


def access_line(server: Server, rid: str) -> str:
    """The app's access-log line of the request ``rid`` (written when its body closed)."""
    def find() -> str | None:
        return next((line for line in server.output.splitlines()
                     if "[webkit_app.access]" in line and rid in line), None)
    deadline = time.monotonic() + 10
    while (line := find()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert line, f"no access-log line for {rid}:\n{server.output[-2000:]}"
    return line.split("[webkit_app.access] ", 1)[1]


def assert_no_traceback(server: Server) -> None:
    assert "Traceback" not in server.output, server.output[-3000:]


# -- request parsing --------------------------------------------------------------------

JSON_ROWS = {
    "malformed": (b'{"text": ', JSON, 400, "Malformed JSON"),
    "empty": (b"", JSON, 400, "empty"),
    "not_utf8": (b'{"text": "\xff"}', JSON, 400, "not valid UTF-8"),
    "charset_bogus": (b'{"text": "a"}', JSON + "; charset=bogus", 415, "must be UTF-8"),
    "nested_1000_deep": (b"[" * 1000 + b"]" * 1000, JSON, 400, "nested deeper"),
    "integer_4301_digits": (b"9" * 4301, JSON, 400, "number too long"),
    "sent_as_text_plain": (b'{"text": "a"}', "text/plain", 415, "Expected Content-Type"),
}


@pytest.mark.parametrize("row", list(JSON_ROWS))
def test_json_body_errors_end_to_end(server: Server, row: str) -> None:
    body, ctype, status, message = JSON_ROWS[row]
    res = post(server, "/api/notes", body, ctype)
    assert res.status_code == status, res.text
    assert res.json()["status"] == status and message in res.json()["detail"]
    assert_no_traceback(server)


@pytest.mark.parametrize("path", ["/api/echo?a=%ff", "/api/echo?a=%zz", "/api/echo?a=%",
                                  "/api/notes?limit=%ff", "/api/echo?%c3=1"])
def test_query_not_utf8_end_to_end(server: Server, path: str) -> None:
    status, _, body = raw_get(server, path)
    assert status == 400 and body["status"] == 400, body
    assert_no_traceback(server)


@pytest.mark.parametrize("path", ["/%ff", "/api/%ff%fe", "/users/%c3%28", "/%ed%a0%80"])
def test_path_not_utf8_end_to_end(server: Server, path: str) -> None:
    rid = uuid.uuid4().hex
    res = get(server, path, headers={"X-Request-ID": rid})
    assert res.status_code == 400 and "UTF-8" in res.json()["detail"]
    line = access_line(server, rid)  # logged from the raw environ, escaped
    logged = line.split('"GET ', 1)[1].split(" HTTP/1.1", 1)[0]
    assert unquote_to_bytes(logged) == unquote_to_bytes(path) and '" 400 ' in line, line
    assert_no_traceback(server)


@pytest.mark.parametrize("path", ["/admin%0a", "/admin%0d", "/admin%00", "/admin%0a/stats",
                                  "/admin%09", "/admin/stats%0a"])
@pytest.mark.parametrize("auth", [None, (HTPASSWD_USER, HTPASSWD_PASSWORD)])
def test_admin_with_a_control_character_is_not_admin(server: Server, path: str, auth) -> None:
    res = get(server, path, auth=auth)
    assert res.status_code in (400, 401, 404), res.text
    assert "Signed in as" not in res.text and '"pool"' not in res.text


FORM_ROWS = {
    "percent_ff": (b"a=%ff", "application/x-www-form-urlencoded", 400),
    "raw_latin1_byte": (b"a=\xe9", "application/x-www-form-urlencoded", 400),
    "charset_latin1": (b"a=1", "application/x-www-form-urlencoded; charset=latin-1", 415),
    "charset_shift_jis": (b"a=1", "application/x-www-form-urlencoded; charset=shift_jis", 415),
    "1001_fields": (b"&".join(b"f%d=1" % i for i in range(1001)),
                    "application/x-www-form-urlencoded", 413),
}


@pytest.mark.parametrize("row", list(FORM_ROWS))
def test_form_errors_end_to_end(server: Server, row: str) -> None:
    body, ctype, status = FORM_ROWS[row]
    res = post(server, "/api/echo", body, ctype)
    assert res.status_code == status, res.text
    assert_no_traceback(server)


MULTIPART_ROWS = {
    "no_boundary": ("multipart/form-data", multipart([("a", b"1", None)])),
    "empty_boundary": ("multipart/form-data; boundary=", multipart([("a", b"1", None)])),
    "wrong_boundary": ("multipart/form-data; boundary=Other", multipart([("a", b"1", None)])),
    "garbage": (MP, b"garbage garbage garbage"),
    "truncated": (MP, multipart([("a", b"1", None)])[:-12]),
    "field_not_utf8": (MP, multipart([("a", b"\xff\xfe", None)])),
}


@pytest.mark.parametrize("row", list(MULTIPART_ROWS))
def test_malformed_multipart_end_to_end(server: Server, row: str) -> None:
    ctype, body = MULTIPART_ROWS[row]
    res = post(server, "/api/echo", body, ctype)
    assert res.status_code == 400, res.text
    assert_no_traceback(server)


def test_multipart_filename_is_never_a_path_end_to_end(server: Server) -> None:
    body = multipart([("up", b"data", "../../etc/passwd"), ("b", b"x", "..\\..\\boot.ini")])
    form = post(server, "/api/echo", body, MP).json()["form"]
    assert form["up"]["filename"] == "passwd" and form["b"]["filename"] == "boot.ini"


def test_cve_2023_25577_many_parts_end_to_end(server: Server) -> None:
    body = multipart([(f"f{i}", b"x", None) for i in range(20_000)])
    started = time.monotonic()
    res = post(server, "/api/echo", body, MP)
    assert res.status_code == 413 and time.monotonic() - started < 5


def test_cve_2024_49767_large_text_field_end_to_end(server: Server) -> None:
    res = post(server, "/api/echo", multipart([("big", b"a" * (2 * 1024 * 1024), None)]), MP)
    assert res.status_code == 413


def test_cve_2023_46136_part_of_short_lines_end_to_end(server: Server) -> None:
    body = multipart([("f", b"\r\n" * (1024 * 1024), "f.bin")])  # 2 MB of CR/LF
    started = time.monotonic()
    res = post(server, "/api/echo", body, MP)
    assert res.status_code == 200 and res.json()["form"]["f"]["size"] == 2 * 1024 * 1024
    assert time.monotonic() - started < 5  # WebOb's cgi parser takes seconds per MB here


def test_no_length_and_no_chunks_is_411_end_to_end(server: Server) -> None:
    data = (b"POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Connection: close\r\n\r\n{"text": "sneaky"}')
    reply = exchange(server.port, data, timeout=TIMEOUT)
    assert reply.status == 411, reply[:300]
    assert "sneaky" not in requests.get(server.url + "/api/notes", timeout=TIMEOUT).text


class _BrokenChunks(io.RawIOBase):
    """gunicorn's ``wsgi.input`` on a bad chunk size: it raises its own error."""

    def read(self, size: int = -1) -> bytes:
        from gunicorn.http.errors import InvalidChunkSize

        raise InvalidChunkSize(b"zz")


@pytest.mark.parametrize("path,ctype", [("/api/notes", JSON), ("/api/echo", MP),
                                        ("/api/echo", "application/x-www-form-urlencoded")])
def test_gunicorn_invalid_chunk_size_is_400_not_500(app, path: str, ctype: str) -> None:
    """gunicorn's InvalidChunkSize is not an OSError: it once escaped as a 500."""
    req = webob.Request.blank(path, method="POST", content_type=ctype)
    req.environ.update({"wsgi.input": _BrokenChunks(), "CONTENT_LENGTH": "",
                        "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    res = req.get_response(app)
    assert res.status_int == 400 and "could not be read" in res.json["detail"]


# -- responses and headers ------------------------------------------------------------------

def test_crlf_in_a_redirected_query_is_not_a_header(server: Server) -> None:
    res = get(server, "/api/?x=%0d%0aSet-Cookie:%20evil=1%0d%0a")
    assert res.status_code == 308 and urlsplit(res.headers["Location"]).path == "/api"
    assert "Set-Cookie" not in res.headers and "evil" not in res.cookies


def assert_on_site(server: Server, location: str) -> None:
    """A Location this server sent: a path, or an absolute URL to this very server."""
    assert location.isprintable() and " " not in location and "\\" not in location, location
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        assert (parts.scheme, parts.netloc) == ("http", f"127.0.0.1:{server.port}"), location
    assert parts.path.startswith("/") and not parts.path.startswith("//"), location


def test_cve_2024_42353_webob_is_at_least_1_8_11() -> None:
    installed = tuple(int(p) for p in version("WebOb").split(".")[:3])
    assert installed >= (1, 8, 11), f"WebOb {installed}: Location open redirect"


@pytest.mark.parametrize("path", ["/api/", "//evil.example/", "//evil.example/api/",
                                  "/%2F%2Fevil.example/api/", "/%5Cevil.example/", "/%09/evil.example/",
                                  "/\\evil.example/", "/api/?next=//evil.example"])
def test_cve_2024_42353_redirects_stay_on_site_end_to_end(server: Server, path: str) -> None:
    status, headers, _ = raw_get(server, path)
    assert status < 500
    if 300 <= status < 400:
        assert_on_site(server, headers["Location"])
    if path.startswith("/api/"):
        assert status == 308 and urlsplit(headers["Location"]).path == "/api"


@pytest.mark.parametrize("host", ["good.example@evil.example", "127.0.0.1@evil.example",
                                  "x:abc", "evil.example", "127.0.0.1.evil.example",
                                  "localhost:80@evil.example", "localhost:@evil.example",
                                  "localhost:x"])
def test_host_not_allowed_end_to_end(server: Server, host: str) -> None:
    """ALLOWED_HOSTS=127.0.0.1,localhost: any other Host is a 400, whatever its shape
    (``localhost:80@evil.example`` would make absolute URLs point at evil.example)."""
    res = get(server, "/api/", headers={"Host": host})
    assert res.status_code == 400, f"Host {host!r}: {res.status_code} {res.headers.get('Location')}"
    assert get(server, "/api", headers={"Host": f"localhost:{server.port}"}).status_code == 200


def test_duplicate_host_end_to_end(server: Server) -> None:
    data = (b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n"
            b"Connection: close\r\n\r\n")
    reply = exchange(server.port, data, timeout=TIMEOUT)
    assert reply.status == 400 or (reply.status is None and reply.closed), reply[:300]


def test_x_forwarded_for_from_an_untrusted_peer_is_not_believed(server: Server) -> None:
    rid = uuid.uuid4().hex
    res = get(server, "/api", headers={"X-Forwarded-For": "203.0.113.9, 127.0.0.1",
                                       "X-Request-ID": rid})
    assert res.status_code == 200
    assert access_line(server, rid).startswith("127.0.0.1 ")


@pytest.mark.server
def test_x_forwarded_for_from_a_trusted_proxy_is_believed(tmp_path: Path) -> None:
    """TRUSTED_PROXIES=127.0.0.1: the proxy's X-Forwarded-For names the client."""
    with demo_server(tmp_path, "gunicorn", TRUSTED_PROXIES="127.0.0.1") as proxied:
        rid = uuid.uuid4().hex
        res = get(proxied, "/api", headers={"X-Forwarded-For": "203.0.113.9",
                                            "X-Request-ID": rid})
        assert res.status_code == 200
        line = access_line(proxied, rid)
    assert line.startswith("203.0.113.9 "), (
        f"TRUSTED_PROXIES is set but the forwarded client is not used: {line}")


# -- auth, cookies, errors, streaming -------------------------------------------------------

def test_cve_2023_23934_nameless_cookie_end_to_end(server: Server) -> None:
    res = get(server, "/api/echo", headers={"Cookie": "==__Host-x=evil; a=1"})
    assert "__Host-x" not in res.json()["cookies"] and res.json()["cookies"].get("a") == "1"


def test_duplicate_cookie_names_end_to_end(server: Server) -> None:
    assert get(server, "/api/echo", headers={"Cookie": "a=1; a=2"}).json()["cookies"] == {"a": "2"}


@pytest.mark.parametrize("accept", ["application/json", "text/html", "text/plain"])
def test_handler_exception_is_a_generic_500_end_to_end(server: Server, accept: str) -> None:
    rid = uuid.uuid4().hex
    res = get(server, "/_test/raise", headers={"Accept": accept, "X-Request-ID": rid})
    assert res.status_code == 500 and res.headers["Content-Type"].startswith(accept)
    assert rid in res.text
    for leak in ("Traceback", "RuntimeError", "<script>", "alert(1)", "secret=", "wsgi."):
        assert leak not in res.text
    deadline = time.monotonic() + 10  # logged with its traceback and the request id
    while f"Unhandled exception (request id {rid})" not in server.output:
        assert time.monotonic() < deadline, server.output[-2000:]
        time.sleep(0.05)


@pytest.mark.server
def test_cve_2016_10516_debug_page_escapes_the_exception_end_to_end(tmp_path: Path) -> None:
    """With DEBUG on (never in production), the page shows the message escaped."""
    from webkit_app.demo import Config, make_demo
    from webkit_app.demo.factory import wrap

    config = Config(debug=True, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                    files_dir=tmp_path)
    demo = make_demo(config)

    def explode(request):
        raise ValueError('<script>alert("xss")</script><img src=x onerror=alert(1)>')

    demo.add_route("GET", "/explode", explode)
    live = StopableWSGIServer.create(wrap(demo, config), host="127.0.0.1", port=0)
    try:
        res = requests.get(f"http://127.0.0.1:{live.effective_port}/explode",
                           headers={"Accept": "text/html"}, timeout=TIMEOUT)
    finally:
        live.shutdown()
    assert res.status_code == 500 and "Traceback" in res.text
    assert "<script>alert" not in res.text and "<img" not in res.text
    assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in res.text
    assert "default-src 'none'" in res.headers["Content-Security-Policy"]


def test_streamed_body_is_not_buffered_end_to_end(server: Server) -> None:
    started = time.monotonic()
    with requests.get(server.url + "/_test/trickle?seconds=4", stream=True,
                      timeout=TIMEOUT) as res:
        first = next(res.iter_content(8192))
        first_at = time.monotonic() - started
    assert res.status_code == 200 and first.startswith(b"x") and first_at < 2, first_at
    assert "Content-Length" not in res.headers


def test_head_on_a_streamed_response_releases_its_connection_end_to_end(server: Server) -> None:
    requests.post(server.url + "/api/notes", json={"text": "for export"}, timeout=TIMEOUT)
    res = requests.head(server.url + "/api/notes/export", timeout=TIMEOUT)
    assert res.status_code == 200 and res.content == b""
    # NOTE: one worker process, so /_test/pool sees the pool the export used.
    deadline = time.monotonic() + 10
    while (stats := get(server, "/_test/pool").json()["pool"])["in_use"]:
        assert time.monotonic() < deadline, f"the HEAD left a connection in use: {stats}"
        time.sleep(0.05)
    assert stats["size"] >= 1  # the export did take a connection


# -- the CVE-derived CORS and path cases ---------------------------------------------------------

def test_cve_2024_6221_private_network_access_is_off_end_to_end(server: Server) -> None:
    res = requests.options(server.url + "/api/notes", timeout=TIMEOUT, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Private-Network": "true"})
    assert res.status_code == 204 and res.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Private-Network" not in res.headers


@pytest.mark.parametrize("path", ["/ADMIN", "/Admin/stats", "/aDmIn", "/API/ECHO", "/Api"])
def test_cve_2024_6866_paths_match_case_sensitively_end_to_end(server: Server, path: str) -> None:
    res = get(server, path)
    assert res.status_code == 404, res.text
    assert "Signed in as" not in res.text


@pytest.mark.parametrize("path", ["/users/1+2", "/api+echo", "/admin+stats", "/api/notes+"])
def test_cve_2024_6844_plus_is_not_a_space_in_paths_end_to_end(server: Server, path: str) -> None:
    assert get(server, path).status_code == 404
    # ...while in a query string '+' is a space, as HTML forms send it
    assert get(server, "/api/echo?q=a+b").json()["query"] == {"q": "a b"}


@pytest.mark.parametrize("origin,allowed", [
    (ORIGIN, True), (ORIGIN + ".evil.example", False), ("HTTP://127.0.0.1:9", False),
    ("http://127.0.0.1:90", False), ("null", False), (ORIGIN + ", http://b.example", False),
    ("http://127.0.0.1", False), (ORIGIN + "/", False)])
def test_cors_origin_matching_end_to_end(server: Server, origin: str, allowed: bool) -> None:
    res = get(server, "/api", headers={"Origin": origin})
    assert res.status_code == 200 and "Origin" in res.headers["Vary"]
    assert res.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)
    preflight = requests.options(server.url + "/api/notes", timeout=TIMEOUT, headers={
        "Origin": origin, "Access-Control-Request-Method": "DELETE"})
    assert preflight.status_code == (204 if allowed else 403)
    assert ("Access-Control-Allow-Methods" in preflight.headers) is allowed


# -- in process, through the production stack ------------------------------------------------

SECRET = "e2e-secret-" + "k" * 40


def production(tmp_path: Path, **more) -> Config:
    """The production settings of the servers above: DEBUG off, a secret, a temp database."""
    return Config(debug=False, secret_key=SECRET, files_dir=tmp_path,
                  database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", **more)


class Served:
    """What a WSGI server saw of one response: its start_response calls and body."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.headers: list[tuple[str, str]] = []
        self.sent = False  # the first body byte went out: headers can no longer change

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])  # PEP 3333: too late
        self.statuses.append(status)
        self.headers = headers
        return lambda data: None


def environ_for(path: str, **extra: str) -> dict:
    env = webob.Request.blank(path).environ
    env.update(extra)
    return env


@pytest.mark.parametrize("code", [999, 600, 99, 0, 1000, -200])
def test_status_outside_100_599_is_refused_when_set(code: int) -> None:
    for set_it in (lambda r: setattr(r, "status_code", code),
                   lambda r: setattr(r, "status_int", code),
                   lambda r: setattr(r, "status", f"{code} Nope")):
        with pytest.raises(ValueError):
            set_it(Response())
    with pytest.raises(ValueError):
        json_response({}, status=code)


def _foreign(status: str = "200 OK", header: tuple[str, str] | None = None) -> webob.Response:
    resp = webob.Response(body=b"secret body", content_type="text/plain")
    resp.status = status  # a plain webob.Response takes "999 Nope"
    if header:
        resp.headerlist.append(header)
    return resp


def _sets_999(request):
    resp = Response(body=b"x")
    resp.status_code = 999
    return resp


UNSAFE_RESPONSES = {
    "status_999": lambda request: _foreign("999 Nope"),
    "status_600": lambda request: _foreign("600 Nope"),
    "status_99": lambda request: _foreign("99 Nope"),
    "status_0999": lambda request: _foreign("0999 Nope"),
    "webkit_response_set_to_999": _sets_999,
    "crlf_header": lambda request: _foreign(header=("X-A", "a\r\nSet-Cookie: evil=1")),
    "lf_header_name": lambda request: _foreign(header=("X-A\nSet-Cookie", "evil=1")),
    "nul_header": lambda request: _foreign(header=("X-A", "a\x00b")),
    "non_latin1_header": lambda request: _foreign(header=("X-A", "snow \u2603")),
}


@pytest.mark.parametrize("case", list(UNSAFE_RESPONSES))
def test_unsafe_response_from_a_handler_never_leaves_the_stack(tmp_path: Path, case: str,
                                                               caplog) -> None:
    """A handler's bad status or header is refused before the server sees it:
    the production stack answers a generic 500 with the request id."""
    config = production(tmp_path)
    demo = make_demo(config)
    demo.add_route("GET", "/unsafe", UNSAFE_RESPONSES[case])
    rid = uuid.uuid4().hex
    served = Served()
    with caplog.at_level(logging.ERROR, logger="webkit_app"):
        body = wrap(demo, config)(environ_for("/unsafe", HTTP_X_REQUEST_ID=rid),
                                  served.start_response)
        try:
            text = b"".join(body).decode()
        finally:
            body.close()
    assert served.statuses == ["500 Internal Server Error"], served.statuses
    assert rid in text and "secret body" not in text and "Nope" not in text
    assert not any("evil" in v or "\u2603" in v for _, v in served.headers)
    assert any(rid in r.getMessage() for r in caplog.records), "the refusal was not logged"
    # ...and the same through WebTest's lint and wsgiref.validate
    res = webtest.TestApp(validator(wrap(demo, config)), lint=True).get(
        "/unsafe", status=500, expect_errors=True)
    assert res.json["status"] == 500


@pytest.mark.parametrize("host,status", [
    ("localhost", 200), ("LOCALHOST:8080", 200), ("[::1]", 200), ("[::1]:8080", 200),
    ("localhost:80@evil.example", 400), ("localhost:@evil.example", 400), ("localhost:x", 400),
    ("localhost:", 400), ("localhost:-1", 400), ("localhost:\u0663", 400), ("evil.example", 400),
    ("localhost.evil.example", 400), ("evil.example:80", 400), ("[::2]:8080", 400),
    ("localhost:80:80", 400)])
def test_host_with_a_port_that_is_not_digits_is_refused(tmp_path: Path, host: str,
                                                        status: int) -> None:
    """ALLOWED_HOSTS through create_app's stack: the name must be listed and the
    port, if any, digits (``localhost:80@evil.example`` was taken for localhost)."""
    config = production(tmp_path, allowed_hosts=("localhost", "[::1]"))
    app = webtest.TestApp(validator(wrap(make_demo(config), config)), lint=True)
    res = app.get("/api", headers={"Host": host}, status=status, expect_errors=status != 200)
    if status == 400:
        assert "not allowed" in res.json["detail"]


@pytest.mark.parametrize("trusted,remote,forwarded,client", [
    ((), "10.0.0.2", "203.0.113.9", "10.0.0.2"),
    (("10.0.0.0/8",), "192.0.2.7", "203.0.113.9", "192.0.2.7"),
    (("10.0.0.0/8",), "10.0.0.2", "203.0.113.9", "203.0.113.9"),
    (("10.0.0.0/8",), "10.0.0.2", "198.51.100.1, 203.0.113.9, 10.0.0.3", "203.0.113.9"),
    (("10.0.0.0/8",), "10.0.0.2", "spoofed, 203.0.113.9", "203.0.113.9"),
    (("10.0.0.0/8",), "10.0.0.2", "10.0.0.5, 10.0.0.3", "10.0.0.5"),
    (("10.0.0.0/8",), "10.0.0.2", "junk", "10.0.0.2"),
    (("10.0.0.0/8",), "10.0.0.2", "", "10.0.0.2"),
    (("10.0.0.0/8", "2001:db8::/32"), "2001:db8::1", "2001:db8::2, 192.0.2.44", "192.0.2.44"),
])
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
        tmp_path: Path, caplog, trusted, remote: str, forwarded: str, client: str) -> None:
    """The access log names the client a trusted proxy reports (the rightmost
    untrusted X-Forwarded-For entry), and ``REMOTE_ADDR`` otherwise."""
    config = production(tmp_path, trusted_proxies=trusted)
    app = webtest.TestApp(validator(wrap(make_demo(config), config)), lint=True)
    with caplog.at_level(logging.INFO, logger="webkit_app.access"):
        app.get("/api", headers={"X-Forwarded-For": forwarded},
                extra_environ={"REMOTE_ADDR": remote})
    lines = [r.getMessage() for r in caplog.records if r.name == "webkit_app.access"]
    assert len(lines) == 1 and lines[0].startswith(client + " - "), lines


def test_app_iter_raising_mid_stream_through_the_stack(tmp_path: Path, caplog) -> None:
    """After the first chunk the status stays 200: the error is logged with the
    request id, re-raised to the server (which closes the connection), the
    body is closed once and the access log records what was sent."""
    config = production(tmp_path, cors_origins=(ORIGIN,))
    demo = make_demo(config)
    closed: list[bool] = []

    def boom(request):
        def chunks():
            yield b"chunk 0\n"
            yield b"chunk 1\n"
            raise RuntimeError("producer failed half-way")
        return stream(chunks(), on_close=lambda: closed.append(True))

    demo.add_route("GET", "/boom", boom)
    rid = uuid.uuid4().hex
    served = Served()
    sent: list[bytes] = []
    with caplog.at_level(logging.INFO, logger="webkit_app"):
        body = validator(wrap(demo, config))(
            environ_for("/boom", HTTP_X_REQUEST_ID=rid, HTTP_ORIGIN=ORIGIN),
            served.start_response)
        with pytest.raises(RuntimeError, match="half-way"):
            for chunk in body:
                sent.append(chunk)
                served.sent = served.sent or bool(chunk)
        body.close()
    assert served.statuses == ["200 OK"] and b"".join(sent) == b"chunk 0\nchunk 1\n"
    assert closed == [True]
    messages = [(r.name, r.getMessage()) for r in caplog.records]
    assert any(name == "webkit_app" and "after the response started" in msg and rid in msg
               for name, msg in messages), messages
    access = [msg for name, msg in messages if name == "webkit_app.access"]
    assert len(access) == 1 and '" 200 16 ' in access[0] and rid in access[0], access


def test_duplicate_cookie_names_are_documented() -> None:
    """The row asks for the behaviour to be documented: the requests guide says which wins."""
    readme = " ".join((ROOT / "docs" / "guides" / "requests.rst").read_text().split())
    assert "duplicate cookie names the last one wins" in readme


# -- docs/hostile-inputs.rst names tests that exist ------------------------------------------

_CVE = re.compile(r"CVE-\d{4}-\d{4,}")

#: the CVE rows the page must keep (a floor: rows are added, never dropped silently)
CVES = ("CVE-2016-10516", "CVE-2022-24761", "CVE-2023-23934", "CVE-2023-25577",
        "CVE-2023-30861", "CVE-2023-46136", "CVE-2024-1135", "CVE-2024-42353",
        "CVE-2024-49767", "CVE-2024-6221", "CVE-2024-6827", "CVE-2024-6839",
        "CVE-2024-6844", "CVE-2024-6866")


def hostile_input_rows(text: str) -> dict[str, list[str]]:
    """Each table row of the page: its first cell, and the ``file::test``
    literals of its last."""
    doctree = docutils.core.publish_doctree(
        text, settings_overrides={"halt_level": 2, "report_level": 2})
    rows: dict[str, list[str]] = {}
    for row in doctree.findall(docutils.nodes.row):
        if isinstance(row.parent, docutils.nodes.thead):
            continue
        key = " ".join(row.children[0].astext().split())
        assert key not in rows, f"row {key!r} twice"
        rows[key] = [lit.astext() for lit in row.children[-1].findall(docutils.nodes.literal)]
    return rows


@functools.cache
def defined_tests_in(file: str) -> tuple[frozenset[str], frozenset[str]]:
    """A test file's top-level function names and the text of its constants
    (``str(value)``: where parametrized case ids come from)."""
    tree = ast.parse((ROOT / "tests" / file).read_text(encoding="utf-8"))
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    constants = {str(node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    return frozenset(names), frozenset(constants)


def missing_test(ref: str) -> str | None:
    """Why ``file::test[case]`` names no test, or None when it does."""
    file, _, name = ref.partition("::")
    if not file.startswith("test_") or not (ROOT / "tests" / file).is_file():
        return f"no file tests/{file}"
    name, _, case = name.partition("[")
    names, constants = defined_tests_in(file)
    if name not in names:
        return f"no {name} in {file}"
    # NOTE: pytest joins the ids of several parameters with '-': each must be
    # a constant of the module (a dict key, a pytest.param id, a literal)
    case = case.rstrip("]")
    if case and case not in constants and not set(case.split("-")) <= constants:
        return f"no case [{case}] of {name} in {file}"
    return None


def test_every_hostile_input_row_is_tested() -> None:
    rows = hostile_input_rows(HOSTILE_INPUTS.read_text(encoding="utf-8"))
    assert len(rows) >= 60, f"rows were dropped from {HOSTILE_INPUTS.name}: {list(rows)}"
    problems = [f"{key!r}: no test" for key, refs in rows.items() if not refs]
    problems += [f"{key!r}: {why}" for key, refs in rows.items() for ref in refs
                 if (why := missing_test(ref))]
    cves = {m.group(): key for key in rows if (m := _CVE.match(key))}
    problems += [f"no row for {cve}" for cve in CVES if cve not in cves]
    problems += [f"{cve}: no test named after it" for cve, key in cves.items()
                 if not any(cve.lower().replace("-", "_") in ref for ref in rows[key])]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("ref,why", [
    pytest.param("test_app.py::test_allowed_hosts", None, id="exists"),
    pytest.param("test_app.py::test_no_such_test", "no test_no_such_test in test_app.py",
                 id="no_test"),
    pytest.param("test_nothing_here.py::test_x", "no file tests/test_nothing_here.py",
                 id="no_file"),
    pytest.param("../test_x.py::test_x", "no file tests/../test_x.py", id="outside"),
    pytest.param("test_bad_inputs_e2e.py::test_json_body_errors_end_to_end[malformed]", None,
                 id="case"),
    pytest.param("test_bad_inputs_e2e.py::test_cors_origin_matching_end_to_end[null-False]",
                 None, id="joined_case"),
    pytest.param("test_bad_inputs_e2e.py::test_json_body_errors_end_to_end[no_such_case]",
                 "no case [no_such_case] of test_json_body_errors_end_to_end",
                 id="no_case"),
])
def test_missing_test_finds_what_a_row_names(ref: str, why: str | None) -> None:
    got = missing_test(ref)
    if why is None:
        assert got is None, got
    else:
        assert got is not None and got.startswith(why), got
