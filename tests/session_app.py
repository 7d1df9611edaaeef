"""A test-only app for the session tests on real servers: the demo behind its
production stack plus ``/_test/whoami`` (the worker's pid and the session's
user, after ``seconds`` of sleep) and driver pages served from the demo's own
origin, whose script submits a form or calls ``fetch`` as a user's page would.

gunicorn and waitress import it as ``session_app:application`` with ``tests/``
on ``PYTHONPATH`` (see ``reliability_util.server_env``).
"""

from __future__ import annotations

import os
import time

from webkit_app import html_response, json_response
from webkit_app.demo import Config, make_demo, wrap
from webkit_app.settings import configure_logging

#: the driver pages: each submits a form (or calls fetch) when it loads
DRIVERS = {
    "login": """<form method="post" action="/login">
<input name="user" value="{user}"><input name="password" value="{password}"></form>
<script>document.forms[0].submit();</script>""",
    "add": """<form method="post" action="/notes"><input name="text" value="{text}"></form>
<script>document.forms[0].submit();</script>""",
    "fetch": """<pre id="out">pending</pre>
<script>
fetch("/notes", {{method: "POST", body: new URLSearchParams({{text: "{text}"}})}})
  .then(async r => {{ document.getElementById("out").textContent = JSON.stringify(
      {{status: r.status, redirected: r.redirected, url: new URL(r.url).pathname,
        flash: (await r.text()).includes("Note added.")}}); }})
  .catch(e => {{ document.getElementById("out").textContent = JSON.stringify({{error: e.name}}); }});
</script>""",
}


def whoami(request):
    time.sleep(min(float(request.GET.get("seconds", "0")), 5.0))
    return json_response({"pid": os.getpid(), "user": request.session.get("user")})


def driver(request):
    page = DRIVERS[request.urlvars["name"]]
    values = {k: request.GET.get(k, "") for k in ("user", "password", "text")}
    return html_response(page.format(**{k: v.replace('"', "&quot;") for k, v in values.items()}))


def _build():
    config = Config.from_environ(os.environ)
    configure_logging(config)
    app = make_demo(config)
    app.add_route("GET", "/_test/whoami", whoami)
    app.add_route("GET", "/_test/drive/{name:str}", driver)
    return wrap(app, config)


application = _build()
