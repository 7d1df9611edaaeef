"""The demo's HTML pages through its production stack: sign in with the form,
add a note (with its flash), sign out; cross-site posts refused; output escaped."""

import re

import pytest
import webtest

from webkit_app.demo import Config, create_app, make_store
from webkit_app.middleware import hash_password

HOST = "notes.example"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": f"http://{HOST}"}


@pytest.fixture
def config(settings, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + hash_password("wonder<land>", "pbkdf2:sha256:1000") + "\n")
    return Config.from_settings({**settings, "webkit_app.htpasswd": str(htpasswd)})


@pytest.fixture
def browser(config):
    return webtest.TestApp(create_app(config), lint=True, extra_environ={"HTTP_HOST": HOST})


def sign_in(t, user="alice", password="wonder<land>"):
    form = t.get("/login").forms[0]
    form["user"], form["password"] = user, password
    return form.submit(headers=SAME_ORIGIN, status=303)


def flashes(res):
    return re.findall(r'<p class="flash" role="status">(.*?)</p>', res.text)


def test_sign_in_add_a_note_see_the_flash_and_sign_out(browser, config):
    res = sign_in(browser)
    assert res.headers["Location"] == "/notes"
    page = res.follow()
    assert flashes(page) == ["Signed in as alice."]
    assert "Signed in as <strong>alice</strong>" in page.text
    form = page.forms[1]
    form["text"] = "<b>bold</b> & plain"
    added = form.submit(headers=SAME_ORIGIN, status=303).follow()
    assert flashes(added) == ["Note added."]
    assert "<li>&lt;b&gt;bold&lt;/b&gt; &amp; plain <small>" in added.text
    assert flashes(browser.get("/notes")) == [], "a flash is shown once"
    assert [n["text"] for n in make_store(config).list(10, 0)[0]] == ["<b>bold</b> & plain"]

    out = browser.get("/notes").forms[0].submit(headers=SAME_ORIGIN, status=303)
    assert out.headers["Set-Cookie"].startswith("session=; Max-Age=0; ")
    assert "Sign in</a> to add notes" in browser.get("/notes").text


def test_a_wrong_password_or_unknown_user_goes_back_to_the_form(browser):
    for user, password in (("alice", "wrong"), ("mallory", "wonder<land>"), ("", "")):
        res = sign_in(browser, user, password)
        assert res.headers["Location"] == "/login"
        assert flashes(res.follow()) == ["Wrong user name or password."]
    assert "Sign in</a> to add notes" in browser.get("/notes").text


def test_adding_a_note_needs_a_signed_in_session(browser, config):
    res = browser.post("/notes", {"text": "anonymous"}, headers=SAME_ORIGIN, status=403)
    assert res.json["detail"] == "Sign in to add notes"
    assert make_store(config).list(10, 0) == ([], 0)


def test_an_empty_note_is_not_added_and_says_why(browser, config):
    sign_in(browser)
    res = browser.post("/notes", {"text": "   "}, headers=SAME_ORIGIN, status=303).follow()
    assert flashes(res)[-1] == "Not added: the note must not be empty."
    assert make_store(config).list(10, 0) == ([], 0)


@pytest.mark.parametrize("headers", [
    pytest.param({"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
                 id="cross_site"),
    pytest.param({"Origin": "http://evil.example"}, id="old_browser_other_origin"),
    pytest.param({"Origin": "null"}, id="null_origin"),
])
def test_a_cross_site_form_post_is_403_and_adds_nothing(browser, config, headers):
    sign_in(browser)
    res = browser.post("/notes", {"text": "forged"}, headers={**headers, "Accept": "text/html"},
                       status=403)
    assert "Cross-origin request refused" in res.text
    assert make_store(config).list(10, 0) == ([], 0)


def test_a_cross_site_login_post_is_refused_too(browser):
    form = browser.get("/login").forms[0]
    form["user"], form["password"] = "alice", "wonder<land>"
    form.submit(headers={"Sec-Fetch-Site": "cross-site"}, status=403)
    assert "Set-Cookie" not in browser.get("/notes").headers


def test_the_pages_vary_by_cookie_and_are_not_stored(browser):
    res = browser.get("/notes")
    assert res.headers["Vary"] == "Cookie"
    assert res.headers["Cache-Control"] == "private, no-store"


def test_a_user_name_is_escaped_in_the_pages(settings, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("<i>x</i>:" + hash_password("pw", "pbkdf2:sha256:1000") + "\n")
    config = Config.from_settings({**settings, "webkit_app.htpasswd": str(htpasswd)})
    t = webtest.TestApp(create_app(config), extra_environ={"HTTP_HOST": HOST})
    page = sign_in(t, "<i>x</i>", "pw").follow()
    assert "Signed in as <strong>&lt;i&gt;x&lt;/i&gt;</strong>" in page.text
    assert "<i>x</i>" not in page.text


def test_a_tampered_session_cookie_is_signed_out_not_an_error(browser):
    sign_in(browser)
    value = browser.cookies["session"]
    browser.set_cookie("session", value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB"))
    page = browser.get("/notes")
    assert "Sign in</a> to add notes" in page.text
    browser.post("/notes", {"text": "x"}, headers=SAME_ORIGIN, status=403)
