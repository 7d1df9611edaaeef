"""Request and Response keep WebOb's contract outside the App (Request.blank,
Request(environ), code written for WebOb), and the contract runner's list logic.

WebOb's own tests run against the subclasses through ``make webob-contract``
(``tests/webob_contract/run.py``); these are the fixes it found, one test each.
"""

import importlib.util
import io
from pathlib import Path

import pytest
import webob
import webob.request
import webob.response
from webob.exc import HTTPBadRequest
from webob.multidict import GetDict, NoVars

from webkit_app import Request, Response
from webkit_app.body import UploadedFile

RUN_PY = Path(__file__).parent / "webob_contract" / "run.py"


def form_request(body=b"a=1&b=2", method="POST"):
    return Request.blank("/", method=method, body=body,
                         content_type="application/x-www-form-urlencoded")


# -- requests built outside the App ------------------------------------------------


def test_blank_request_reads_body_and_form():
    req = form_request()
    assert req.body == b"a=1&b=2"
    assert dict(req.POST) == {"a": "1", "b": "2"}


def test_blank_request_with_post_dict_builds_a_multipart_form_of_uploaded_files():
    req = Request.blank("/", POST={"name": "x", "file": ("a.txt", b"hello")})
    assert req.POST["name"] == "x"
    upload = req.POST["file"]
    assert isinstance(upload, UploadedFile)
    assert (upload.filename, upload.value) == ("a.txt", b"hello")


def test_int_content_length_is_taken_as_webob_does():
    environ = {"wsgi.input": io.BytesIO(b"input"), "CONTENT_LENGTH": 5, "REQUEST_METHOD": "POST"}
    req = Request(environ)
    assert req.body == b"input"
    assert req.content_length == 5


def test_environ_without_wsgi_input_has_an_empty_body():
    req = Request({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded"})
    assert req.body == b""
    assert dict(req.POST) == {}


def test_multipart_without_wsgi_input_is_400_not_key_error():
    req = Request({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "multipart/form-data"})
    with pytest.raises(HTTPBadRequest, match="without a valid boundary"):
        _ = req.POST


# -- body, text, json: setters and deleters ----------------------------------------


def test_body_can_be_set_and_the_new_body_is_read():
    req = form_request()
    assert req.POST["a"] == "1"
    req.body = b"a=9"
    assert req.body == b"a=9"
    assert req.content_length == 3
    assert req.POST["a"] == "9"


def test_body_can_be_deleted():
    req = form_request()
    del req.body
    assert req.body == b""
    assert req.content_length == 0


def test_body_setter_refuses_str_with_type_error():
    with pytest.raises(TypeError, match="only set Request.body to bytes"):
        form_request().body = "text"


def test_replacing_wsgi_input_is_read_again():
    req = form_request()
    assert req.body == b"a=1&b=2"
    req.environ["wsgi.input"] = io.BytesIO(b"c=3")
    req.environ["CONTENT_LENGTH"] = "3"
    assert req.body == b"c=3"


def test_json_can_be_set_and_deleted():
    req = Request.blank("/", method="POST", content_type="application/json")
    req.json = {"b": 2}
    assert req.body == b'{"b":2}'
    assert req.json == {"b": 2}
    del req.json
    assert req.body == b""


# -- GET and POST as WebOb gives them ------------------------------------------------


def test_changing_get_rewrites_the_query_string():
    req = Request.blank("/?a=1")
    assert isinstance(req.GET, GetDict)
    req.GET["b"] = "2"
    assert req.query_string == "a=1&b=2"
    del req.GET["a"]
    assert req.query_string == "b=2"
    assert req.GET is req.GET


@pytest.mark.parametrize("method, content_type", [
    pytest.param("GET", None, id="get-no-type"),
    pytest.param("PUT", None, id="put-no-type"),
    pytest.param("POST", "text/plain", id="post-text"),
    pytest.param("POST", "application/json", id="post-json"),
])
def test_post_of_a_request_that_is_no_form_is_novars(method, content_type):
    req = Request.blank("/", method=method, body=b"x=1", content_type=content_type)
    form = req.POST
    assert isinstance(form, NoVars)
    assert form.reason.startswith("Not an HTML form submission")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_forms_are_parsed_for_every_method_as_in_webob(method):
    assert form_request(method=method).POST["a"] == "1"


def test_post_without_content_type_is_parsed_as_urlencoded_as_in_webob():
    req = Request.blank("/", method="POST", body=b"a=1")
    assert "CONTENT_TYPE" not in req.environ
    assert req.POST["a"] == "1"


def test_a_wrapped_plain_webob_request_sees_the_parsed_form():
    req = Request.blank("/", POST={"file": ("a.txt", b"hello")})
    upload = req.POST["file"]
    assert webob.Request(req.environ).POST["file"] is upload


def test_a_query_plain_webob_parsed_leniently_is_parsed_again_strictly():
    environ = webob.Request.blank("/?a=%zz").environ
    assert webob.Request(environ).GET["a"] == "%zz"
    with pytest.raises(HTTPBadRequest, match="percent-encoding"):
        _ = Request(environ).GET


def test_a_form_plain_webob_parsed_is_parsed_again_strictly():
    environ = form_request(body=b"a=%zz").environ
    environ["webob._parsed_post_vars"] = ({"a": "%zz"}, environ["wsgi.input"])
    with pytest.raises(HTTPBadRequest, match="percent-encoding"):
        _ = Request(environ).POST


# -- responses ------------------------------------------------------------------------


def test_get_response_builds_the_toolkit_response():
    res = Request.blank("/").get_response(webob.Response("hi"))
    assert type(res) is Response
    assert res.body == b"hi"


def test_from_file_reads_a_bytes_status_line():
    # NOTE: without "HTTP/1.1" in front, WebOb hands the status on as bytes.
    res = Response.from_file(io.BytesIO(b"201 Created\r\nX-A: b\r\n\r\nbody"))
    assert res.status == "201 Created"
    assert res.headers["X-A"] == "b"


def test_bytes_status_is_taken_as_in_webob():
    res = Response()
    res.status = b"202 Accepted"
    assert res.status == "202 Accepted"


@pytest.mark.parametrize("status", [(200,), 2.0, None])
def test_status_of_the_wrong_type_is_type_error_as_in_webob(status):
    with pytest.raises(TypeError, match="status must be an int or str"):
        Response().status = status


def test_rebinding_webob_names_to_the_subclasses_does_not_recurse(monkeypatch):
    for module in (webob, webob.request):
        monkeypatch.setattr(module, "Request", Request)
    for module in (webob, webob.response):
        monkeypatch.setattr(module, "Response", Response)
    res = Response()
    res.status = "201 Created"
    req = Request.blank("/")
    req.body = b"x"
    assert (res.status, req.body) == ("201 Created", b"x")


# -- the contract runner's list ----------------------------------------------------


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("webob_contract_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_deliberate_list_is_well_formed_and_gives_every_reason(run):
    listed = run.load_deliberate(run.DELIBERATE)
    assert len(listed) >= 1
    assert all(test_id.startswith(run.MODULES) and reason for test_id, reason in listed.items())


@pytest.mark.parametrize("text, message", [
    pytest.param("tests/test_request.py::t\n", "expected 'test id # reason'", id="no-reason"),
    pytest.param("tests/test_request.py::t # \n", "expected 'test id # reason'", id="empty-reason"),
    pytest.param("a # x\na # y\n", "listed twice", id="twice"),
])
def test_a_malformed_deliberate_list_is_refused(run, tmp_path, text, message):
    path = tmp_path / "deliberate.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        run.load_deliberate(path)


def test_compare_reports_unlisted_failures_stale_and_unknown_entries(run):
    listed = {"f_listed": "why", "p_listed": "why", "gone": "why"}
    problems = run.compare({"f_listed", "f_new"}, {"p_listed", "p"}, listed)
    assert problems == [
        "FAILS, not listed as deliberate: f_new",
        "PASSES, but listed as deliberate (stale): p_listed",
        "LISTED, but no such test ran: gone",
    ]
    assert run.compare({"f_listed"}, {"p"}, {"f_listed": "why"}) == []
