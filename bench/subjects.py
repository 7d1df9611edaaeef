"""The subjects: one builder per framework, each serving the same routes.

Every builder returns a WSGI application answering:

- ``GET /hello``: ``Hello, World!`` as ``text/plain``;
- ``GET /users/{id}``: ``{"id": id}`` as JSON, ``id`` converted to ``int``;
- ``GET /r{i}/{x}`` for ``i`` in ``range(DEEP_ROUTES)``: ``x`` as ``text/plain``;
- ``GET /search?q=..&page=..``: ``{"q": q, "page": page}`` as JSON;
- ``POST /echo``: the JSON body, echoed as JSON;
- anything else: 404.

Each is written the way that framework's users would write it, with its
default JSON and error pages::

    app = build("webkit_app")          # a WSGI app; ImportError if not installed
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

HELLO = "Hello, World!"
DEEP_ROUTES = 1000
SECRET_KEY = "bench-" + "0123456789abcdefghijklmnopqrstuvwxyz"
ACCESS_LOGGER = "webkit_app.access"
TEXT = "text/plain; charset=utf-8"

# NOTE: the floor uses the fastest JSON at hand, as webkit_app does.
try:
    import orjson

    _dumps: Callable[[Any], bytes] = orjson.dumps
    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    def _dumps(data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":")).encode()

    _loads = json.loads


# -- raw WSGI: the floor ------------------------------------------------------

def build_raw() -> Callable:
    """A hand-written WSGI app: a dict of static paths, a dict of first segments."""
    hello_body = HELLO.encode()

    def send(start_response, status, ctype, body):
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def hello(environ, start_response, arg):
        return send(start_response, "200 OK", TEXT, hello_body)

    def user(environ, start_response, arg):
        if not (arg.isascii() and arg.isdigit()):
            return send(start_response, "404 Not Found", TEXT, b"Not Found")
        return send(start_response, "200 OK", "application/json", _dumps({"id": int(arg)}))

    def deep(environ, start_response, arg):
        return send(start_response, "200 OK", TEXT, arg.encode("latin-1"))

    def search(environ, start_response, arg):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "q" not in query or "page" not in query:
            return send(start_response, "400 Bad Request", TEXT, b"Bad Request")
        data = {"q": query["q"][0], "page": query["page"][0]}
        return send(start_response, "200 OK", "application/json", _dumps(data))

    def echo(environ, start_response, arg):
        length = environ.get("CONTENT_LENGTH")
        try:
            data = _loads(environ["wsgi.input"].read(int(length)) if length else b"")
        except ValueError:
            return send(start_response, "400 Bad Request", TEXT, b"Bad Request")
        return send(start_response, "200 OK", "application/json", _dumps(data))

    static = {"/hello": ("GET", hello), "/search": ("GET", search), "/echo": ("POST", echo)}
    firsts = {"users": user, **{f"r{i}": deep for i in range(DEEP_ROUTES)}}

    def app(environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        found = static.get(path)
        if found is not None:
            if environ["REQUEST_METHOD"] != found[0]:
                return send(start_response, "405 Method Not Allowed", TEXT, b"Not Allowed")
            return found[1](environ, start_response, None)
        parts = path.split("/")
        if len(parts) == 3 and parts[2] and environ["REQUEST_METHOD"] == "GET":
            handler = firsts.get(parts[1])
            if handler is not None:
                return handler(environ, start_response, parts[2])
        return send(start_response, "404 Not Found", TEXT, b"Not Found")

    return app


# -- bare WebOb: Request in, Response out -------------------------------------

def build_webob() -> Callable:
    """WebOb alone: a dict for static paths and a list of compiled regexes."""
    from webob import Request, Response
    from webob.exc import HTTPMethodNotAllowed, HTTPNotFound

    def hello(req):
        return Response(text=HELLO, content_type="text/plain", charset="utf-8")

    def user(req, id):
        return Response(json={"id": int(id)})

    def deep(req, x):
        return Response(text=x, content_type="text/plain", charset="utf-8")

    def search(req):
        return Response(json={"q": req.GET["q"], "page": req.GET["page"]})

    def echo(req):
        return Response(json=req.json)

    static = {"/hello": ("GET", hello), "/search": ("GET", search), "/echo": ("POST", echo)}
    dynamic = [(re.compile(r"/users/(?P<id>\d+)\Z").match, "GET", user)]
    dynamic += [(re.compile(rf"/r{i}/(?P<x>[^/]+)\Z").match, "GET", deep)
                for i in range(DEEP_ROUTES)]

    def route(path):
        found = static.get(path)
        if found is not None:
            return found[0], found[1], {}
        for match, method, handler in dynamic:
            m = match(path)
            if m is not None:
                return method, handler, m.groupdict()
        return None

    def app(environ, start_response):
        req = Request(environ)
        found = route(req.path_info)
        if found is None:
            resp = HTTPNotFound()
        elif req.method != found[0]:
            resp = HTTPMethodNotAllowed()
        else:
            resp = found[1](req, **found[2])
        return resp(environ, start_response)

    return app


# -- webkit_app ---------------------------------------------------------------

def build_webkit_app() -> Callable:
    """webkit_app's ``App`` alone, routes registered as its guide shows."""
    from webkit_app import App, json_response, text_response

    app = App()

    @app.route("/hello")
    def hello(request):
        return text_response(HELLO)

    @app.route("/users/{id:int}")
    def user(request):
        return json_response({"id": request.urlvars["id"]})

    def deep(request):
        return text_response(request.urlvars["x"])

    @app.route("/search")
    def search(request):
        query = request.GET
        return json_response({"q": query["q"], "page": query["page"]})

    @app.route("/echo", methods=["POST"])
    def echo(request):
        return json_response(request.json)

    for i in range(DEEP_ROUTES):
        app.add_route("GET", f"/r{i}/{{x}}", deep)

    return app


def build_webkit_response() -> Callable:
    """webkit_app's ``App`` with handlers that build ``Response(...)`` as WebOb's users do."""
    from webkit_app import App, Response

    app = App()

    @app.route("/hello")
    def hello(request):
        return Response(HELLO, content_type="text/plain")

    @app.route("/users/{id:int}")
    def user(request):
        return Response(json_body={"id": request.urlvars["id"]})

    def deep(request):
        return Response(request.urlvars["x"], content_type="text/plain")

    @app.route("/search")
    def search(request):
        query = request.GET
        return Response(json_body={"q": query["q"], "page": query["page"]})

    @app.route("/echo", methods=["POST"])
    def echo(request):
        return Response(json_body=request.json)

    for i in range(DEEP_ROUTES):
        app.add_route("GET", f"/r{i}/{{x}}", deep)

    return app


#: where the access lines go: a file, as a process manager or logrotate setup
#: writes them (each process appends; removed when the process that made it exits)
ACCESS_LOG_FILE = os.environ.get("BENCH_ACCESS_LOG") or os.path.join(
    tempfile.gettempdir(), "webkit_app-bench-access.log")


class AccessFile(logging.FileHandler):
    """The stdlib ``FileHandler`` (append, a flush per record), counting records."""

    def __init__(self) -> None:
        super().__init__(ACCESS_LOG_FILE, encoding="utf-8")
        self.emitted = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.emitted += 1
        super().emit(record)


def access_sink() -> AccessFile:
    """The access logger at INFO writing to :data:`ACCESS_LOG_FILE` with the production formatter (once)."""
    from webkit_app.settings import LOG_FORMAT, LogFormatter

    logger = logging.getLogger(ACCESS_LOGGER)
    for handler in logger.handlers:
        if isinstance(handler, AccessFile):
            return handler
    if "BENCH_ACCESS_LOG" not in os.environ:  # NOTE: gunicorn's workers share the parent's
        os.environ["BENCH_ACCESS_LOG"] = ACCESS_LOG_FILE
        open(ACCESS_LOG_FILE, "w").close()
        atexit.register(_remove, ACCESS_LOG_FILE, os.getpid())
    sink = AccessFile()
    sink.setFormatter(LogFormatter(LOG_FORMAT))
    logger.addHandler(sink)
    logger.setLevel(logging.INFO)
    return sink


def _remove(path: str, pid: int) -> None:
    if os.getpid() == pid and os.path.exists(path):
        os.remove(path)


def production_config(**settings: Any) -> Any:
    """The toolkit's production settings (debug off, a real secret, no CORS origins)."""
    from webkit_app.settings import AppSettings

    return AppSettings(secret_key=SECRET_KEY, debug=False, **settings)


def build_webkit_stack() -> Callable:
    """The same ``App`` behind the toolkit's production stack.

    NOTE: ``webkit_app.factory.wrap`` (request_id, access_log, errors), not the
    demo's wrap, which adds cross_origin and session (and basic_auth).
    """
    from webkit_app.factory import wrap

    access_sink()
    return wrap(build_webkit_app(), production_config())


QUIET_ACCESS_LOGGER = "bench.access.quiet"


def quiet_access_logger() -> logging.Logger:
    """An access logger at WARNING: ``access_log`` measures, formats nothing."""
    logger = logging.getLogger(QUIET_ACCESS_LOGGER)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    return logger


def build_layers() -> dict[str, tuple[str, Callable]]:
    """The stack taken apart: ``App`` with each production layer alone, then all.

    Each ``access_log`` writes through :func:`access_sink` (the stack's own
    sink) unless named "not written", where its logger is at WARNING.
    """
    from webkit_app.factory import layers, wrap
    from webkit_app.middleware import access_log, errors, request_id, stack

    access_sink()
    app = build_webkit_app()
    config = production_config()
    quiet = []
    for layer in layers(config):
        factory, options = layer if isinstance(layer, tuple) else (layer, {})
        if factory is access_log:
            options = {**options, "logger": quiet_access_logger()}
        quiet.append((factory, options))
    return {
        "app": ("App alone", app),
        "errors": ("App + errors", errors(app)),
        "request_id": ("App + request_id", request_id(app)),
        "access_log": ("App + access_log, record written", access_log(app)),
        "access_quiet": ("App + access_log, record not written",
                         access_log(app, logger=quiet_access_logger())),
        "stack": ("the stack (request_id, access_log, errors)", wrap(app, config)),
        "stack_quiet": ("the stack, access record not written", stack(app, *quiet)),
    }


def one_access_record() -> Callable[[], None]:
    """Write one access record (an ``_emit`` call) through the stack's sink, no request."""
    from webkit_app.middleware import access_log
    from webkit_app.middleware._access_log import _LoggedIter

    from .harness import WORKLOADS, environ_for

    access_sink()
    middleware = access_log(build_webkit_app())
    environ = environ_for(WORKLOADS[0])
    environ["webkit_app.request_id"] = "0" * 32
    entry = _LoggedIter(middleware._emit, environ, None)  # type: ignore[arg-type]
    entry.status, entry.nbytes = 200, len(HELLO)
    return lambda: middleware._emit(entry)


def one_access_handle() -> Callable[[], None]:
    """The stdlib's part of one access record: ``logger.handle`` of a ready
    record (filters, the handler's lock, LogFormatter, FileHandler's write and
    flush), through the stack's sink."""
    from webkit_app.middleware._access_log import _FORMAT

    access_sink()
    logger = logging.getLogger(ACCESS_LOGGER)
    args = ("127.0.0.1", "-", "02/Dec/2026:07:00:00 +0000", "GET", "/hello", "HTTP/1.1",
            200, len(HELLO), "-", "bench/1.0", 0.012, "0" * 32)
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, _FORMAT, args, None)
    return lambda: logger.handle(record)


# -- the peers ----------------------------------------------------------------

def build_falcon() -> Callable:
    """Falcon: resources with responders, its ``int`` converter, ``resp.media``."""
    import falcon

    class Hello:
        def on_get(self, req, resp):
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = HELLO

    class User:
        def on_get(self, req, resp, id):
            resp.media = {"id": id}

    class Deep:
        def on_get(self, req, resp, x):
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = x

    class Search:
        def on_get(self, req, resp):
            resp.media = {"q": req.get_param("q", required=True),
                          "page": req.get_param("page", required=True)}

    class Echo:
        def on_post(self, req, resp):
            resp.media = req.get_media()

    app = falcon.App()
    app.add_route("/hello", Hello())
    app.add_route("/users/{id:int}", User())
    app.add_route("/search", Search())
    app.add_route("/echo", Echo())
    deep = Deep()
    for i in range(DEEP_ROUTES):
        app.add_route(f"/r{i}/{{x}}", deep)
    return app


def build_flask() -> Callable:
    """Flask: view functions, ``<int:id>``, dicts returned as JSON."""
    from flask import Flask, Response, jsonify, request

    app = Flask("bench_flask")

    @app.get("/hello")
    def hello():
        return Response(HELLO, mimetype="text/plain")

    @app.get("/users/<int:id>")
    def user(id):
        return {"id": id}

    def deep(x):
        return Response(x, mimetype="text/plain")

    @app.get("/search")
    def search():
        return {"q": request.args["q"], "page": request.args["page"]}

    @app.post("/echo")
    def echo():
        return jsonify(request.get_json())

    for i in range(DEEP_ROUTES):
        app.add_url_rule(f"/r{i}/<x>", f"deep{i}", deep)

    return app


def build_bottle() -> Callable:
    """Bottle: routes on a ``Bottle()`` app, ``<id:int>``, dicts as JSON."""
    import bottle

    app = bottle.Bottle()
    request, response = bottle.request, bottle.response

    @app.get("/hello")
    def hello():
        response.content_type = TEXT
        return HELLO

    @app.get("/users/<id:int>")
    def user(id):
        return {"id": id}

    def deep(x):
        response.content_type = TEXT
        return x

    @app.get("/search")
    def search():
        query = request.query
        return {"q": query.getunicode("q"), "page": query.getunicode("page")}

    @app.post("/echo")
    def echo():
        return request.json

    for i in range(DEEP_ROUTES):
        app.route(f"/r{i}/<x>", "GET", deep)

    return app


def build_pyramid() -> Callable:
    """Pyramid: routes and views, the ``json`` renderer, its default 404 view."""
    from pyramid.config import Configurator
    from pyramid.response import Response

    def hello(request):
        return Response(text=HELLO, content_type="text/plain", charset="utf-8")

    def user(request):
        return {"id": int(request.matchdict["id"])}

    def deep(request):
        return Response(text=request.matchdict["x"], content_type="text/plain", charset="utf-8")

    def search(request):
        return {"q": request.GET["q"], "page": request.GET["page"]}

    def echo(request):
        return request.json_body

    with Configurator() as config:
        config.add_route("hello", "/hello")
        config.add_view(hello, route_name="hello", request_method="GET")
        config.add_route("user", r"/users/{id:\d+}")
        config.add_view(user, route_name="user", request_method="GET", renderer="json")
        config.add_route("search", "/search")
        config.add_view(search, route_name="search", request_method="GET", renderer="json")
        config.add_route("echo", "/echo")
        config.add_view(echo, route_name="echo", request_method="POST", renderer="json")
        for i in range(DEEP_ROUTES):
            config.add_route(f"deep{i}", f"/r{i}/{{x}}")
            config.add_view(deep, route_name=f"deep{i}", request_method="GET")
    return config.make_wsgi_app()


#: subject name -> (label, builder), in table order
SUBJECTS: dict[str, tuple[str, Callable[[], Callable]]] = {
    "raw": ("raw WSGI", build_raw),
    "webob": ("WebOb", build_webob),
    "webkit_app": ("webkit_app App", build_webkit_app),
    "webkit_response": ("App, Response(...)", build_webkit_response),
    "stack": ("webkit_app + stack", build_webkit_stack),
    "falcon": ("Falcon", build_falcon),
    "flask": ("Flask", build_flask),
    "bottle": ("Bottle", build_bottle),
    "pyramid": ("Pyramid", build_pyramid),
}


def build(name: str) -> Callable:
    """Build subject ``name`` (also the gunicorn factory: ``bench.subjects:build('raw')``)."""
    return SUBJECTS[name][1]()
