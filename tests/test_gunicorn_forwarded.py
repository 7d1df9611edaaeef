"""deploy/gunicorn.conf.py: a client cannot choose the app's SCRIPT_NAME.

gunicorn (>= 22) takes a ``SCRIPT_NAME`` request header as the WSGI
``SCRIPT_NAME`` when the peer is in ``forwarded_allow_ips`` (loopback by
default, where a proxy on the same host connects from) and the name is in
``forwarder_headers`` (default ``SCRIPT_NAME,PATH_INFO``). A proxy that passes
the client's headers on (only nginx drops names with an underscore by default)
then lets any client move the app's links and redirects under a prefix of its
choice, or get a 500 ("Request path ... does not start with SCRIPT_NAME").
The shipped file trusts no such header unless ``FORWARDER_HEADERS`` names it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_util import Server, demo_server, exchange, statuses

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

APP = "webkit_app.demo.wsgi:application"


def get(server: Server, path: bytes, *headers: bytes) -> bytes:
    data = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n" % (
        path, b"".join(h + b"\r\n" for h in headers))
    return exchange(server.port, data, timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with demo_server(tmp_path_factory.mktemp("fwd"), "gunicorn", app=APP) as running:
        yield running


def test_a_script_name_header_does_not_move_the_apps_links(server: Server) -> None:
    reply = get(server, b"/api", b"SCRIPT_NAME: /evil")
    assert statuses(reply) == [200], reply[:400]
    assert b'"echo":"/api/echo"' in reply and b"/evil" not in reply, reply[-300:]


def test_a_script_name_header_does_not_move_a_redirect(server: Server) -> None:
    reply = get(server, b"/api/", b"SCRIPT_NAME: /evil")
    assert statuses(reply) == [308], reply[:400]
    assert b"\r\nLocation: /api\r\n" in reply, reply[:400]


def test_a_path_under_the_claimed_prefix_is_not_found(server: Server) -> None:
    reply = get(server, b"/evil/api", b"SCRIPT_NAME: /evil")
    assert statuses(reply) == [404], reply[:400]


def test_a_path_info_header_is_dropped(server: Server) -> None:
    reply = get(server, b"/api/echo?x=1", b"PATH_INFO: /admin")
    assert statuses(reply) == [200], reply[:400]
    assert b"PATH_INFO" not in reply and b"/admin" not in reply, reply[-400:]


def test_forwarder_headers_can_be_trusted_on_purpose(tmp_path_factory: pytest.TempPathFactory,
                                                     ) -> None:
    """A proxy that sets SCRIPT_NAME itself (and removes the client's) is
    trusted with FORWARDER_HEADERS=SCRIPT_NAME."""
    with demo_server(tmp_path_factory.mktemp("fwd-on"), "gunicorn", app=APP,
                     FORWARDER_HEADERS="SCRIPT_NAME") as running:
        reply = get(running, b"/app/api", b"SCRIPT_NAME: /app")
    assert statuses(reply) == [200], reply[:400]
    assert b'"echo":"/app/api/echo"' in reply, reply[-300:]
