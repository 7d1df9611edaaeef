"""waitress, the embedded server, with strict request framing.

waitress 3.0.2 (the latest release) processes a request that carries both
``Content-Length`` and ``Transfer-Encoding: chunked`` by the chunks and then
keeps the connection open, and it accepts ``Transfer-Encoding: chunked,
chunked``. Behind a proxy that frames the same bytes differently, either lets
a second request be smuggled inside the body (the class of gunicorn's
CVE-2024-1135). RFC 9112 allows a server to refuse both (sections 6.1 and
6.3), and so does this server: 400 and the connection closed, as gunicorn
answers. So are the other shapes waitress frames in a way a proxy may not:
``Transfer-Encoding`` in an HTTP/1.0 request (waitress ignores it and keeps a
``Connection: keep-alive`` connection open), an empty ``Transfer-Encoding``
(read as none), and folded header lines (joined). A control character in the
request head is refused before waitress's header pattern, which backtracks in
quadratic time on a run of spaces followed by one (seconds of CPU on the loop
that serves every connection). ``Expect: 100-continue`` on a request already
refused (a ``Content-Length`` over ``max_request_body_size``) gets its error
at once, not ``100 Continue``.

A client that stops reading a large response is dropped: waitress makes the
app's thread wait, with no time limit, once ``outbuf_high_watermark`` bytes
are queued for it, so a few such clients would hold every thread. Here the
connection is reset when the client has taken no byte for ``channel_timeout``
seconds, or for :data:`BUSY_STALL_TIMEOUT` seconds while another request waits
for a thread (:class:`StrictChannel`).

NOTE: gunicorn's default ``sync`` workers have no such bound: a worker writes
the response with blocking sends and is busy until the client has read it
(or ``timeout`` kills the worker). Serve them only behind a buffering proxy
(nginx with ``proxy_buffering on``, its default), which reads the response at
once and feeds slow clients itself.

One default differs: ``outbuf_high_watermark`` is 4 MiB (waitress: 16 MiB),
so a streamed response waits for a slow client once 4 MiB are queued for it
instead of 16: each connection holds at most about that much of a body in
memory. Any waitress option, this one included, can still be given.
Everything else is waitress unchanged::

    from webkit_app.server import serve
    serve(application, host="127.0.0.1", port=8000, threads=4)

In a PasteDeploy file, ``[server:main]`` takes ``use = egg:webkit_app`` with
waitress's own options (``listen``, ``threads``, ...).
"""

from __future__ import annotations

import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from ._extras import MissingExtra

try:
    from waitress import serve as _waitress_serve
    from waitress.channel import HTTPChannel
    from waitress.parser import HTTPRequestParser, ParsingError
    from waitress.server import BaseWSGIServer, MultiSocketServer
    from waitress.server import create_server as _waitress_create_server
except ImportError as exc:  # NOTE: the adapter is waitress's: one line names the extra
    if exc.name is None or not exc.name.startswith("waitress"):
        raise
    raise MissingExtra("webkit_app.server needs waitress, which is not installed: "
                       "pip install 'webkit_app[server]'") from None

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["DEFAULTS", "StrictRequestParser", "StrictChannel", "create_server", "serve",
           "serve_paste"]

#: waitress options this server sets unless they are given
DEFAULTS: dict[str, Any] = {"outbuf_high_watermark": 4 * 1024 * 1024}

_TE_FIELD = b"transfer-encoding:"
# every byte a request head may hold: all but the control characters other
# than HTAB (CR and LF are waitress's to check: it refuses them bare)
_HEAD_BYTES = bytes(b for b in range(256) if b in b"\t\r\n" or 0x20 <= b != 0x7F)


def transfer_codings(header_plus: bytes) -> list[bytes] | None:
    """The codings of every ``Transfer-Encoding`` field of a request head, in
    order and lower-cased, empty list elements left out; ``None`` when the
    head has no such field.

    NOTE: no regular expression: one ``lower``, one ``split`` and a strip per
    list element, so the cost is linear in the head's length whatever it holds
    (a pattern like ``(.*?)[ \t]*$`` took seconds on a field of 24,000 spaces).
    Folded lines have already been refused (:class:`StrictRequestParser`).
    """
    lowered = header_plus.lower()
    if b"\n" + _TE_FIELD not in lowered:
        return None
    codings: list[bytes] = []
    for line in lowered.split(b"\r\n")[1:]:
        if line.startswith(_TE_FIELD):
            items = (item.strip(b" \t") for item in line[len(_TE_FIELD):].split(b","))
            codings.extend(item for item in items if item)
    return codings


class StrictRequestParser(HTTPRequestParser):
    """waitress's parser, refusing ambiguous framing with 400 (and a close).

    Refused on top of waitress's own checks: a folded header line (waitress
    joins it), ``Transfer-Encoding`` in an HTTP/1.0 request (waitress ignores it
    and frames by ``Content-Length``: RFC 9112 section 6.1 calls that framing
    faulty), a ``Transfer-Encoding`` that names no coding, ``chunked`` applied
    more than once, and ``Transfer-Encoding`` with ``Content-Length``.
    """

    if TYPE_CHECKING:
        # NOTE: set by waitress's parse_header; types-waitress leaves them out.
        path: str
        request_uri: str

    def parse_header(self, header_plus: bytes) -> None:
        # PERF: substring searches and one translate(), all linear; obs-fold
        # is never sent by a real client.
        if b"\r\n " in header_plus or b"\r\n\t" in header_plus:
            raise ParsingError("Obsolete line folding in a header field")
        if header_plus.translate(None, _HEAD_BYTES):
            # NOTE: before waitress's HEADER_FIELD_RE, which backtracks in
            # quadratic time when a run of spaces or tabs is followed by a
            # byte it refuses ("X:" + 8,000 spaces + "\x01": 0.2 s of CPU on
            # the loop every connection shares; 256 KB: minutes). Without
            # such a byte a field either matches or fails in linear time.
            raise ParsingError("Control character in the request head")
        super().parse_header(header_plus)
        if not self.path.startswith("/") and self.request_uri != "*":
            # NOTE: origin-form must start with '/' (RFC 9112 3.2); waitress
            # passed 'GET Xadmin/users/1' on as PATH_INFO 'Xadmin/users/1'.
            raise ParsingError("The request target must start with '/'")
        codings = transfer_codings(header_plus)
        if codings is None:
            return
        if self.version != "1.1":
            raise ParsingError(f"Transfer-Encoding in an HTTP/{self.version} request")
        if not codings:
            raise ParsingError("Transfer-Encoding names no transfer coding")
        if codings.count(b"chunked") > 1:
            raise ParsingError("Transfer-Encoding applies chunked more than once")
        if "CONTENT_LENGTH" in self.headers:
            raise ParsingError("Content-Length together with Transfer-Encoding")

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        if self.error is not None:
            # NOTE: waitress would still send "100 Continue" for a request it
            # has refused (a Content-Length over max_request_body_size) and
            # wait for the body; refused, it gets its error and a close.
            self.expect_continue = False
            # NOTE: and an HTTP/1.0 "Connection: keep-alive" would add
            # "Connection: Keep-Alive" next to the error's "Connection: close".
            if isinstance(self.headers, dict):
                self.headers.pop("CONNECTION", None)
        return consumed


#: seconds a response may make no progress while another request waits for a thread
BUSY_STALL_TIMEOUT = 0.5
_WAIT_SLICE = 0.1  # seconds between two looks at a stalled response
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close with a reset


class StrictChannel(HTTPChannel):
    """A waitress channel that parses requests with :class:`StrictRequestParser`
    and drops a client that stops reading its response.

    waitress makes the app's thread wait, with no time limit, while more than
    ``outbuf_high_watermark`` bytes are queued for a client: a client that
    never reads holds a thread for as long as it keeps the connection open
    (waitress's ``channel_timeout`` only closes idle connections, and cannot
    even close those while the socket is not writable). Here the wait ends when
    the client has taken no byte for ``channel_timeout`` seconds, or for
    :data:`BUSY_STALL_TIMEOUT` seconds while another request waits for a
    thread; the connection is then reset and the app's iterable closed.
    """

    parser_class = StrictRequestParser

    def _flush_outbufs_below_high_watermark(self) -> None:
        if self.total_outbufs_len <= self.adj.outbuf_high_watermark:
            return
        with self.outbuf_lock:
            # NOTE: the main loop sends while this thread waits (wait()
            # releases the lock) and wakes it once below the high-water mark.
            queued, last_progress = self.total_outbufs_len, time.monotonic()
            while self.connected and self.total_outbufs_len > self.adj.outbuf_high_watermark:
                self.server.pull_trigger()
                self.outbuf_lock.wait(_WAIT_SLICE)
                now = time.monotonic()
                if self.total_outbufs_len < queued:
                    queued, last_progress = self.total_outbufs_len, now
                elif now - last_progress > self._stall_limit():
                    self._abort()

    def _stall_limit(self) -> float:
        waiting = len(getattr(self.server.task_dispatcher, "queue", ()))
        return BUSY_STALL_TIMEOUT if waiting else float(self.adj.channel_timeout)

    def _abort(self) -> None:
        """Reset the connection from the app's thread (the outbuf lock held) and
        wait for the main loop to close it; waitress then raises
        ``ClientDisconnected`` in the app's ``write``."""
        # NOTE: the main loop only looks at a writable socket: shutdown() makes
        # it so, and with nothing queued its handle_write closes the channel.
        self.will_close = True
        self.total_outbufs_len = 0
        sock = self.socket
        try:
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        deadline = time.monotonic() + 5
        while self.connected and time.monotonic() < deadline:
            self.server.pull_trigger()
            self.outbuf_lock.wait(_WAIT_SLICE)


def create_server(app: WSGIApplication, **adjustments: Any) -> Any:
    """``waitress.create_server`` whose listeners use :class:`StrictChannel`, with :data:`DEFAULTS`."""
    server = _waitress_create_server(app, **{**DEFAULTS, **adjustments})
    listeners: list[Any] = [server]
    if isinstance(server, MultiSocketServer) and server.map is not None:
        listeners = list(server.map.values())
    for listener in listeners:
        if isinstance(listener, BaseWSGIServer):
            # NOTE: waitress builds each connection's channel from this
            # attribute when it accepts; nothing has been accepted yet.
            listener.channel_class = StrictChannel
    return server


def serve(app: WSGIApplication, **adjustments: Any) -> None:
    """Serve ``app`` like ``waitress.serve``, with strict framing; returns when stopped."""
    _waitress_serve(app, _server=create_server, **adjustments)


def serve_paste(app: WSGIApplication, global_conf: dict[str, str], **adjustments: str) -> int:
    """The ``paste.server_runner`` entry point (``[server:main] use = egg:webkit_app``)."""
    serve(app, **adjustments)
    return 0
