"""``/download/{name:path}``: FileApp's HTTP features, and no way out of the folder."""

import io
import os

import pytest
import webtest

from webkit_app.demo import Config, make_demo
from webkit_app.demo.factory import create_app
from webkit_app.demo.files import resolve

HELLO = b"Hello, downloads!\n"


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "files"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_bytes(HELLO)
    (root / "sub" / "data.bin").write_bytes(bytes(range(256)))
    (root / "sub" / "caf\u00e9 &<x>.txt").write_bytes(b"accents")
    (root / "archive.tar.gz").write_bytes(b"\x1f\x8b not really")
    (root / "page.html").write_bytes(b"<script>alert(1)</script>")
    (root / ".env").write_bytes(b"SECRET_KEY=x")
    (tmp_path / "secret.txt").write_bytes(b"outside")
    os.symlink(tmp_path / "secret.txt", root / "out-link")
    os.symlink(tmp_path, root / "out-dir")
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink(root / "hello.txt", root / "in-link")
    return root


@pytest.fixture
def testapp(settings, files):
    return webtest.TestApp(create_app(Config.from_settings(settings)), lint=True)


def test_serves_a_file_with_validators(testapp):
    res = testapp.get("/download/hello.txt")
    assert res.body == HELLO
    assert res.content_type == "text/plain"
    assert res.headers["Content-Length"] == str(len(HELLO))
    assert res.headers["Accept-Ranges"] == "bytes"
    assert res.headers["ETag"] and res.headers["Last-Modified"]
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Content-Disposition"] == "attachment; filename*=UTF-8''hello.txt"


def test_nested_and_unicode_names(testapp):
    assert testapp.get("/download/sub/data.bin").body == bytes(range(256))
    res = testapp.get("/download/sub/caf%C3%A9%20%26%3Cx%3E.txt")
    assert res.body == b"accents"
    assert res.headers["Content-Disposition"].endswith("caf%C3%A9%20%26%3Cx%3E.txt")


@pytest.mark.parametrize("name, content_type", [
    ("sub/data.bin", "application/octet-stream"),
    ("archive.tar.gz", "application/octet-stream"),  # no Content-Encoding: the bytes as stored
    ("page.html", "text/html"),
])
def test_content_types(testapp, name, content_type):
    res = testapp.get(f"/download/{name}")
    assert res.content_type == content_type and "Content-Encoding" not in res.headers


def test_symlink_inside_the_folder_is_served(testapp):
    assert testapp.get("/download/in-link").body == HELLO


@pytest.mark.parametrize("range_, status, body, content_range", [
    ("bytes=0-4", 206, HELLO[:5], f"bytes 0-4/{len(HELLO)}"),
    ("bytes=7-", 206, HELLO[7:], f"bytes 7-{len(HELLO) - 1}/{len(HELLO)}"),
    ("bytes=-3", 206, HELLO[-3:], f"bytes {len(HELLO) - 3}-{len(HELLO) - 1}/{len(HELLO)}"),
])
def test_range_requests(testapp, range_, status, body, content_range):
    res = testapp.get("/download/hello.txt", headers={"Range": range_}, status=status)
    assert res.body == body and res.headers["Content-Range"] == content_range


def test_unsatisfiable_range_is_416(testapp):
    testapp.get("/download/hello.txt", headers={"Range": "bytes=100-200"}, status=416)


def test_if_none_match_gives_304(testapp):
    etag = testapp.get("/download/hello.txt").headers["ETag"]
    res = testapp.get("/download/hello.txt", headers={"If-None-Match": etag}, status=304)
    assert res.body == b""
    testapp.get("/download/hello.txt", headers={"If-None-Match": '"other"'}, status=200)


def test_if_modified_since_gives_304(testapp):
    modified = testapp.get("/download/hello.txt").headers["Last-Modified"]
    testapp.get("/download/hello.txt", headers={"If-Modified-Since": modified}, status=304)


def test_etag_changes_when_the_file_changes(testapp, files):
    before = testapp.get("/download/hello.txt").headers["ETag"]
    (files / "hello.txt").write_bytes(b"changed, and longer than before\n")
    after = testapp.get("/download/hello.txt", headers={"If-None-Match": before})
    assert after.status_int == 200 and after.headers["ETag"] != before


def test_head_has_headers_and_no_body(testapp):
    res = testapp.head("/download/hello.txt")
    assert res.body == b"" and res.headers["Content-Length"] == str(len(HELLO))


def test_post_is_405(testapp):
    testapp.post("/download/hello.txt", status=405)


@pytest.mark.parametrize("path", [
    "/download/../secret.txt",
    "/download/%2e%2e/secret.txt",
    "/download/%2E%2E/secret.txt",
    "/download/sub/../../secret.txt",
    "/download/sub/%2e%2e/%2e%2e/secret.txt",
    "/download/..%2fsecret.txt",
    "/download/..%5csecret.txt",
    "/download/.",
    "/download/./hello.txt",
    "/download//etc/passwd",
    "/download/%2fetc%2fpasswd",
    "/download/out-link",            # symlink to a file outside
    "/download/out-dir/secret.txt",  # symlink to a folder outside
    "/download/passwd",              # symlink to /etc/passwd
    "/download/.env",                # dot-files are never served
    "/download/sub",                 # a folder
    "/download/sub/",
    "/download/missing.txt",
    "/download/hello.txt%00.png",
    "/download/hello.txt/",
])
def test_no_way_out_of_the_folder(testapp, path):
    res = testapp.get(path, status=404)
    assert b"outside" not in res.body and b"root:" not in res.body
    assert str(os.sep + "tmp") not in res.text  # the real path is never shown


@pytest.mark.parametrize("name", [
    "../x", "a/../../x", "/etc/passwd", "", "a//b", "a\x00b", ".", "sub/.hidden", "a\\..\\b",
])
def test_resolve_refuses(tmp_path, name):
    assert resolve(str(tmp_path), name) is None


def test_resolve_accepts_plain_names(tmp_path):
    root = os.path.realpath(tmp_path)
    assert resolve(root, "a/b.txt") == os.path.join(root, "a", "b.txt")


def test_missing_folder_is_404_not_500(settings, tmp_path):
    settings["webkit_app.files_dir"] = str(tmp_path / "files")
    (tmp_path / "files").mkdir()
    app = webtest.TestApp(create_app(Config.from_settings(settings)))
    (tmp_path / "files").rmdir()
    app.get("/download/hello.txt", status=404)


class FileWrapper:
    """A ``wsgi.file_wrapper`` that records it was used."""

    def __init__(self, filelike, block_size=8192):
        self.filelike, self.block_size = filelike, block_size

    def __iter__(self):
        return iter(lambda: self.filelike.read(self.block_size), b"")

    def close(self):
        self.filelike.close()


def test_uses_the_servers_file_wrapper(settings, files):
    app = make_demo(Config.from_settings(settings))
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/download/hello.txt", "SERVER_NAME": "x",
        "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.file_wrapper": FileWrapper,
    }
    body = app(environ, lambda status, headers, exc_info=None: None)
    try:
        assert isinstance(body, FileWrapper)  # passed to the server untouched
        assert b"".join(body) == HELLO
    finally:
        body.close()
    assert body.filelike.closed
