"""Memory bounds of body parsing: a hostile body at the size limit costs a
small multiple of its size, never a Python object per byte.

Each hostile body is 10 MiB (the default limit) and is parsed in a fresh
subprocess, whose peak RSS (``VmHWM``, reset just before the request) is
compared with its RSS before: in this process, earlier tests' garbage would
hide or fake the growth.
"""

import json
import re
import subprocess
import sys

import pytest
import webob
import webtest
from hypothesis import given, settings
from hypothesis import strategies as st
from webob.exc import HTTPBadRequest, HTTPRequestEntityTooLarge

from webkit_app import App, json_response
from webkit_app.body import (
    MAX_FORM_PARTS,
    MAX_JSON_DEPTH,
    MAX_JSON_VALUES,
    parse_json,
    parse_qs_strict,
)
from webkit_app.demo.notes import MAX_BODY, MAX_TEXT, NotesAPI
from webkit_app.demo.store import NotesStore

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024
#: the most a 10 MiB hostile body may add to the process's peak RSS
MAX_GROWTH = 60 * MIB

_SCRIPT = r'''
import gc, io, json, resource, sys
from webkit_app import App, json_response
from webkit_app.body import DEFAULT_MAX_BODY_SIZE as SIZE

def fill(head, unit, tail):
    return head + unit * ((SIZE - len(head) - len(tail)) // len(unit)) + tail

PART = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n\r\n'
BODIES = {
    "json_empty_lists": (b"[", b"[],", b"[]]"),
    "json_duplicate_keys": (b"{", b'"a":1,', b'"a":1}'),
    "json_zeros": (b"[", b"0,", b"0]"),
    "json_deep": (b"", b"[", b""),
    "json_deep_after_string": (b'["', b"x", b'", ' + b"[" * 100 + b"]" * 100 + b"]"),
    "form_ampersands": (b"", b"&", b""),
    "form_empty_fields": (b"", b"a=&", b""),
    "multipart_tiny_parts": (b"", PART, b"--b--\r\n"),
}

def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))

app = App()

@app.route("/json", methods=["POST"])
def json_view(request):
    return json_response({"type": type(request.json).__name__})

@app.route("/form", methods=["POST"])
def form_view(request):
    return json_response({"fields": len(request.POST)})

kind, path, ctype = sys.argv[1:4]
body = fill(*BODIES[kind])
if kind == "json_deep":
    body = b"[" * (SIZE // 2) + b"]" * (SIZE // 2)
environ = {
    "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
    "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.input": io.BytesIO(body),
    "CONTENT_TYPE": ctype, "CONTENT_LENGTH": str(len(body)),
}
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # NOTE: resets VmHWM to the current RSS
before, cpu = status("VmRSS"), resource.getrusage(resource.RUSAGE_SELF).ru_utime
seen = []
out = b"".join(app(environ, lambda s, h, e=None: seen.append(s)))
print(json.dumps({"status": seen[0], "body": out.decode(), "size": len(body),
                  "growth": status("VmHWM") - before,
                  "cpu": resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu}))
'''

JSON, FORM = "application/json", "application/x-www-form-urlencoded"
HOSTILE = [
    pytest.param("json_empty_lists", "/json", JSON, 400,
                 f"more than {MAX_JSON_VALUES} values", id="json_empty_lists"),
    pytest.param("json_duplicate_keys", "/json", JSON, 400,
                 f"more than {MAX_JSON_VALUES} values", id="json_duplicate_keys"),
    pytest.param("json_zeros", "/json", JSON, 400,
                 f"more than {MAX_JSON_VALUES} values", id="json_zeros"),
    pytest.param("json_deep", "/json", JSON, 400,
                 f"nested deeper than {MAX_JSON_DEPTH} levels", id="json_deep"),
    pytest.param("json_deep_after_string", "/json", JSON, 400,
                 f"nested deeper than {MAX_JSON_DEPTH} levels", id="json_deep_after_string"),
    pytest.param("form_ampersands", "/form", FORM, 413,
                 f"More than {MAX_FORM_PARTS} fields in the form body", id="form_ampersands"),
    pytest.param("form_empty_fields", "/form", FORM, 413,
                 f"More than {MAX_FORM_PARTS} fields in the form body", id="form_empty_fields"),
    pytest.param("multipart_tiny_parts", "/form", "multipart/form-data; boundary=b", 413,
                 f"at most {MAX_FORM_PARTS} parts", id="multipart_tiny_parts"),
]


def run_hostile(kind, path, ctype):
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, kind, path, ctype],
                          capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("kind,path,ctype,status,message", HOSTILE)
def test_hostile_10mib_body_is_refused_within_bounded_memory(kind, path, ctype, status, message):
    result = run_hostile(kind, path, ctype)
    assert result["size"] > 10 * MIB - 64
    assert result["status"].startswith(f"{status} "), result
    assert message in json.loads(result["body"])["detail"]
    assert result["growth"] < MAX_GROWTH, f"peak RSS grew by {result['growth'] / MIB:.0f} MiB"
    # NOTE: CPU, not wall time: other tests share the machine. Parsing takes
    # 0.01-0.07 s; a Python loop over each byte of 10 MiB took 0.22 s or more.
    assert result["cpu"] < 0.15, f"parsing took {result['cpu']:.2f} s of CPU"


# -- JSON: the shape scan counts only what is outside strings --------------------


def nested(depth, open_=b"[", close=b"]", inner=b"1"):
    return open_ * depth + inner + close * depth


def objects(depth):
    return b'{"a":' * depth + b"1" + b"}" * depth


def staircase(depth):
    """``[[],[[],[[],...]]]``: never 65 ``[`` in a row, yet ``depth`` deep."""
    return b"[[]," * (depth - 1) + b"[]" + b"]" * (depth - 1)


JSON_SHAPES = [
    pytest.param(nested(MAX_JSON_DEPTH), None, id="depth_at_limit"),
    pytest.param(nested(MAX_JSON_DEPTH + 1), "nested deeper than 64 levels", id="depth_over"),
    pytest.param(objects(MAX_JSON_DEPTH), None, id="objects_at_limit"),
    pytest.param(objects(MAX_JSON_DEPTH + 1), "nested deeper than 64 levels", id="objects_over"),
    pytest.param(staircase(MAX_JSON_DEPTH), None, id="staircase_at_limit"),
    pytest.param(staircase(MAX_JSON_DEPTH + 1), "nested deeper than 64 levels",
                 id="staircase_over"),
    pytest.param(b"[" * 1000, "nested deeper than 64 levels", id="never_closed"),
    pytest.param(b"[[]" + b"]" * 100, "Malformed JSON", id="more_closing"),
    pytest.param(b'["' + b"[{," * 200_000 + b'"]', None, id="brackets_and_commas_in_a_string"),
    pytest.param(b'["\\"' + b"[" * 100 + b'"]', None, id="escaped_quote_then_brackets"),
    pytest.param(b'["\\\\", ' + nested(MAX_JSON_DEPTH + 1) + b"]", "nested deeper than 64",
                 id="escaped_backslash_ends_the_string"),
    pytest.param(b'["\\\\\\"' + b"[" * 100 + b'"]', None, id="backslash_then_escaped_quote"),
    pytest.param(b"[" + b"0," * (MAX_JSON_VALUES - 2) + b"0]", None, id="values_at_limit"),
    pytest.param(b"[" + b"0," * (MAX_JSON_VALUES - 1) + b"0]",
                 f"more than {MAX_JSON_VALUES} values", id="values_over"),
    pytest.param(b'["' + b'\\"' * 300_000 + b'"]', None, id="escaped_quotes_are_not_strings"),
    pytest.param(b'[' + b'"",' * (2 * MAX_JSON_VALUES) + b'""]',
                 f"more than {MAX_JSON_VALUES} values", id="many_strings"),
    pytest.param(b"[NaN]", "NaN", id="nan_still_refused"),
    pytest.param(b"[1e999]", "out of range", id="huge_float_still_refused"),
    pytest.param(b"9" * 4301, "number too long", id="long_int_still_refused"),
]


@pytest.mark.parametrize("data,error", JSON_SHAPES)
def test_json_shape_limits(data, error):
    if error is None:
        parse_json(data)
    else:
        with pytest.raises(HTTPBadRequest, match=re.escape(error)):
            parse_json(data)


def tokens_and_depth(value):
    """The commas and opening brackets of ``value``'s JSON, and its depth."""
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        inner = [tokens_and_depth(v) for v in items]
        return (1 + max(len(inner) - 1, 0) + sum(t for t, _ in inner),
                1 + max((d for _, d in inner), default=0))
    return 0, 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{},"\\:ab\u00e9\U0001f600'),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=4),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, ascii_only=st.booleans(), compact=st.booleans())
def test_json_scan_agrees_with_the_decoded_document(value, ascii_only, compact):
    data = json.dumps(value, ensure_ascii=ascii_only,
                      separators=(",", ":") if compact else None).encode()
    tokens, depth = tokens_and_depth(value)
    values = tokens + 1  # NOTE: what the scan counts as values
    assert parse_json(data, max_depth=depth, max_values=values) == value
    if values > 1:
        with pytest.raises(HTTPBadRequest, match=f"more than {values - 1} values"):
            parse_json(data, max_depth=depth, max_values=values - 1)
    if depth > 0:
        with pytest.raises(HTTPBadRequest, match=f"nested deeper than {depth - 1} levels"):
            parse_json(data, max_depth=depth - 1, max_values=values)


# -- forms and query strings: fields counted before anything is split ------------


@pytest.mark.parametrize("text,fields", [
    pytest.param("a=1&" * (MAX_FORM_PARTS - 1) + "a=1", MAX_FORM_PARTS, id="at_limit"),
    pytest.param("&" * (MAX_FORM_PARTS - 1), 0, id="empty_fields_at_limit"),
    pytest.param("a=1;b=2", 2, id="semicolons"),
])
def test_form_fields_within_the_limit(text, fields):
    assert len(parse_qs_strict(text)) == fields


@pytest.mark.parametrize("text", [
    pytest.param("a=1&" * MAX_FORM_PARTS + "a=1", id="fields"),
    pytest.param("&" * MAX_FORM_PARTS, id="empty_fields"),
    pytest.param(";" * MAX_FORM_PARTS, id="semicolons"),
    pytest.param("%zz&" * MAX_FORM_PARTS, id="counted_before_escapes_are_checked"),
])
def test_form_fields_over_the_limit(text):
    with pytest.raises(HTTPRequestEntityTooLarge, match=f"More than {MAX_FORM_PARTS} fields"):
        parse_qs_strict(text, "form body")


def test_query_string_fields_over_the_limit_is_413_naming_it():
    app = App()

    @app.route("/q")
    def query(request):
        return json_response({"n": len(request.GET)})

    t = webtest.TestApp(app, lint=True)
    assert t.get("/q?" + "a&" * (MAX_FORM_PARTS - 1) + "a").json == {"n": MAX_FORM_PARTS}
    res = t.get("/q?" + "&" * MAX_FORM_PARTS, status=413)
    assert res.json["detail"] == f"More than {MAX_FORM_PARTS} fields in the query string"


# -- a body limit per route ------------------------------------------------------


def limited_app():
    app = App(max_body_size=100)

    def size(request):
        return json_response({"size": len(request.body)})

    app.add_route("POST", "/small", size, max_body_size=10)
    app.add_route("POST", "/large", size, max_body_size=1000)
    app.route("/decorated", methods=["POST"], max_body_size=5)(size)
    app.add_route("POST", "/default", size)
    return webtest.TestApp(app, lint=True)


@pytest.mark.parametrize("path,limit", [
    pytest.param("/small", 10, id="smaller_than_the_app"),
    pytest.param("/large", 1000, id="larger_than_the_app"),
    pytest.param("/decorated", 5, id="decorator"),
    pytest.param("/default", 100, id="the_apps_own"),
])
def test_route_body_limit_with_content_length(path, limit):
    t = limited_app()
    assert t.post(path, b"x" * limit).json == {"size": limit}
    res = t.post(path, b"x" * (limit + 1), status=413)
    assert res.json["detail"] == f"Request body of {limit + 1} bytes exceeds {limit}"


def test_route_body_limit_while_reading_a_chunked_body():
    t = limited_app()
    env = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    req = webob.Request.blank("/small", method="POST", environ=env, body=b"x" * 11)
    del req.environ["CONTENT_LENGTH"]
    res = t.do_request(req, status=413)
    assert res.json["detail"] == "Request body exceeds 10 bytes"


@pytest.mark.parametrize("bad", [-1, "10", 1.5, True])
def test_route_body_limit_must_be_a_number_of_bytes(bad):
    with pytest.raises(ValueError, match=re.escape(f"max_body_size must be a number of bytes, not {bad!r}")):
        App().add_route("POST", "/x", lambda request: None, max_body_size=bad)


def test_notes_create_route_takes_kilobytes_not_the_apps_limit(tmp_path):
    app = App()
    NotesAPI(NotesStore(str(tmp_path / "notes.db"))).register(app)
    t = webtest.TestApp(app, lint=True)
    # NOTE: the longest text, escaped as json.dumps does by default: it fits.
    longest = json.dumps({"text": "\U0001f600" * MAX_TEXT}).encode()
    assert len(longest) > 64 * 1024
    t.post("/api/notes", longest, content_type="application/json", status=201)
    hostile = b"[" + b"[]," * 100_000 + b"[]]"
    res = t.post("/api/notes", hostile, content_type="application/json", status=413)
    assert res.json["detail"] == f"Request body of {len(hostile)} bytes exceeds {MAX_BODY}"


def test_notes_create_route_keeps_a_smaller_app_limit(tmp_path):
    app = App(max_body_size=100)
    NotesAPI(NotesStore(str(tmp_path / "notes.db"))).register(app)
    t = webtest.TestApp(app, lint=True)
    res = t.post_json("/api/notes", {"text": "x" * 100}, status=413)
    assert res.json["detail"] == "Request body of 112 bytes exceeds 100"
    t.post_json("/api/notes", {"text": "x" * 80}, status=201)
