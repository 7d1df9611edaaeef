"""Raw bytes over a socket to the demo on gunicorn (deploy/gunicorn.conf.py)
and on waitress (``webkit-app serve``).

Each vector is sent on a new loopback connection. The server must refuse it
(a 4xx, or 501 for a transfer coding it does not implement) and close the
connection, or just close it; never answer 5xx, never answer a request
smuggled inside the body, never log a traceback; and the next normal request
must still succeed on the same workers (none crashed or was replaced).
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
import requests
from reliability_util import Server, children, demo_server, exchange, statuses, worker_pids

pytestmark = [pytest.mark.server, pytest.mark.timeout(300)]

READ_TIMEOUT = 5.0  # seconds a server may take to answer or close
MAX_BODY = 64 * 1024  # the servers' MAX_BODY_SIZE here


def req(head: bytes, body: bytes = b"", method: bytes = b"POST", path: bytes = b"/api/echo",
        version_: bytes = b"HTTP/1.1") -> bytes:
    """A request with ``head`` as its header lines (Host added)."""
    return b"%s %s %s\r\nHost: 127.0.0.1\r\n%s\r\n%s" % (method, path, version_, head, body)


FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"
CHUNKED = FORM + b"Transfer-Encoding: chunked\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

# name -> (bytes, half-close after sending)
MALFORMED_REQUEST_LINES = {
    "garbage": (b"GARBAGE\r\n\r\n", False),
    "nul_in_method": (b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n", False),
    "lower_case_method": (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", False),
    "space_in_target": (b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", False),
    "raw_non_ascii_target": (b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", False),
    "extra_token": (b"GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", False),
    # NOTE: waitress passed 'Xadmin/...' as PATH_INFO; the router matched it as /admin/...
    "target_without_slash": (b"GET Xapi/echo HTTP/1.1\r\nHost: x\r\n\r\n", False),
}
#: refused by the App (400), whichever server passes them on
APP_REFUSED = {
    "host_with_userinfo": b"GET /api HTTP/1.1\r\nHost: localhost@evil.example\r\n\r\n",
    "host_with_control": b"GET /api HTTP/1.1\r\nHost: a\x7fb\r\n\r\n",
    "query_with_escape": b"GET /api/?a=\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n",
}
BAD_HEADERS = {
    "space_before_colon": (req(FORM + b"Content-Length : 3\r\n", b"a=1"), False),
    "nul_in_value": (req(b"X-A: a\x00b\r\n", method=b"GET", path=b"/"), False),
    "line_without_colon": (req(b"NoColonHere\r\n", method=b"GET", path=b"/"), False),
    "header_300k": (req(b"X-Big: " + b"a" * 300_000 + b"\r\n", method=b"GET", path=b"/"), False),
}
BAD_LENGTHS = {
    "letters": (req(FORM + b"Content-Length: abc\r\n", b"a=1"), False),
    "negative": (req(FORM + b"Content-Length: -1\r\n", b"a=1"), False),
    "list": (req(FORM + b"Content-Length: 3,3\r\n", b"a=1"), False),
    "two_different": (req(FORM + b"Content-Length: 3\r\nContent-Length: 4\r\n", b"a=12"), False),
    "absurd": (req(FORM + b"Content-Length: 99999999999999999999999\r\n", b"a=1"), False),
    "body_shorter_than_length": (req(FORM + b"Content-Length: 100\r\n", b"a=1"), True),
}
BAD_CHUNKS = {
    "letters": (req(CHUNKED, b"zz\r\nabc\r\n0\r\n\r\n"), False),
    "negative": (req(CHUNKED, b"-3\r\na=1\r\n0\r\n\r\n"), False),
    "trailing_space": (req(CHUNKED, b"3 \r\na=1\r\n0\r\n\r\n"), False),
    "data_longer_than_size": (req(CHUNKED, b"3\r\na=12345\r\n0\r\n\r\n"), False),
    "no_crlf_after_data": (req(CHUNKED, b"3\r\na=1XX0\r\n\r\n"), False),
    "size_beyond_any_body": (req(CHUNKED, b"FFFFFFFFFFFFFFFFFFFFFF\r\na=1\r\n"), True),
}
BAD_TRANSFER_ENCODINGS = {
    "unknown_coding": (req(b"Transfer-Encoding: xchunked\r\nContent-Length: 3\r\n", b"a=1"), False),
    "vertical_tab_chunked": (req(b"Transfer-Encoding: \x0bchunked\r\nContent-Length: 5\r\n",
                                 b"0\r\n\r\n"), False),
}
# gunicorn's documented limits (deploy/gunicorn.conf.py) and its strict parser
GUNICORN_ONLY = {
    "request_line_over_4094": (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", False),
    "header_field_over_8190": (req(b"X-Big: " + b"a" * 9000 + b"\r\n", method=b"GET", path=b"/"),
                               False),
    "more_than_100_fields": (req(b"".join(b"X-H%d: v\r\n" % i for i in range(150)),
                                 method=b"GET", path=b"/"), False),
    "bare_lf_line_endings": (b"GET / HTTP/1.1\nHost: x\n\n", False),
    "obsolete_line_folding": (req(b"X-A: a\r\n b\r\n", method=b"GET", path=b"/"), False),
    "duplicate_host": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", False),
    "http_version_9_9": (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", False),
}


@pytest.fixture(scope="module", params=["gunicorn", "waitress"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    kind = request.param
    with demo_server(tmp_path_factory.mktemp(kind), kind, app="webkit_app.demo.wsgi:application",
                     MAX_BODY_SIZE=str(MAX_BODY),
                     WEB_CONCURRENCY="2") as running:
        running.kind = kind  # type: ignore[attr-defined]
        # NOTE: the server answers as soon as its first worker is up: wait for both.
        running.workers = worker_pids(running, 2) if kind == "gunicorn" else []  # type: ignore
        yield running


def assert_refused(reply: bytes, what: str) -> None:
    """4xx (or 501 for an unimplemented transfer coding) then closed, or closed at once."""
    codes = statuses(reply)
    assert len(codes) <= 1, f"{what}: more than one response (a smuggled request?): {codes}"
    if codes:
        assert 400 <= codes[0] < 500 or codes[0] == 501, f"{what}: answered {codes[0]}:\n{reply!r}"
    assert reply.closed, f"{what}: the connection was left open after {codes or 'no answer'}"


def assert_still_serving(server: Server) -> None:
    """The next normal request succeeds, no worker died, no traceback was logged."""
    res = requests.get(server.url + "/api", timeout=READ_TIMEOUT)
    assert res.status_code == 200 and res.json()["name"] == "webkit_app demo"
    if server.kind == "gunicorn":  # type: ignore[attr-defined]
        assert children(server.pid) == server.workers, "a worker died or was replaced"  # type: ignore
    assert "Traceback" not in server.output, server.output[-3000:]


def run_vector(server: Server, name: str, vector: tuple[bytes, bool]) -> None:
    data, shut_write = vector
    reply = exchange(server.port, data, timeout=READ_TIMEOUT, shut_write=shut_write)
    assert_refused(reply, name)
    assert_still_serving(server)


@pytest.mark.parametrize("name", list(APP_REFUSED))
def test_no_host_or_control_byte_reaches_a_response_header(server: Server, name: str) -> None:
    reply = exchange(server.port, APP_REFUSED[name])
    codes = statuses(reply)
    assert len(codes) == 1 and codes[0] in (308, 400), reply
    head = bytes(reply).split(b"\r\n\r\n", 1)[0]
    assert not any(b < 0x20 and b not in (0x0d, 0x0a) or b == 0x7f for b in head), head
    assert b"evil" not in head
    assert_still_serving(server)


@pytest.mark.parametrize("name", list(MALFORMED_REQUEST_LINES))
def test_malformed_request_line_is_refused(server: Server, name: str) -> None:
    run_vector(server, name, MALFORMED_REQUEST_LINES[name])


@pytest.mark.parametrize("name", list(BAD_HEADERS))
def test_malformed_or_oversized_header_is_refused(server: Server, name: str) -> None:
    run_vector(server, name, BAD_HEADERS[name])


@pytest.mark.parametrize("name", list(BAD_LENGTHS))
def test_bad_content_length_is_refused(server: Server, name: str) -> None:
    run_vector(server, name, BAD_LENGTHS[name])


@pytest.mark.parametrize("body", [b"a=1", b""])
def test_body_shorter_than_its_length_and_the_client_gives_up(server: Server, body: bytes) -> None:
    """The client sends less than its Content-Length, waits, then drops the
    connection without a half-close (a timeout on its side): no 5xx was sent,
    and the worker that waited for the rest is free again."""
    data = req(FORM + b"Content-Length: 100\r\n", body)
    reply = exchange(server.port, data, timeout=1.0)
    assert all(400 <= code < 500 for code in statuses(reply)), reply[:300]
    assert_still_serving(server)
    if server.kind == "gunicorn":  # type: ignore[attr-defined]
        # NOTE: 2 sync workers: both must be free, not one stuck on the dead socket
        for _ in range(4):
            assert_still_serving(server)


@pytest.mark.parametrize("name", list(BAD_CHUNKS))
def test_bad_chunk_is_refused(server: Server, name: str) -> None:
    run_vector(server, name, BAD_CHUNKS[name])


@pytest.mark.parametrize("name", list(BAD_TRANSFER_ENCODINGS))
def test_bad_transfer_encoding_is_refused(server: Server, name: str) -> None:
    run_vector(server, name, BAD_TRANSFER_ENCODINGS[name])


@pytest.mark.parametrize("name", list(GUNICORN_ONLY))
def test_gunicorn_limits_and_strict_parsing(server: Server, name: str) -> None:
    if server.kind != "gunicorn":  # type: ignore[attr-defined]
        # NOTE: not a skip: waitress's own limits are 256 KB of headers
        # (header_300k above); it must still answer these without failing.
        reply = exchange(server.port, GUNICORN_ONLY[name][0], timeout=READ_TIMEOUT,
                         shut_write=True)
        assert all(code < 500 for code in statuses(reply)), reply[:300]
        assert_still_serving(server)
        return
    run_vector(server, name, GUNICORN_ONLY[name])


# -- request smuggling: conflicting framing -------------------------------------------

def assert_framed_safely(server: Server, data: bytes, what: str) -> None:
    """Refused, or processed by Transfer-Encoding alone and then closed
    (RFC 9112 section 6.1: "the server MUST close the connection after
    responding to such a request"); the smuggled request is never answered.

    NOTE: waitress 3.0.2 (the latest release) on its own keeps the connection
    open after Content-Length with Transfer-Encoding and accepts ``chunked,
    chunked`` (Pylons/waitress issues 464 and 465); ``webkit-app serve`` runs
    it with :mod:`webkit_app.server`'s strict parser, which refuses both.
    """
    reply = exchange(server.port, data, timeout=READ_TIMEOUT)
    codes = statuses(reply)
    assert len(codes) <= 1, f"{what}: the smuggled request was answered too: {codes}"
    assert not codes or codes[0] < 500 or codes[0] == 501, f"{what}: {reply[:300]!r}"
    assert reply.closed, (f"{what}: answered {codes} and the connection was left open, so "
                          "a request smuggled in the body is read as the next one")
    assert_still_serving(server)


CONFLICTING_FRAMING = dict([
    ("content_length_and_chunked", req(FORM + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
                                       b"0\r\n\r\n" + SMUGGLED)),
    ("chunked_then_identity", req(FORM + b"Transfer-Encoding: chunked\r\n"
                                  b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n",
                                  b"0\r\n\r\n")),
    ("chunked_applied_twice", req(FORM + b"Transfer-Encoding: chunked, chunked\r\n",
                                  b"5\r\n0\r\n\r\n\r\n0\r\n\r\n" + SMUGGLED)),
])
NOT_CHUNKED = dict([
    ("gzip_with_content_length", req(b"Transfer-Encoding: gzip\r\nContent-Length: %d\r\n"
                                     % len(SMUGGLED), SMUGGLED)),
    ("chunked_not_last", req(b"Transfer-Encoding: chunked, gzip\r\nContent-Length: %d\r\n"
                             % len(SMUGGLED), SMUGGLED)),
    ("chunked_then_gzip_lines", req(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"
                                    b"Content-Length: %d\r\n" % len(SMUGGLED), SMUGGLED)),
])
PLUS_AND_HEX = dict([
    ("content_length_plus", req(FORM + b"Content-Length: +10\r\n", b"a=12345678")),
    ("content_length_hex", req(FORM + b"Content-Length: 0x0a\r\n", b"a=12345678")),
    ("chunk_size_hex_prefix", req(CHUNKED, b"0x3\r\na=1\r\n0\r\n\r\n")),
    ("chunk_size_plus", req(CHUNKED, b"+3\r\na=1\r\n0\r\n\r\n")),
])


ZERO_CHUNK = b"0\r\n\r\n"
KEEP_ALIVE = FORM + b"Connection: keep-alive\r\n"
# name -> (request, waitress's status, gunicorn's status): each answered once, then closed
TRANSFER_ENCODING_EDGES = {
    # waitress alone ignored Transfer-Encoding in HTTP/1.0 (framed by Content-Length,
    # connection kept) and read an empty one as none (200)
    "http_1_0_keep_alive_chunked_and_length": (req(
        KEEP_ALIVE + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        ZERO_CHUNK + SMUGGLED, version_=b"HTTP/1.0"), 400, 400),
    "http_1_0_keep_alive_chunked": (req(
        KEEP_ALIVE + b"Transfer-Encoding: chunked\r\n", ZERO_CHUNK + SMUGGLED,
        version_=b"HTTP/1.0"), 400, 400),
    "http_1_0_chunked_and_length": (req(
        FORM + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", ZERO_CHUNK + SMUGGLED,
        version_=b"HTTP/1.0"), 400, 400),
    "http_1_0_keep_alive_gzip_and_length": (req(
        b"Connection: keep-alive\r\nTransfer-Encoding: gzip\r\nContent-Length: %d\r\n"
        % len(SMUGGLED), SMUGGLED, version_=b"HTTP/1.0"), 400, 400),
    "empty_and_length": (req(FORM + b"Transfer-Encoding:\r\nContent-Length: 5\r\n",
                             ZERO_CHUNK + SMUGGLED), 400, 501),
    "whitespace_and_length": (req(FORM + b"Transfer-Encoding:  \t \r\nContent-Length: 5\r\n",
                                  ZERO_CHUNK + SMUGGLED), 400, 501),
    "empty_without_length": (req(FORM + b"Transfer-Encoding:\r\n", SMUGGLED), 400, 501),
    "only_commas_and_length": (req(FORM + b"Transfer-Encoding: , ,\r\nContent-Length: 5\r\n",
                                   ZERO_CHUNK + SMUGGLED), 501, 501),
    "identity_and_length": (req(FORM + b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n",
                                ZERO_CHUNK + SMUGGLED), 501, 400),
    "identity_without_length": (req(FORM + b"Transfer-Encoding: identity\r\n", SMUGGLED),
                                501, 400),
    "gzip_without_length": (req(b"Transfer-Encoding: gzip\r\n", SMUGGLED), 501, 400),
    # NOTE: gunicorn decodes the chunks and hands the app the gzip bytes as the
    # body (it does not undo gzip); framed by chunked alone, then closed.
    "gzip_then_chunked": (req(FORM + b"Transfer-Encoding: gzip, chunked\r\n",
                              ZERO_CHUNK + SMUGGLED), 501, 200),
    # waitress joined the folded line: chunked, with Content-Length
    "folded_chunked_and_length": (req(
        FORM + b"Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n",
        ZERO_CHUNK + SMUGGLED), 400, 400),
}


@pytest.mark.parametrize("name", list(TRANSFER_ENCODING_EDGES))
def test_transfer_encoding_edge_cases_are_answered_once_and_closed(
        server: Server, name: str) -> None:
    """What each server answers, exactly; never a second (smuggled) response,
    never a connection kept open after a request framed two ways."""
    data, waitress_status, gunicorn_status = TRANSFER_ENCODING_EDGES[name]
    expected = gunicorn_status if server.kind == "gunicorn" else waitress_status  # type: ignore
    reply = exchange(server.port, data, timeout=READ_TIMEOUT)
    assert statuses(reply) == [expected], reply[:300]
    assert reply.closed, f"{name}: answered and the connection was left open"
    assert reply.count(b"\r\nConnection:") == 1, reply[:300]
    assert_still_serving(server)


@pytest.mark.parametrize("content_length", [MAX_BODY + 1, 10**12])
def test_expect_continue_over_the_limit_is_413_without_100_continue(
        server: Server, content_length: int) -> None:
    """The client asked whether to send the body: a body the server refuses
    must not be invited ("100 Continue") and then waited for.

    NOTE: gunicorn's workers send "100 Continue" before they call the app, so
    it is invited there, then refused by the app's limit (MAX_BODY_SIZE) at
    once and the connection closed: the body is never read.
    """
    data = req(FORM + b"Expect: 100-continue\r\nContent-Length: %d\r\n" % content_length)
    reply = exchange(server.port, data, timeout=READ_TIMEOUT)
    if server.kind == "gunicorn":  # type: ignore[attr-defined]
        assert statuses(reply) == [100, 413], reply[:300]
    else:
        assert b"100 Continue" not in reply, reply[:300]
        assert statuses(reply) == [413], reply[:300]
    assert reply.closed and reply.elapsed < READ_TIMEOUT, reply[:300]
    assert_still_serving(server)


@pytest.mark.parametrize("name", list(CONFLICTING_FRAMING))
def test_cve_2024_1135_conflicting_framing_headers(server: Server, name: str) -> None:
    assert_framed_safely(server, CONFLICTING_FRAMING[name], name)


@pytest.mark.parametrize("name", list(NOT_CHUNKED))
def test_cve_2024_6827_transfer_encoding_never_falls_back_to_content_length(
        server: Server, name: str) -> None:
    assert_framed_safely(server, NOT_CHUNKED[name], name)


@pytest.mark.parametrize("name", list(PLUS_AND_HEX))
def test_cve_2022_24761_plus_and_hex_lengths_are_refused(server: Server, name: str) -> None:
    run_vector(server, name, (PLUS_AND_HEX[name], False))


def test_cve_2022_24761_waitress_is_at_least_3_0_1() -> None:
    installed = tuple(int(p) for p in version("waitress").split(".")[:3])
    assert installed >= (3, 0, 1), f"waitress {installed} is vulnerable to CVE-2022-24761"


# -- the body limit, before the body is sent ----------------------------------------------

def test_content_length_over_the_limit_is_413_before_the_body_is_sent(server: Server) -> None:
    """MAX_BODY_SIZE answered as soon as the headers arrive: the server must not
    wait for (or buffer) a body the app will refuse."""
    data = req(FORM + b"Content-Length: %d\r\n" % (MAX_BODY + 1))
    reply = exchange(server.port, data, timeout=READ_TIMEOUT)
    assert reply.status == 413, (f"{server.kind}: no 413 within {READ_TIMEOUT} s of the "  # type: ignore
                                 f"headers, got {reply[:200]!r}")
    assert_still_serving(server)


def test_a_chunked_body_over_the_limit_is_413(server: Server) -> None:
    chunk = b"a" * 16384
    body = (b"4000\r\n" + chunk + b"\r\n") * (MAX_BODY // len(chunk) + 1) + b"0\r\n\r\n"
    reply = exchange(server.port, req(CHUNKED + b"Connection: close\r\n", body),
                     timeout=READ_TIMEOUT)
    assert reply.status == 413, reply[:300]
    assert_still_serving(server)


def test_keep_alive_survives_a_refused_body(server: Server) -> None:
    """A 400 from the app (not the server) on a keep-alive connection: the
    response is whole and the connection is either closed or still usable."""
    data = req(b"Content-Type: application/json\r\nContent-Length: 5\r\n", b"{nope",
               path=b"/api/notes") + b"GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    reply = exchange(server.port, data, timeout=READ_TIMEOUT)
    codes = statuses(reply)
    assert codes[:1] == [400] and codes[1:] in ([], [200]), codes
    assert_still_serving(server)
