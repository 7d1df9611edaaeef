"""waitress, the embedded server, with strict request framing.

waitress 3.0.2 (the latest release) processes a request that carries both
``Content-Length`` and ``Transfer-Encoding: chunked`` by the chunks and then
keeps the connection open, and it accepts ``Transfer-Encoding: chunked,
chunked``. Behind a proxy that frames the same bytes differently, either lets
a second request be smuggled inside the body (the class of gunicorn's
CVE-2024-1135). RFC 9112 allows a server to refuse both (sections 6.1 and
6.3), and so does this server: 400 and the connection closed, as gunicorn
answers.

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

import re
from typing import TYPE_CHECKING, Any

from waitress import serve as _waitress_serve
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import BaseWSGIServer, MultiSocketServer
from waitress.server import create_server as _waitress_create_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["DEFAULTS", "StrictRequestParser", "StrictChannel", "create_server", "serve",
           "serve_paste"]

#: waitress options this server sets unless they are given
DEFAULTS: dict[str, Any] = {"outbuf_high_watermark": 4 * 1024 * 1024}

# NOTE: waitress has already refused folded and malformed header lines when
# this runs, so a plain line scan sees every Transfer-Encoding field.
_TRANSFER_ENCODING = re.compile(rb"^transfer-encoding:[ \t]*(.*?)[ \t]*\r?$",
                                re.IGNORECASE | re.MULTILINE)


class StrictRequestParser(HTTPRequestParser):
    """waitress's parser, refusing ambiguous framing with 400 (and a close)."""

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if not self.chunked:
            return
        codings = [coding.strip(b" \t").lower()
                   for value in _TRANSFER_ENCODING.findall(header_plus)
                   for coding in value.split(b",") if coding.strip(b" \t")]
        if codings.count(b"chunked") > 1:
            raise ParsingError("Transfer-Encoding applies chunked more than once")
        if "CONTENT_LENGTH" in self.headers:
            raise ParsingError("Content-Length together with Transfer-Encoding")


class StrictChannel(HTTPChannel):
    """A waitress channel that parses requests with :class:`StrictRequestParser`."""

    parser_class = StrictRequestParser


def create_server(app: WSGIApplication, **adjustments: Any) -> Any:
    """``waitress.create_server`` whose listeners use :class:`StrictChannel`, with :data:`DEFAULTS`."""
    server = _waitress_create_server(app, **{**DEFAULTS, **adjustments})
    listeners = server.map.values() if isinstance(server, MultiSocketServer) else [server]
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
