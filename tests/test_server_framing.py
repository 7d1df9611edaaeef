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
from waitress.server import BaseWSGIServer

from webkit_app.server import StrictChannel, create_server, serve_paste

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
POST = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def echo(environ, start_response):  # noqa: ANN001, ANN201 - a WSGI app
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body) + 1))])
    return [environ["PATH_INFO"].encode("latin-1")[:1] + body]


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = create_server(echo, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        thread.join(5)


REFUSED = {
    "content_length_and_chunked":
        POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "content_length_after_chunked":
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "chunked_applied_twice":
        POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n5\r\n0\r\n\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "chunked_on_two_lines":
        POST + b"Transfer-Encoding: chunked\r\ntransfer-encoding: CHUNKED\r\n\r\n0\r\n\r\n" + SMUGGLED,
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_ambiguous_framing_is_a_400_and_a_close(port: int, name: str) -> None:
    reply = exchange(port, REFUSED[name], timeout=5)
    assert statuses(reply) == [400], reply[:200]
    assert reply.closed
    assert b"Transfer-Encoding" in reply  # the message says which header


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

    def big(environ, start_response):  # noqa: ANN001, ANN202 - a WSGI app
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
