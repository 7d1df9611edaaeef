"""webkit_app.server: waitress with strict framing, on a real loopback socket.

Content-Length together with Transfer-Encoding, and chunked applied more
than once, are refused with 400 and the connection closed, so no request
smuggled in the body is ever answered; well-framed requests are served as
waitress serves them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from reliability_util import exchange, statuses
from serverutil import strict_server
from waitress.server import BaseWSGIServer

from webkit_app.server import StrictChannel, create_server, serve_paste

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
POST = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
POST_1_0 = b"POST /echo HTTP/1.0\r\nHost: 127.0.0.1\r\n"
MAX_BODY = 1000


def echo(environ, start_response):  # a WSGI app
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body) + 1))])
    return [environ["PATH_INFO"].encode("latin-1")[:1] + body]


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with strict_server(echo, max_request_body_size=MAX_BODY) as bound:
        yield bound


REFUSED = {
    "content_length_and_chunked":
        POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "content_length_after_chunked":
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "chunked_applied_twice":
        POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n5\r\n0\r\n\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "chunked_on_two_lines":
        POST + b"Transfer-Encoding: chunked\r\ntransfer-encoding: CHUNKED\r\n\r\n0\r\n\r\n" + SMUGGLED,
    # waitress ignores Transfer-Encoding in HTTP/1.0 and frames by Content-Length
    "http_1_0_keep_alive_chunked_and_length":
        POST_1_0 + b"Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "http_1_0_keep_alive_chunked":
        POST_1_0 + b"Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        + SMUGGLED,
    "http_1_0_gzip_and_length":
        POST_1_0 + b"Connection: keep-alive\r\nTransfer-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED,
    # waitress reads an empty Transfer-Encoding as none and frames by Content-Length
    "empty_and_length":
        POST + b"Transfer-Encoding:\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "whitespace_and_length":
        POST + b"Transfer-Encoding: \t \r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "empty_without_length": POST + b"Transfer-Encoding:\r\n\r\n" + SMUGGLED,
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_ambiguous_framing_is_a_400_and_a_close(port: int, name: str) -> None:
    reply = exchange(port, REFUSED[name], timeout=5)
    assert statuses(reply) == [400], reply[:200]
    assert reply.closed
    assert b"Transfer-Encoding" in reply  # the message says which header
    assert reply.count(b"\r\nConnection:") == 1, reply[:200]  # only "close"


HEAD_REFUSED = {
    # waitress joins a folded line: "Transfer-Encoding: chunked" with Content-Length
    "folded_transfer_encoding": (POST + b"Transfer-Encoding:\r\n chunked\r\nContent-Length: 5"
                                 b"\r\n\r\n0\r\n\r\n" + SMUGGLED, b"folding"),
    "folded_other_field": (POST + b"X-A: a\r\n\tb\r\nContent-Length: 0\r\n\r\n", b"folding"),
    "control_in_field": (POST + b"X-A: a\x01\r\nContent-Length: 0\r\n\r\n", b"Control"),
    "del_in_target": (b"GET /a\x7fb HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"Control"),
}


@pytest.mark.parametrize("name", list(HEAD_REFUSED))
def test_folded_lines_and_control_characters_are_a_400_and_a_close(port: int, name: str) -> None:
    data, message = HEAD_REFUSED[name]
    reply = exchange(port, data, timeout=5)
    assert statuses(reply) == [400], reply[:200]
    assert reply.closed and message in reply


def test_expect_continue_over_the_body_limit_is_413_without_inviting_the_body(port: int) -> None:
    data = POST + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1)
    reply = exchange(port, data, timeout=3)
    assert b"100 Continue" not in reply, reply[:200]
    assert statuses(reply) == [413], reply[:200]
    assert reply.closed and reply.elapsed < 2.0


def test_expect_continue_within_the_limit_is_invited_and_served(port: int) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(POST + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        reply = b""
        while not reply.endswith(b"/abc") and len(reply) < 1000:
            reply += sock.recv(1000) or b"<closed>"
    assert statuses(reply) == [200] and reply.endswith(b"\r\n\r\n/abc"), reply


WELL_FRAMED = {
    "content_length": (POST + b"Content-Length: 3\r\n\r\nabc", b"/abc"),
    "chunked": (POST + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                b"/abcde"),
    "chunked_mixed_case": (POST + b"Transfer-Encoding: Chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n",
                           b"/z"),
    "no_body": (b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"/"),
}


@pytest.mark.parametrize("name", list(WELL_FRAMED))
def test_well_framed_requests_are_served_and_kept_alive(port: int, name: str) -> None:
    request, body = WELL_FRAMED[name]
    reply = exchange(port, request + request, timeout=1)
    assert statuses(reply) == [200, 200], reply[:300]
    assert reply.count(b"\r\n\r\n" + body) == 2
    assert not reply.closed  # keep-alive is untouched


def test_every_listener_uses_the_strict_channel() -> None:
    server = create_server(echo, listen="127.0.0.1:0 127.0.0.1:0")
    try:
        listeners = [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]
        assert len(listeners) == 2
        assert all(listener.channel_class is StrictChannel for listener in listeners)
    finally:
        server.close()


def test_paste_server_runner_is_declared() -> None:
    from importlib.metadata import entry_points

    (entry,) = entry_points(group="paste.server_runner", name="main",
                            module="webkit_app.server")
    assert entry.load() is serve_paste


def test_output_high_water_mark_defaults_to_4_mib_and_can_be_given() -> None:
    from webkit_app.server import DEFAULTS

    assert DEFAULTS == {"outbuf_high_watermark": 4 * 1024 * 1024}
    for given, expected in ((None, 4 * 1024 * 1024), ("16777216", 16 * 1024 * 1024)):
        options = {} if given is None else {"outbuf_high_watermark": given}
        server = create_server(echo, host="127.0.0.1", port=0, **options)
        try:
            assert server.adj.outbuf_high_watermark == expected
        finally:
            server.close()


def test_a_client_that_reads_nothing_pauses_the_stream_near_the_high_water_mark() -> None:
    import socket
    import time

    produced = [0]
    chunk = b"x" * 65536
    total = 64 * 1024 * 1024

    def big(environ, start_response):  # a WSGI app
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(total))])

        def body():
            for _ in range(total // len(chunk)):
                produced[0] += len(chunk)
                yield chunk
        return body()

    server = create_server(big, host="127.0.0.1", port=0, threads=1)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.effective_port), timeout=5) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            deadline = time.monotonic() + 5
            last = -1
            # NOTE: wait until the app is paused (its count stops moving).
            while time.monotonic() < deadline and produced[0] != last:
                last = produced[0]
                time.sleep(0.5)
            paused_at = produced[0]
        # 4 MiB queued in waitress, plus what the two socket buffers hold.
        assert 4 * 1024 * 1024 <= paused_at < 12 * 1024 * 1024, paused_at
    finally:
        server.close()
        thread.join(5)
