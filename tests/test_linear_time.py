"""Every regex the toolkit applies to request data runs in linear time.

Each row feeds 64 KB or more of hostile input (long runs of what a pattern
repeats, a near-miss at the end) to one function that applies a regex to
request data, and asserts the CPU time of one call. A quadratic pattern costs
seconds here (``mask_params`` on ``keykeykey...`` took 6 s); a linear one, a
few milliseconds.
"""

import io
import logging
import time

import pytest
from webob import Request

from webkit_app import App, Response
from webkit_app.body import parse_qs_strict
from webkit_app.httperror import negotiate
from webkit_app.middleware import access_log, basic_auth, cors, errors, hash_password, request_id
from webkit_app.middleware._access_log import _field
from webkit_app.middleware._basic_auth import parse_basic
from webkit_app.middleware._wsgi import mask_params, normalized_path, request_target

N = 64 * 1024
BUDGET = 0.05  # seconds of CPU for one call; the quadratic versions take seconds


def cpu_seconds(call):
    """The CPU time of one call of ``call()``: the best of three, to skip noise."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        try:
            call()
        except Exception:  # a 400 raised is an answer too; only its cost counts here
            pass
        best = min(best, time.process_time() - start)
    return best


def start_response(status, headers, exc_info=None):
    return lambda data: None


def wsgi_call(app, environ):
    def call():
        env = dict(environ)
        body = app(env, start_response)
        b"".join(body)
        getattr(body, "close", lambda: None)()
    return call


def views():
    app = App()

    def ok(request):
        return Response("ok")

    for pattern in ("/items/{id:int}", "/f/{x:float}", "/u/{u:uuid}", "/p/{rest:path}",
                    "/s/{name}/x"):
        app.route(pattern, name=pattern)(ok)
    return app


ROUTED = views()
USERS = {"admin": hash_password("s3cret", "pbkdf2:sha256:1000")}
AUTH = basic_auth(ROUTED, users=USERS, protect="/admin")
CORS = cors(ROUTED, allow_origin_regex=r"https://.*-.*\.example\.com",
            allow_methods="*", allow_headers="*")
IDS = request_id(ROUTED)


def env(path="/", query="", **headers):
    environ = Request.blank("/").environ
    environ.update(PATH_INFO=path, QUERY_STRING=query, **headers)
    return environ


def param(call, id):
    return pytest.param(call, id=id)


CASES = [
    # middleware/_wsgi.py: mask_params and request_target (access log, error log, debug page)
    param(lambda: mask_params("key" * (N // 3)), "mask-keykeykey"),
    param(lambda: mask_params("token" * (N // 5) + "&"), "mask-tokentoken"),
    param(lambda: mask_params("PassW" * (N // 5) + " x"), "mask-passw-mixed-case"),
    param(lambda: mask_params("a=" + "key" * (N // 3)), "mask-words-in-a-value"),
    param(lambda: mask_params(" key" * (N // 4)), "mask-whitespace-separated"),
    param(lambda: mask_params("&key" * (N // 4) + "="), "mask-amp-separated"),
    param(lambda: mask_params("key=" * (N // 4)), "mask-many-equals"),
    param(lambda: mask_params("x" * N + "key"), "mask-near-miss-at-end"),
    param(lambda: request_target(env("/\n" * (N // 2), "key" * (N // 3))), "request-target"),
    param(lambda: request_target(env("/a" * (N // 2), "%6Bey" * (N // 5))), "request-target-pct"),
    param(lambda: normalized_path(env("/\xc3\xa9" * (N // 3) + "\xff")), "normalized-path"),
    # access_log.py: a header logged with \\xhh escapes
    param(lambda: _field('"\\\x00' * (N // 3)), "access-log-field"),
    # httperror.py: WebOb's Accept grammar, run for every error response
    param(lambda: negotiate("text/html;q=0.5," * (N // 16)), "accept-many-ranges"),
    param(lambda: negotiate("text/html;" + "a=b;" * (N // 4)), "accept-many-params"),
    param(lambda: negotiate("text/html;q=1;" + "x;" * (N // 2) + "!"), "accept-many-ext"),
    param(lambda: negotiate('a/b;c="' + '\\"' * (N // 2)), "accept-unclosed-quote"),
    param(lambda: negotiate("a/b" + " ," * N + "!"), "accept-commas"),
    param(lambda: negotiate("text/" + "a" * N + ";"), "accept-long-token"),
    # request_id.py: the incoming id is checked before reuse
    param(wsgi_call(IDS, env(HTTP_X_REQUEST_ID="a" * N + "!")), "request-id"),
    # cors.py: a backtracking allow_origin_regex, header tokens of a preflight
    param(lambda: CORS.origin_allowed("https://" + "-" * N), "cors-origin-regex"),
    param(wsgi_call(CORS, env(REQUEST_METHOD="OPTIONS", HTTP_ORIGIN="https://a-b.example.com",
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                              HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-a," * (N // 4) + "!")),
          "cors-preflight-headers"),
    # basic_auth.py: the header, and the path resolved segment-wise
    param(lambda: parse_basic("Basic " + "QUFB" * (N // 4) + "!"), "basic-header"),
    param(wsgi_call(AUTH, env("/./" * (N // 3) + "admin")), "basic-auth-dot-segments"),
    param(wsgi_call(AUTH, env("/" * N + "admin")), "basic-auth-slashes"),
    # routing: converter regexes on one long segment, many segments
    param(wsgi_call(ROUTED, env("/items/" + "1" * N)), "route-int"),
    param(wsgi_call(ROUTED, env("/f/" + "1" * N + "e")), "route-float"),
    param(wsgi_call(ROUTED, env("/f/1." + "1" * N + "x")), "route-float-fraction"),
    param(wsgi_call(ROUTED, env("/u/" + "a" * N)), "route-uuid"),
    param(wsgi_call(ROUTED, env("/s" * (N // 2))), "route-many-segments"),
    param(wsgi_call(ROUTED, env("/p/" + "a/" * (N // 2))), "route-path"),
    # app.py and body.py: invalid percent escapes in the raw path and the query
    param(wsgi_call(ROUTED, env("/%" * (N // 2), RAW_URI="/%" * (N // 2))), "app-raw-uri"),
    param(lambda: parse_qs_strict("%2" * (N // 2) + "%"), "query-percent"),
    param(lambda: parse_qs_strict("a=%41&" * (N // 6)), "query-pairs"),
]


@pytest.mark.parametrize("call", CASES)
def test_regex_on_request_data_runs_in_linear_time(call):
    assert cpu_seconds(call) < BUDGET


@pytest.mark.parametrize("text, masked", [
    ("page=2&token=abc&x=1", "page=2&token=********&x=1"),
    ("API_KEY=k1&Session_Id=s&csrf", "API_KEY=********&Session_Id=********&csrf"),
    ("a=xtokeny=z", "a=xtokeny=********"),
    ("mytoken=a=b&c", "mytoken=********&c"),
    ("Bearer token=abc def", "Bearer token=******** def"),
    ("key", "key"),
    ("key&=x", "key&=x"),
    ("password=", "password=********"),
    ("\u212aey=v", "\u212aey=********"),  # KELVIN SIGN: the regex's IGNORECASE matches it
    ("", ""),
])
def test_mask_params_output_is_unchanged(text, masked):
    assert mask_params(text) == masked


def test_stack_with_a_64_kb_hostile_query_is_fast():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test_linear_time.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        app = request_id(access_log(errors(ROUTED), logger=logger))
        cost = cpu_seconds(wsgi_call(app, env("/items/7", "key" * (N // 3) + "&token=x")))
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert '?' + "key" * (N // 3) + '&token=******** HTTP/1.0" 200 2 ' in lines[0]
    assert cost < BUDGET
