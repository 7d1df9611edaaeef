"""cross_origin: Go 1.25's CrossOriginProtection, row by row; refusals are 403s that say why."""

import pytest
import webtest

from webkit_app.middleware import cross_origin

HOST = "app.example.com"
TRUSTED = "https://partner.example.org"


def ok_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"changed"]


def make(**kw):
    return webtest.TestApp(cross_origin(ok_app, **kw), lint=True)


def send(t, method, headers, path="/notes", **kw):
    return t.request(path, method=method, headers={"Host": HOST, **headers}, **kw)


# (method, Sec-Fetch-Site, Origin, expected status): Go's net/http/csrf_test.go cases, and ours
TABLE = [
    pytest.param("GET", "cross-site", "https://evil.example", 200, id="get_cross_site"),
    pytest.param("HEAD", "cross-site", "https://evil.example", 200, id="head_cross_site"),
    pytest.param("OPTIONS", "cross-site", "https://evil.example", 200, id="options_cross_site"),
    pytest.param("POST", "same-origin", None, 200, id="same_origin"),
    pytest.param("POST", "none", None, 200, id="none_user_typed"),
    pytest.param("POST", "cross-site", None, 403, id="cross_site"),
    pytest.param("POST", "same-site", None, 403, id="same_site_subdomain"),
    pytest.param("POST", "cross-site", "https://evil.example", 403, id="cross_site_with_origin"),
    pytest.param("POST", "unknown-value", None, 403, id="unknown_value"),
    pytest.param("POST", "same-origin, cross-site", None, 403, id="sent_twice"),
    pytest.param("POST", "cross-site", TRUSTED, 200, id="cross_site_trusted"),
    pytest.param("POST", "same-site", TRUSTED, 200, id="same_site_trusted"),
    pytest.param("POST", None, None, 200, id="no_headers_non_browser"),
    pytest.param("POST", None, f"https://{HOST}", 200, id="origin_matches_host"),
    pytest.param("POST", None, f"http://{HOST}", 200, id="origin_matches_host_other_scheme"),
    pytest.param("POST", None, f"https://{HOST.upper()}", 200, id="origin_host_case"),
    pytest.param("POST", None, f"https://{HOST}:8443", 403, id="origin_other_port"),
    pytest.param("POST", None, "https://evil.example", 403, id="origin_mismatch"),
    pytest.param("POST", None, f"https://{HOST}.evil.example", 403, id="origin_suffix"),
    pytest.param("POST", None, f"https://evil@{HOST}", 403, id="origin_userinfo"),
    pytest.param("POST", None, f"https://{HOST}/path", 403, id="origin_with_path"),
    pytest.param("POST", None, HOST, 403, id="origin_without_scheme"),
    pytest.param("POST", None, "null", 403, id="origin_null"),
    pytest.param("POST", None, TRUSTED, 200, id="origin_trusted"),
    pytest.param("POST", None, TRUSTED + "/", 403, id="trusted_with_slash"),
    pytest.param("PUT", "cross-site", None, 403, id="put"),
    pytest.param("DELETE", None, "https://evil.example", 403, id="delete"),
    pytest.param("PATCH", "same-origin", None, 200, id="patch_same_origin"),
]


@pytest.mark.parametrize(("method", "site", "origin", "status"), TABLE)
def test_cross_origin_table(method, site, origin, status):
    headers = {k: v for k, v in (("Sec-Fetch-Site", site), ("Origin", origin)) if v}
    res = send(make(trusted_origins=(TRUSTED,)), method, headers, status=status,
               **({"body": b"x", "content_type": "text/plain"} if method != "HEAD" else {}))
    if status == 403:
        assert res.json["detail"].startswith("Cross-origin request refused: ")


def test_the_403_says_why_in_the_format_the_client_accepts():
    t = make()
    page = send(t, "POST", {"Sec-Fetch-Site": "cross-site", "Accept": "text/html"}, status=403)
    assert page.content_type == "text/html"
    assert "Sec-Fetch-Site is &#x27;cross-site&#x27;" in page.text
    text = send(t, "POST", {"Origin": "null", "Accept": "text/plain"}, status=403)
    assert "the Origin 'null' does not match the Host" in text.text
    assert send(t, "POST", {"Origin": "null"}, status=403).json["status"] == 403


def test_the_host_without_a_host_header_is_the_server_name_and_port():
    t = make()
    for port, origin, status in (("80", "http://app.local", 200), ("8080", "http://app.local", 403),
                                 ("8080", "http://app.local:8080", 200)):
        env = {"SERVER_NAME": "app.local", "SERVER_PORT": port, "HTTP_HOST": ""}
        t.post("/", headers={"Origin": origin}, extra_environ=env, status=status)


@pytest.mark.parametrize(("path", "status"), [
    pytest.param("/hooks/payments", 200, id="exact"),
    pytest.param("/hooks/payments/x", 403, id="below_exact"),
    pytest.param("/in/stripe", 200, id="subtree"),
    pytest.param("/in/", 200, id="subtree_root"),
    pytest.param("/in", 403, id="subtree_parent"),
    pytest.param("/in//stripe", 403, id="empty_segment"),
    pytest.param("/in/../notes", 403, id="dot_dot"),
    pytest.param("/in/./x", 403, id="dot"),
    pytest.param("/notes", 403, id="other"),
    pytest.param("/Hooks/payments", 403, id="case"),
    pytest.param("/h\u00fcks/x", 200, id="non_ascii"),
])
def test_bypass_paths_skip_the_check_as_the_router_matches_them(path, status):
    t = make(bypass=("/hooks/payments", "/in/", "/h\u00fcks/x"))
    wsgi_path = path.encode().decode("latin-1")
    t.post("/", headers={"Sec-Fetch-Site": "cross-site", "Host": HOST}, status=status,
           extra_environ={"PATH_INFO": wsgi_path})


def test_a_path_that_is_not_utf8_is_400_when_a_bypass_must_be_checked():
    t = make(bypass=("/hooks/",))
    res = t.post("/", headers={"Sec-Fetch-Site": "cross-site"},
                 extra_environ={"PATH_INFO": "/hooks/\xff"}, status=400)
    assert "not valid UTF-8" in res.json["detail"]


@pytest.mark.parametrize(("kw", "message"), [
    pytest.param({"trusted_origins": ("*",)}, "not '\\*' or 'null'", id="star"),
    pytest.param({"trusted_origins": ("null",)}, "not '\\*' or 'null'", id="null"),
    pytest.param({"trusted_origins": ("https://a.com/",)}, "exact origins", id="slash"),
    pytest.param({"trusted_origins": ("a.com",)}, "exact origins", id="no_scheme"),
    pytest.param({"bypass": ("hooks",)}, "start with '/'", id="relative_bypass"),
])
def test_bad_options_fail_at_construction(kw, message):
    with pytest.raises(ValueError, match=message):
        cross_origin(ok_app, **kw)


def test_options_may_be_ini_strings():
    t = make(trusted_origins="https://a.com https://b.com", bypass="/x, /y/")
    assert send(t, "POST", {"Origin": "https://b.com"}).text == "changed"
    assert send(t, "POST", {"Sec-Fetch-Site": "cross-site"}, path="/y/z").text == "changed"
