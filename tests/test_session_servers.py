"""Sessions and cross-origin protection on real servers and in a real browser.

Headless ``chromium`` (``--dump-dom``, one profile kept across runs, so its
cookie jar is the user's) signs in with the demo's form, adds a note and sees
the flash; a page on a second loopback origin (another port: same site,
other origin, so the SameSite=Lax cookie is sent) auto-submits a form POST to
``/notes``: the browser gets the 403 and no note is created; a same-origin
``fetch`` POST passes. Then gunicorn with two workers: a session made on one
worker is read on the other.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
import requests
from browserutil import dump_dom
from reliability_util import (
    HOST,
    HTPASSWD_PASSWORD,
    HTPASSWD_USER,
    demo_server,
    write_htpasswd,
)
from test_cors_browser import (
    _Page,
    chromium,  # noqa: F401 (the fixture)
)

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]

APP = "session_app:application"
EVIL = """<!DOCTYPE html><html><body>
<form method="post" action="%(target)s"><input name="text" value="forged by another origin"></form>
<script>document.forms[0].submit();</script></body></html>"""


@contextlib.contextmanager
def evil_origin(target: str):
    """Serve the auto-submitting page on another loopback port; yield its URL."""

    class Page(_Page):
        page = (EVIL % {"target": target}).encode()

    server = ThreadingHTTPServer((HOST, 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def notes(server) -> list[str]:
    return [n["text"] for n in requests.get(server.url + "/api/notes", timeout=10).json()["notes"]]


@pytest.mark.browser
@pytest.mark.usefixtures("chromium")
def test_browser_signs_in_adds_a_note_and_a_cross_origin_form_post_is_refused(tmp_path):
    htpasswd = write_htpasswd(tmp_path / "htpasswd")
    profile = tmp_path / "profile"
    with demo_server(tmp_path / "srv", "gunicorn", app=APP, HTPASSWD=str(htpasswd)) as server:
        drive = server.url + "/_test/drive/"
        signed_in, _ = dump_dom(drive + "login?" + urlencode(
            {"user": HTPASSWD_USER, "password": HTPASSWD_PASSWORD}), profile)
        added, _ = dump_dom(drive + "add?" + urlencode({"text": "from the form <b>"}), profile)
        with evil_origin(server.url + "/notes") as evil:
            refused, _ = dump_dom(evil, profile)
        fetched, _ = dump_dom(drive + "fetch?" + urlencode({"text": "from fetch"}), profile)
        stored = notes(server)
        log = server.output

    assert f"Signed in as {HTPASSWD_USER}." in signed_in, signed_in[-2000:]
    assert '<p class="flash" role="status">Note added.</p>' in added, added[-2000:]
    assert "<li>from the form &lt;b&gt; <small>" in added, added[-2000:]
    assert "403 Forbidden" in refused and "Cross-origin request refused" in refused, refused[-2000:]
    assert "Sec-Fetch-Site is 'same-site'" in refused.replace("&#x27;", "'"), refused[-2000:]
    out = json.loads(re.search(r'<pre id="out">(.*?)</pre>', fetched, re.S).group(1)
                     .replace("&quot;", '"'))
    assert out == {"status": 200, "redirected": True, "url": "/notes", "flash": True}, fetched
    assert stored == ["from the form <b>", "from fetch"], "the cross-origin POST ran"
    assert len(re.findall(r'\[webkit_app\.access\].*"POST /notes HTTP/1\.1" 403 ', log)) == 1, \
        log[-3000:]


def test_a_session_made_on_one_gunicorn_worker_is_read_on_the_other(tmp_path):
    htpasswd = write_htpasswd(tmp_path / "htpasswd")
    with demo_server(tmp_path / "srv", "gunicorn", app=APP, HTPASSWD=str(htpasswd),
                     WEB_CONCURRENCY="2") as server:
        res = requests.post(server.url + "/login", allow_redirects=False, timeout=10,
                            data={"user": HTPASSWD_USER, "password": HTPASSWD_PASSWORD})
        assert res.status_code == 303, res.text
        cookie = {"session": res.cookies["session"]}

        def whoami(_: int) -> dict:
            # NOTE: a new connection each, both busy for 1 s: one per sync worker.
            return requests.get(server.url + "/_test/whoami", params={"seconds": "1"},
                                cookies=cookie, timeout=10,
                                headers={"Connection": "close"}).json()

        with ThreadPoolExecutor(2) as pool:
            seen = list(pool.map(whoami, range(2)))
    assert len({s["pid"] for s in seen}) == 2, seen
    assert [s["user"] for s in seen] == [HTPASSWD_USER] * 2, seen
