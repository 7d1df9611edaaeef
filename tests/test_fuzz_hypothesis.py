"""Property-based requests (hypothesis) to the demo behind its production stack.

Generated requests (methods; paths with percent-decoded bytes, invalid UTF-8,
``..``, ``//`` and control characters; query strings; Origin, Authorization,
Content-Type with odd charsets, Content-Length, cookies, Accept; JSON, form,
multipart and binary bodies) go through ``webtest.TestApp`` (lint on) and
``wsgiref.validate`` to the demo wrapped by ``webkit_app.factory.wrap``: the
same layers ``create_app`` builds for production (DEBUG off, a secret key, a
temporary database, CORS with credentials, Basic auth on ``/admin`` from an
htpasswd file, ALLOWED_HOSTS). For every request:

* no 5xx, and a response that both WSGI validators accept;
* no traceback, environ value, secret, password hash or temp-folder path in
  the body (unless the client sent it itself);
* every body the demo returned was closed (``close()`` called), also when a
  middleware answered in its place or the request was a HEAD;
* no control byte (C0 or DEL) in any response header name or value.

The round-2 tests (the shapes of "Hostile input, round 2") also know the
exact status each request must get: raw ``QUERY_STRING`` bytes (latin-1 text
of any bytes) to ``/api/echo``, whose echoed fields must equal the query's
bytes unescaped and decoded as UTF-8; control bytes, non-ASCII and 64 KB
separator runs in ``Host``, ``Accept``, ``Cookie``, ``If-Modified-Since``,
``Range``, ``Origin`` and ``X-Request-ID``; ``PATH_INFO`` without a leading
``/`` or not UTF-8 (sent past the WSGI validators, which refuse such an
environ before the stack could); lone surrogates in JSON strings and keys and
in form fields; JSON up to 200 deep and 10,000 wide; ``&&&&``, ``;;;;``,
``,,,,``, ``////`` and space runs to 64 KB in queries, paths and forms.

Deterministic for CI: ``derandomize=True``, no example database, a fixed
number of examples per test; the whole file runs in 15 to 25 s on two cores
(measured idle and under load), well inside the minute it is allowed.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_to_bytes
from wsgiref.validate import validator

import pytest
import webtest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webkit_app.demo import Config, make_demo, make_store
from webkit_app.demo.factory import wrap
from webkit_app.middleware import hash_password

pytestmark = pytest.mark.timeout(120)

SECRET = "fuzz-secret-" + "k" * 40
USER, PASSWORD = "ops", "c0rrect h\u00f6rse"
ORIGIN = "http://127.0.0.1:9"
EXAMPLES = {"any": 1200, "bodies": 800, "headers": 600}


def fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# -- the app under test ---------------------------------------------------------------------

class ClosedCheck:
    """Record every body the demo returns, to check that someone closed it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.open: list[_Tracked] = []

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        body = _Tracked(self.app(environ, start_response))
        self.open.append(body)
        return body


class _Tracked:
    def __init__(self, iterable: Iterable[bytes]) -> None:
        self.iterable, self.closed = iterable, False
        self._it = None

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self._it is None:
            self._it = iter(self.iterable)
        return next(self._it)

    def close(self) -> None:
        self.closed = True
        close = getattr(self.iterable, "close", None)
        if close is not None:
            close()


@dataclass
class Fuzz:
    """The app under test and what it has been sent."""

    testapp: webtest.TestApp
    inner: ClosedCheck
    pool: Any
    #: the same stack without the WSGI validators, which refuse a PATH_INFO
    #: that does not start with '/' before the stack could answer it
    raw: webtest.TestApp
    leaks: tuple[str, ...] = ()  # this run's own secrets: the temp folder, the stored hash
    count: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def send(self, req: GeneratedRequest) -> webtest.TestResponse:
        self.inner.open.clear()
        testapp = self.testapp if req.path.startswith(b"/") else self.raw
        testapp.reset()
        res = testapp.do_request(webtest.TestRequest(req.environ()), status="*")
        self.count += 1
        self.statuses[res.status_int] = self.statuses.get(res.status_int, 0) + 1
        return res


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Fuzz:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "files").mkdir()
    (folder / "files" / "hello.txt").write_text("hello\n")
    htpasswd = folder / "htpasswd"
    stored = hash_password(PASSWORD, "pbkdf2:sha256:1000")
    htpasswd.write_text(f"{USER}:{stored}\n")
    config = Config(debug=False, secret_key=SECRET, htpasswd=htpasswd,
                    database_url=f"sqlite:///{folder / 'fuzz.sqlite3'}",
                    files_dir=folder / "files", cors_origins=(ORIGIN,),
                    cors_allow_credentials=True, max_body_size=256 * 1024,
                    allowed_hosts=("localhost",))
    store = make_store(config)
    inner = ClosedCheck(make_demo(config, store=store))
    # NOTE: create_app(config) is wrap(make_demo(config), config); the demo is
    # built apart only to put ClosedCheck under the same production layers.
    stack = wrap(inner, config)
    testapp = webtest.TestApp(validator(stack), lint=True)
    raw = webtest.TestApp(stack, lint=False)
    yield Fuzz(testapp, inner, store.pool, raw, leaks=(str(folder).lower(), stored.lower()))
    store.pool.close()


# -- generated requests ---------------------------------------------------------------------

@dataclass
class GeneratedRequest:
    method: str
    path: bytes                     # as the server decoded it (PATH_INFO's bytes)
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_length: str | None = None  # None: the body's length
    expect: frozenset[int] = frozenset()  # the only statuses allowed (empty: any below 500)
    echoed: dict[str, Any] | None = None  # what /api/echo must show as the query

    def environ(self) -> dict[str, Any]:
        path = self.path.decode("latin-1")
        env = {
            "REQUEST_METHOD": self.method, "SCRIPT_NAME": "", "PATH_INFO": path,
            "QUERY_STRING": self.query, "SERVER_NAME": "localhost", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost:80",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": False,
            "wsgi.run_once": False, "wsgi.input": io.BytesIO(self.body),
            "wsgi.errors": io.StringIO(),
            # NOTE: what gunicorn keeps of the request line, for invalid escapes
            "RAW_URI": quote(self.path, safe="/;:@&=+$,!~*'()[]") +
                       ("?" + self.query if self.query else ""),
            "CONTENT_LENGTH": str(len(self.body)) if self.content_length is None
                              else self.content_length,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            env[key if key in ("CONTENT_TYPE",) else "HTTP_" + key] = value
        return env

    def text(self) -> str:
        """Everything the client sent, to tell reflected input from a leak."""
        return " ".join([self.path.decode("latin-1"), self.query, *self.headers.values(),
                         self.body.decode("latin-1")]).lower()


ROUTES = [b"/", b"/api", b"/api/echo", b"/api/notes", b"/api/notes/1", b"/api/notes/export",
          b"/users/7", b"/stream", b"/error", b"/forbidden", b"/health", b"/health/live",
          b"/health/ready", b"/download/hello.txt", b"/admin", b"/admin/stats", b"/environ"]
SEGMENTS = st.one_of(
    st.sampled_from([b"", b".", b"..", b"admin", b"api", b"%", b"%ff", b"\xff", b"\xc3\x28",
                     b"\xed\xa0\x80", b"\x00", b"\n", b"\r", b"\t", b" ", b"\x7f", b"+",
                     b"\xe2\x98\x83", b"etc", b"passwd", b"hello.txt", b"1", b"-1", b"0x10",
                     b"99999999999999999999", b"%2e%2e", b"\\", b"..\\..", b";x=1"]),
    st.binary(min_size=1, max_size=12),
)
PATHS = st.one_of(
    st.sampled_from(ROUTES),
    st.builds(lambda route, rest: route + b"/" + b"/".join(rest), st.sampled_from(ROUTES),
              st.lists(SEGMENTS, min_size=1, max_size=3)),
    st.builds(lambda segs: b"/" + b"/".join(segs), st.lists(SEGMENTS, min_size=1, max_size=5)),
)
QUERY_ITEMS = st.one_of(
    st.sampled_from(["a=1", "a=%ff", "a=%zz", "a=%", "a=%e", "flag", "=", "&&", "q=a+b",
                     "limit=5", "limit=0", "limit=-1", "limit=%2B3", "limit=1_0", "offset=10",
                     "limit=99999999999999999999", "offset=1e3", "password=hunter2",
                     "%c3%a9=%c3%a9", "next=//evil.example", "x=%0d%0aSet-Cookie:%20a=1"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="#"),
            max_size=20),
)
QUERIES = st.lists(QUERY_ITEMS, max_size=4).map("&".join)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                    exclude_characters="\x7f"), max_size=40)


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


AUTHORIZATION = st.one_of(
    st.sampled_from([basic(f"{USER}:{PASSWORD}".encode()), basic(b"ops:wrong"),
                     basic(f"{USER}:{PASSWORD}".encode("latin-1")), "Basic !!!", "Basic",
                     "Basic ", basic(b"no-colon"), basic(b"\xff\xfe:\xff"), "Bearer abc",
                     basic(b":"), "basic " + base64.b64encode(b"ops:x").decode()]),
    st.binary(max_size=30).map(basic),
    HEADER_TEXT,
)
ORIGINS = st.one_of(st.sampled_from([ORIGIN, "null", "http://evil.example", ORIGIN.upper(),
                                     ORIGIN + ".evil.example", ORIGIN + ", http://b.example",
                                     ORIGIN + "/", "*"]), HEADER_TEXT)
CHARSETS = ["utf-8", "UTF-8", "utf8", '"utf-8"', "latin-1", "bogus", "", "utf-16", "x" * 50]
CONTENT_TYPES = st.one_of(
    st.sampled_from(["application/json", "application/vnd.api+json", "text/plain",
                     "application/x-www-form-urlencoded", "multipart/form-data",
                     "multipart/form-data; boundary=", "multipart/form-data; boundary=XyZ",
                     'multipart/form-data; boundary="XyZ"', "multipart/form-data; boundary=Other",
                     "application/octet-stream", "", ";", "application/json;;;",
                     "multipart/form-data; boundary=" + "b" * 300]),
    st.builds(lambda t, c: f"{t}; charset={c}",
              st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                               "multipart/form-data; boundary=XyZ", "text/plain"]),
              st.sampled_from(CHARSETS)),
    HEADER_TEXT,
)
ACCEPTS = st.sampled_from(["application/json", "text/html", "text/plain", "*/*", "",
                           "image/png", "text/html;q=0, application/json;q=0",
                           "application/json;q=abc", "*/*;q=0.1, text/html"])
COOKIES = st.one_of(st.sampled_from(["a=1", "a=1; a=2", "==__Host-x=evil; a=1", "session=\xff",
                                     "=", ";;", "a=\"q\"", "__Host-x=1; __Secure-y=2"]),
                    HEADER_TEXT)
HEADERS = st.fixed_dictionaries({}, optional={
    "Origin": ORIGINS, "Authorization": AUTHORIZATION, "Content-Type": CONTENT_TYPES,
    "Accept": ACCEPTS, "Cookie": COOKIES, "X-Request-ID": HEADER_TEXT,
    "Access-Control-Request-Method": st.one_of(st.sampled_from(["GET", "POST", "DELETE",
                                                                "PUT", "get", ""]), HEADER_TEXT),
    "Access-Control-Request-Headers": st.one_of(
        st.sampled_from(["content-type", "x-custom", "Content-Type, X-Request-ID", ","]),
        HEADER_TEXT),
    "Access-Control-Request-Private-Network": st.sampled_from(["true", "false"]),
    "Host": st.one_of(st.sampled_from(["localhost", "localhost:8080", "LOCALHOST", "[::1]",
                                       "localhost:80@evil.example", "localhost:x", "x:abc",
                                       "evil.example", "localhost.evil.example", ""]),
                      HEADER_TEXT),
    "Transfer-Encoding": st.sampled_from(["chunked", "gzip"]),
    "X-Forwarded-For": st.sampled_from(["203.0.113.9", "1.1.1.1, 127.0.0.1", "junk"]),
    "Range": st.sampled_from(["bytes=0-1", "bytes=-1", "bytes=5-1", "bytes=abc",
                              "bytes=0-0,0-0,0-0"]),
    "If-None-Match": st.sampled_from(["*", '"x"', "W/\"y\"", "junk"]),
})

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
    st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12)
NOTES = st.one_of(st.builds(lambda t: {"text": t}, st.text(max_size=30)),
                  st.dictionaries(st.sampled_from(["text", "id", "extra"]), JSON_VALUES,
                                  max_size=3))


def multipart(parts: list[tuple[bytes, bytes, bytes | None]], boundary: bytes) -> bytes:
    out = b""
    for name, value, filename in parts:
        disp = b'form-data; name="' + name + b'"'
        if filename is not None:
            disp += b'; filename="' + filename + b'"'
        out += b"--" + boundary + b"\r\nContent-Disposition: " + disp + b"\r\n\r\n" + value + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


NAMES = st.sampled_from([b"a", b"text", b"f", b"\xff", b"", b"a\"b", b"../x"])
FILENAMES = st.one_of(st.none(), st.sampled_from([b"../../etc/passwd", b"..\\boot.ini", b"",
                                                  b"\xff.bin", b"a\x00b", b"/abs", b".."]))
MULTIPART_BODIES = st.builds(
    lambda parts, boundary, cut: multipart(parts, boundary)[:cut],
    st.lists(st.tuples(NAMES, st.binary(max_size=40), FILENAMES), max_size=4),
    st.sampled_from([b"XyZ", b"Other"]),
    st.one_of(st.none(), st.integers(0, 200)))
SPECIAL_BODIES = (b"[" * 2000 + b"]" * 2000, b"9" * 5000, b'{"text": "\\ud800"}', b"{",
                  b'{"text": "\xff"}', b"a=%ff", b"a=\xe9", b"&".join([b"f=1"] * 1200),
                  b"\r\n" * 3000, b'{"text": "' + b"x" * 10_001 + b'"}', b"x" * 300_000)
BODIES = st.one_of(
    st.just(b""),
    NOTES.map(lambda v: json.dumps(v).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(range(len(SPECIAL_BODIES))).map(SPECIAL_BODIES.__getitem__),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=5).map(
        lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()),
    MULTIPART_BODIES,
    st.binary(max_size=300),
)
LENGTHS = st.one_of(st.none(), st.none(), st.sampled_from(["", "0", "1", "99999999999", "007"]),
                    st.integers(0, 400).map(str))
METHODS = st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])


def requests_(methods=METHODS, paths=PATHS, headers=HEADERS, bodies=BODIES, lengths=LENGTHS):
    return st.builds(GeneratedRequest, method=methods, path=paths, query=QUERIES,
                     headers=headers, body=bodies, content_length=lengths)


#: bodies that match their Content-Type (a valid note, a form, a multipart form), or not
TYPED_BODIES = st.one_of(
    st.tuples(st.just("application/json"),
              st.text(min_size=1, max_size=40).filter(str.strip).map(
                  lambda t: json.dumps({"text": t}).encode())),
    st.tuples(st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                               "multipart/form-data; boundary=XyZ"]),
              st.sampled_from([b"x" * 300_000, b"&".join([b"f=1"] * 1200)])),
    st.tuples(st.sampled_from(["application/json", "application/json; charset=utf-8"]),
              st.one_of(NOTES, JSON_VALUES).map(lambda v: json.dumps(v).encode())),
    st.tuples(st.just("application/x-www-form-urlencoded"), BODIES),
    st.tuples(st.sampled_from(["multipart/form-data; boundary=XyZ",
                               'multipart/form-data; boundary="XyZ"']), MULTIPART_BODIES),
    st.tuples(CONTENT_TYPES, BODIES),
)


def _typed(req: GeneratedRequest, typed: tuple[str, bytes]) -> GeneratedRequest:
    req.headers["Content-Type"], req.body = typed
    return req


def typed_requests(methods, paths, lengths=LENGTHS):
    headers = HEADERS.map(lambda h: {k: v for k, v in h.items() if k != "Content-Type"})
    return st.builds(_typed, requests_(methods, paths, headers, st.just(b""), lengths),
                     TYPED_BODIES)


# -- the checks -------------------------------------------------------------------------------

#: things a production body must never show, unless the client sent them itself
LEAKS = ("traceback", 'file "', "wsgi.", "server_software", "remote_addr", "server_protocol",
         "webkit_app.", "sqlite3.", "operationalerror", "keyerror", "typeerror", "valueerror",
         "attributeerror", "unicodedecodeerror", SECRET.lower(), PASSWORD.lower(),
         sys.prefix.lower())


#: a control byte (C0 or DEL) in a response header; tab included
CONTROL = re.compile("[\x00-\x1f\x7f]")


def check(fuzz: Fuzz, req: GeneratedRequest) -> None:
    res = fuzz.send(req)
    assert res.status_int < 500, f"{res.status}\n{res.text[:500]}"
    assert not req.expect or res.status_int in req.expect, \
        f"{res.status}, expected one of {sorted(req.expect)}: {res.text[:300]}"
    for name, value in res.headerlist:
        assert not CONTROL.search(name + value), f"control byte in {name}: {value[:200]!r}"
    if req.echoed is not None and res.status_int == 200:
        assert res.json["query"] == req.echoed, (res.json["query"], req.echoed)
    sent = req.text()
    body = res.body.decode("utf-8", "replace").lower()
    for leak in LEAKS + fuzz.leaks:
        if leak not in sent:
            assert leak not in body, f"{leak!r} in a {res.status} body: {body[:300]}"
    auth = req.headers.get("Authorization", "")
    if len(auth) > 12 and auth.lower() not in sent.replace(auth.lower(), "", 1):
        assert auth.lower() not in body, "the Authorization header was echoed"
    assert all(body_.closed for body_ in fuzz.inner.open), "a response body was never closed"
    if req.method == "HEAD":
        assert res.body == b""
    assert fuzz.pool.stats()["in_use"] == 0, "a pool connection was not returned"


def run(fuzz: Fuzz, strategy: st.SearchStrategy, examples: int, expect: set[int]) -> None:
    """``examples`` generated requests through :func:`check`; the traffic must
    reach the handlers, not all be refused at the door (``expect``: statuses seen)."""
    before, seen = fuzz.count, dict(fuzz.statuses)

    @fuzz_settings(examples)
    @given(strategy)
    def one(req: GeneratedRequest) -> None:
        check(fuzz, req)

    one()
    statuses = {code: n - seen.get(code, 0) for code, n in fuzz.statuses.items()
                if n > seen.get(code, 0)}
    print(f"\nfuzz: {fuzz.count - before} requests, statuses {dict(sorted(statuses.items()))}")
    assert fuzz.count - before >= examples, "hypothesis ran fewer requests than asked"
    assert expect <= set(statuses), f"expected statuses {expect}, saw {statuses}"


def test_generated_requests_never_fail_or_leak(fuzz: Fuzz) -> None:
    run(fuzz, requests_(), EXAMPLES["any"], {200, 204, 400, 401, 404, 405})


def test_generated_bodies_to_the_parsing_endpoints(fuzz: Fuzz) -> None:
    run(fuzz, typed_requests(methods=st.sampled_from(["POST", "POST", "PUT", "PATCH"]),
                             paths=st.sampled_from([b"/api/echo", b"/api/notes"]),
                             lengths=st.one_of(st.none(), st.none(), st.none(), LENGTHS)),
        EXAMPLES["bodies"], {200, 201, 400, 405, 413, 415, 422})


def test_generated_headers_on_auth_and_cors(fuzz: Fuzz) -> None:
    run(fuzz, requests_(paths=st.sampled_from([b"/admin", b"/admin/stats", b"/api",
                                               b"/api/notes", b"/admin/", b"//admin"]),
                        methods=st.sampled_from(["GET", "OPTIONS", "POST", "DELETE", "HEAD"]),
                        bodies=st.just(b"")),
        EXAMPLES["headers"], {200, 204, 401, 403})


# -- round 2: the shapes of "Hostile input, round 2" ----------------------------------------

def latin1(raw: bytes) -> str:
    """A byte string as a server puts it in the environ (PEP 3333)."""
    return raw.decode("latin-1")


#: arbitrary bytes, raw UTF-8 of any text, and the bytes most often mishandled
HOSTILE_BYTES = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=12).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from([b"\x00", b"\x01", b"\t", b"\n", b"\r", b"\x1b", b"\x7f", b"\x80",
                              b"\xc3\xa9", b"\xed\xa0\x80", b"\xff", b"%", b"%ff", b"%ED%A0%80",
                              b"%00", b"%0d%0a", b"+", b"=", b"&", b";", b",", b" "]),
             max_size=8).map(b"".join),
)
SEPARATORS = [b"&", b";", b",", b"/", b" ", b"&&=", b"; ", b", ", b"="]
#: a run of one separator, up to 64 KB, between two ordinary pieces
RUN_LENGTHS = st.one_of(st.integers(1, 2000), st.sampled_from([999, 1000, 4096, 65_536]))
RUNS = st.builds(lambda sep, n, head, tail: head + (sep * n)[:65_536] + tail,
                 st.sampled_from(SEPARATORS), RUN_LENGTHS,
                 st.sampled_from([b"", b"a=1", b"a"]), st.sampled_from([b"", b"b=2", b"z"]))
RAW_QUERIES = st.one_of(HOSTILE_BYTES, RUNS,
                        st.lists(HOSTILE_BYTES, max_size=4).map(b"&".join))


def expected_query(raw: bytes) -> tuple[frozenset[int], dict[str, Any] | None]:
    """What ``GET /api/echo`` must answer for a raw query string, worked out
    with the standard library: 413 from 1000 fields, 400 for a bad escape or
    bytes that are not UTF-8 once unescaped, else 200 and these fields."""
    if raw.count(b"&") + raw.count(b";") >= 1000:
        return frozenset({413}), None
    if re.search(rb"%(?![0-9A-Fa-f]{2})", raw):
        return frozenset({400}), None
    # NOTE: urllib's parse_qsl takes only ASCII bytes; a server hands over any.
    pairs = [pair.partition(b"=") for pair in raw.replace(b";", b"&").split(b"&") if pair]
    try:
        fields = [(unquote_to_bytes(k.replace(b"+", b" ")).decode("utf-8"),
                   unquote_to_bytes(v.replace(b"+", b" ")).decode("utf-8")) for k, _, v in pairs]
    except UnicodeDecodeError:
        return frozenset({400}), None
    echoed: dict[str, Any] = {}
    for key in dict.fromkeys(k for k, _ in fields):
        values = [v for k, v in fields if k == key]
        echoed[key] = values[0] if len(values) == 1 else values
    return frozenset({200}), echoed


def query_request(raw: bytes) -> GeneratedRequest:
    expect, echoed = expected_query(raw)
    return GeneratedRequest("GET", b"/api/echo", latin1(raw), expect=expect, echoed=echoed)


#: a valid Host, or one with a byte a host name cannot hold in its middle
GOOD_HOSTS = ["localhost", "localhost:8080", "localhost:80"]
BAD_HOST_BYTES = st.one_of(st.integers(0, 0x1F).map(lambda i: bytes([i])),
                           st.sampled_from([b"\x7f", b"\x80", b"\xff", b"\xc3\xa9", b"@", b"/",
                                            b"\\", b" ", b",", b"%", b"?", b"#"]))
HOSTILE_HOSTS = st.builds(lambda bad, tail: latin1(b"local" + bad + b"host" + tail),
                          BAD_HOST_BYTES, HOSTILE_BYTES)
HEADER_VALUES = st.one_of(HOSTILE_BYTES.map(latin1), RUNS.map(latin1))
HOSTILE_HEADERS = st.fixed_dictionaries({}, optional={
    "Accept": HEADER_VALUES, "Cookie": HEADER_VALUES, "If-Modified-Since": HEADER_VALUES,
    "Range": HEADER_VALUES, "Origin": HEADER_VALUES, "X-Request-ID": HEADER_VALUES})


def header_request(path: bytes, headers: dict[str, str], host: str | None) -> GeneratedRequest:
    """A GET with hostile header values: 400 for a bad Host, whatever the
    rest; else the answer the route gives any client (a download may be
    partial or not modified: WebOb reads ``Range`` leniently)."""
    if host is not None:
        headers["Host"] = host
    if host is not None and host not in GOOD_HOSTS:
        expect = {400}
    else:
        expect = {200, 206, 304} if path.startswith(b"/download/") else {200}
    return GeneratedRequest("GET", path, headers=headers, expect=frozenset(expect))


HEADER_REQUESTS = st.builds(
    header_request, st.sampled_from([b"/api/echo", b"/api/notes", b"/download/hello.txt"]),
    HOSTILE_HEADERS, st.one_of(st.none(), st.sampled_from(GOOD_HOSTS), HOSTILE_HOSTS))


def path_request(path: bytes) -> GeneratedRequest:
    """PATH_INFO as a server might hand it over: 400 when it does not start
    with '/' (empty is the root) or is not UTF-8."""
    try:
        path.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    refused = (path and not path.startswith(b"/")) or not utf8
    return GeneratedRequest("GET", path, expect=frozenset({400}) if refused else frozenset())


PATH_ROUTES = [route.lstrip(b"/") for route in ROUTES if route != b"/"]
RAW_PATHS = st.one_of(
    st.sampled_from([*PATH_ROUTES, b"*", b"?", b"\\admin", b"%2fadmin", b"http://x/admin"]),
    st.builds(lambda a, b: a + b, st.sampled_from(PATH_ROUTES), HOSTILE_BYTES),
    HOSTILE_BYTES.filter(lambda p: not p.startswith(b"/")),
    st.builds(lambda route, raw: route + b"/" + raw, st.sampled_from(ROUTES), HOSTILE_BYTES),
    RUNS.map(lambda run: b"/" + run),
)

#: JSON as RFC 8259 has it (no NaN, no Infinity), shallow and small
FINITE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() |
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12)
SURROGATES = ["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud83d", "x\\ud800y"]
SURROGATE_PAIR = "\\ud83d\\ude00"


def json_with(value: Any, escape: str, in_key: bool) -> bytes:
    """``value`` as JSON with ``escape`` spliced in as a string or a key."""
    mark = json.dumps("\x00mark")
    doc = {"\x00mark": value} if in_key else [value, "\x00mark"]
    return json.dumps(doc).replace(mark, '"' + escape + '"').encode()


def nested(depth: int, wide: int) -> bytes:
    """A JSON array ``depth`` levels deep whose innermost holds ``wide`` numbers."""
    return b"[" * depth + b",".join(b"%d" % i for i in range(wide)) + b"]" * depth


def body_request(body: bytes, ctype: str, expect: set[int]) -> GeneratedRequest:
    return GeneratedRequest("POST", b"/api/echo", headers={"Content-Type": ctype,
                                                          "Origin": ORIGIN},
                            body=body, expect=frozenset(expect))


BODY_REQUESTS = st.one_of(
    # lone surrogates as JSON escapes, in a string or a key: 400; a pair is fine
    st.builds(lambda v, esc, key: body_request(json_with(v, esc, key), "application/json",
                                               {400}),
              FINITE_JSON, st.sampled_from(SURROGATES), st.booleans()),
    st.builds(lambda v, key: body_request(json_with(v, SURROGATE_PAIR, key),
                                          "application/json", {200}),
              FINITE_JSON, st.booleans()),
    # a lone surrogate's UTF-8 bytes, escaped, in a form value or name: 400
    st.builds(lambda pairs, where: body_request(
        "&".join([*(f"{quote(k)}={quote(v)}" for k, v in pairs), where]).encode(),
        "application/x-www-form-urlencoded", {400}),
        st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4),
        st.sampled_from(["a=%ED%A0%80", "%ED%A0%80=1", "a=x%ed%bf%bfy", "a=%ED%A0"])),
    # deep (to 200 levels: 400 past 64) and wide (to 10,000 values) JSON
    st.builds(lambda depth, wide: body_request(nested(depth, wide), "application/json",
                                               {200} if depth <= 64 else {400}),
              st.one_of(st.integers(1, 200), st.sampled_from([64, 65])),
              st.one_of(st.integers(0, 50), st.sampled_from([9_999, 10_000]))),
    st.builds(lambda wide: body_request(
        json.dumps({f"k{i}": i for i in range(wide)}).encode(), "application/json", {200}),
        st.sampled_from([0, 1, 1000, 10_000])),
    # runs of separators as a form: 413 from 1000 fields
    RUNS.map(lambda run: body_request(
        run, "application/x-www-form-urlencoded",
        {413} if run.count(b"&") + run.count(b";") >= 1000 else {200})),
)

ROUND_2 = {"queries": 600, "headers": 600, "paths": 600, "bodies": 400}


def test_raw_query_strings_get_the_answer_their_bytes_call_for(fuzz: Fuzz) -> None:
    run(fuzz, RAW_QUERIES.map(query_request), ROUND_2["queries"], {200, 400, 413})


def test_hostile_header_values_never_reach_a_response_header(fuzz: Fuzz) -> None:
    run(fuzz, HEADER_REQUESTS, ROUND_2["headers"], {200, 400})


def test_paths_without_a_slash_or_not_utf8_are_400(fuzz: Fuzz) -> None:
    run(fuzz, RAW_PATHS.map(path_request), ROUND_2["paths"], {400, 404})


def test_surrogates_deep_wide_json_and_separator_runs_in_bodies(fuzz: Fuzz) -> None:
    run(fuzz, BODY_REQUESTS, ROUND_2["bodies"], {200, 400, 413})
