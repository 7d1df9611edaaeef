"""CORS in a real browser: Debian's headless ``chromium`` calls the demo cross-origin.

Three loopback origins: a page origin listed in ``CORS_ORIGINS``, the API (the
demo under waitress, ``CORS_ALLOW_CREDENTIALS=true``) and a second page origin
that is not listed. The page's script calls the API with ``fetch`` and writes
each outcome into the DOM; ``chromium --dump-dom`` hands the DOM back. The
browser, not the test, decides what a script may read: an allowed origin gets
its simple GET, its credentialed GET (the cookie arrives) and its preflighted
JSON POST; a header the API does not allow, and every call from the unlisted
origin, make ``fetch`` reject with a ``TypeError``. The API's access log shows
the preflights.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from browserutil import CHROMIUM, dump_dom
from reliability_util import HOST, demo_server

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.timeout(120)]


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cors</title></head>
<body><pre id="out">pending</pre>
<script>
const api = %(api)s;
document.cookie = "crumb=c123; path=/";  // 127.0.0.1 cookies are shared by every port
const out = {};
async function attempt(name, call) {
  try { out[name] = await call(); }
  catch (e) { out[name] = {error: e.name}; }
}
(async () => {
  await attempt("simple", async () => {
    const r = await fetch(api + "/api");
    return {status: r.status, name: (await r.json()).name};
  });
  await attempt("credentials", async () => {
    const r = await fetch(api + "/api/echo", {credentials: "include"});
    return {status: r.status, cookies: (await r.json()).cookies};
  });
  await attempt("no_credentials", async () => {
    const r = await fetch(api + "/api/echo");
    return {status: r.status, cookies: (await r.json()).cookies};
  });
  await attempt("preflighted", async () => {
    const r = await fetch(api + "/api/notes", {
      method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({text: "from " + location.origin})});
    const note = await r.json();
    return {status: r.status, text: note.text, location: r.headers.get("Location"),
            request_id: r.headers.get("X-Request-ID")};
  });
  await attempt("header_not_allowed", async () => {
    const r = await fetch(api + "/api", {headers: {"X-Custom": "1"}});
    return {status: r.status};
  });
  document.getElementById("out").textContent = JSON.stringify(out);
})();
</script></body></html>
"""


class _Page(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:  # http.server's naming
        body = self.page if self.path == "/" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def page_origin(api: list[str]) -> Iterator[str]:
    """Serve the page on a free loopback port; yield its origin. The API's URL,
    ``api[0]``, is read when the page is requested (the API starts later: its
    CORS_ORIGINS names this origin)."""

    class Page(_Page):
        def do_GET(self) -> None:  # http.server's naming
            type(self).page = (PAGE % {"api": json.dumps(api[0])}).encode()
            super().do_GET()

    server = ThreadingHTTPServer((HOST, 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def browse(url: str, profile: Path) -> dict:
    """Load ``url`` in headless chromium; the outcomes the page wrote into its DOM."""
    dom, err = dump_dom(url, profile)
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found and found.group(1) != "pending", \
        f"no outcome in the DOM:\n{dom[-2000:]!r}\n{err[-3000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (Debian package `chromium`: "
                    "apt-get install chromium; make test does it as root)")
    return CHROMIUM


def test_browser_enforces_the_demo_cors_policy(tmp_path, chromium):
    with contextlib.ExitStack() as stack:
        api: list[str] = []
        allowed = stack.enter_context(page_origin(api))
        denied = stack.enter_context(page_origin(api))
        server = stack.enter_context(demo_server(
            tmp_path / "api", "waitress", CORS_ORIGINS=allowed, CORS_ALLOW_CREDENTIALS="true"))
        api.append(server.url)

        ok = browse(allowed + "/", tmp_path / "profile-allowed")
        refused = browse(denied + "/", tmp_path / "profile-denied")
        notes = requests.get(server.url + "/api/notes", timeout=10).json()["notes"]
        log = server.output

    assert ok["simple"] == {"status": 200, "name": "webkit_app demo"}, ok
    assert ok["credentials"] == {"status": 200, "cookies": {"crumb": "c123"}}, ok
    assert ok["no_credentials"] == {"status": 200, "cookies": {}}, ok
    pre = ok["preflighted"]
    assert pre["status"] == 201 and pre["text"] == f"from {allowed}", ok
    assert pre["location"].startswith("/api/notes/"), ok  # exposed headers, kept relative
    assert re.fullmatch(r"[0-9a-f]{32}", pre["request_id"]), ok
    assert ok["header_not_allowed"] == {"error": "TypeError"}, ok
    assert refused == {name: {"error": "TypeError"} for name in ok}, refused
    assert [n["text"] for n in notes] == [f"from {allowed}"], "the refused POST ran"

    # the preflights reached the API: allowed (204) and refused (403), without the app
    assert re.search(r'"OPTIONS /api/notes HTTP/1\.1" 204 ', log), log[-3000:]
    assert re.search(r'"OPTIONS /api HTTP/1\.1" 403 ', log), log[-3000:]
    assert re.search(r'"OPTIONS /api/notes HTTP/1\.1" 403 ', log), log[-3000:]
    assert len(re.findall(r'"POST /api/notes HTTP/1\.1" 201 ', log)) == 1, log[-3000:]

