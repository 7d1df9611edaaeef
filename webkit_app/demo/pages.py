"""HTML pages that work without JavaScript: sign in, sign out, read and add notes.

=============  ======  ==========================================================
``/login``     GET     the sign-in form (the htpasswd users), and any flash message
``/login``     POST    ``user`` and ``password``: 303 to ``/notes``, or back here
``/logout``    POST    forget the session: 303 to ``/login``
``/notes``     GET     the notes, and a form to add one when signed in
``/notes``     POST    ``text``: add a note (signed in only, else 403), 303 back
=============  ======  ==========================================================

Who is signed in lives in the signed-cookie session
(:func:`webkit_app.middleware.session`); passwords are checked as Basic auth
checks them (:meth:`webkit_app.middleware.BasicAuth.verify`: constant time,
unknown users included, bounded concurrency). The forms carry no CSRF token:
:func:`webkit_app.middleware.cross_origin` refuses a POST another site's page
makes the browser send. Every value written into a page is escaped::

    NotePages(store, users).register(app)
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from webob.exc import HTTPForbidden

from webkit_app import App, Request, Response, html_response, redirect
from webkit_app.middleware import basic_auth

from .notes import MAX_LIMIT, MAX_TEXT, Invalid, note_text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["NotePages", "USER_KEY"]

#: the session key holding the signed-in user's name
USER_KEY = "user"
_NO_STORE = {"Cache-Control": "private, no-store"}
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
{flash}{body}
</body></html>
"""
_LOGIN = """<form method="post" action="{login}">
<p><label>User <input name="user" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password"
 required></label></p>
<p><button type="submit">Sign in</button></p>
</form>
<p><a href="{notes}">Notes</a></p>"""
_SIGNED_IN = """<form method="post" action="{logout}"><p>Signed in as <strong>{user}</strong>.
<button type="submit">Sign out</button></p></form>"""
_ADD = """<form method="post" action="{notes}">
<p><label>Note <textarea name="text" required maxlength="{max_text}"></textarea></label></p>
<p><button type="submit">Add note</button></p>
</form>"""


def _no_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    raise AssertionError("the password checker is never called as an app")  # pragma: no cover


def _page(request: Request, title: str, body: str) -> Response:
    flash = "".join(f'<p class="flash" role="status">{html.escape(str(m))}</p>\n'
                    for m in request.session.pop_flash())
    return html_response(_PAGE.format(title=html.escape(title), flash=flash, body=body),
                         headers=_NO_STORE)


class NotePages:
    """The sign-in and notes pages over a notes ``store`` and htpasswd ``users``."""

    def __init__(self, store: Any, users: Mapping[str, str]) -> None:
        self.store = store
        # NOTE: the Basic-auth middleware's checker, not its WSGI side.
        self._checker = basic_auth(_no_app, users=users, protect=())

    def register(self, app: App) -> None:
        """Add ``/login``, ``/logout`` and ``/notes`` to ``app``."""
        app.add_route("GET", "/login", self.login_form, name="login")
        app.add_route("POST", "/login", self.login)
        app.add_route("POST", "/logout", self.logout, name="logout")
        app.add_route("GET", "/notes", self.notes, name="notes_page")
        app.add_route("POST", "/notes", self.add_note)

    def login_form(self, request: Request) -> Response:
        """The sign-in form."""
        user = request.session.get(USER_KEY)
        body = _LOGIN.format(login=html.escape(request.url_for("login")),
                             notes=html.escape(request.url_for("notes_page")))
        if user:
            body = self._signed_in(request, user) + "\n" + body
        return _page(request, "Sign in", body)

    def login(self, request: Request) -> Response:
        """Check ``user`` and ``password``; on success the session names the user."""
        user = request.POST.get("user", "")
        password = request.POST.get("password", "")
        if not (isinstance(user, str) and isinstance(password, str)) or not user \
                or not self._checker.verify(user, password):
            request.session.flash("Wrong user name or password.")
            return redirect(request.url_for("login"))
        # NOTE: a fresh session at sign-in: nothing from before carries over.
        request.session.invalidate()
        request.session[USER_KEY] = user
        request.session.flash(f"Signed in as {user}.")
        return redirect(request.url_for("notes_page"))

    def logout(self, request: Request) -> Response:
        """Forget the session (its cookie is deleted)."""
        request.session.invalidate()
        return redirect(request.url_for("login"))

    def notes(self, request: Request) -> Response:
        """The notes, oldest first, and the form to add one."""
        notes, total = self.store.list(MAX_LIMIT, 0)
        items = "".join(f"<li>{html.escape(n['text'])} <small>{html.escape(n['created'])}"
                        "</small></li>\n" for n in notes)
        user = request.session.get(USER_KEY)
        if user:
            top = self._signed_in(request, user) + "\n" + _ADD.format(
                notes=html.escape(request.url_for("notes_page")), max_text=MAX_TEXT)
        else:
            top = f'<p><a href="{html.escape(request.url_for("login"))}">Sign in</a> to add notes.</p>'
        shown = f"<p>{len(notes)} of {total} notes.</p>\n" if total > len(notes) else ""
        return _page(request, "Notes", f'{top}\n{shown}<ul id="notes">\n{items}</ul>')

    def add_note(self, request: Request) -> Response:
        """Add the note in the form's ``text``: 303 back to the notes, with a flash."""
        if not request.session.get(USER_KEY):
            raise HTTPForbidden("Sign in to add notes")
        try:
            text = note_text({"text": request.POST.get("text")})
        except Invalid as exc:
            request.session.flash(f"Not added: the note {exc.message}.")
        else:
            self.store.create(text)
            request.session.flash("Note added.")
        return redirect(request.url_for("notes_page"))

    def _signed_in(self, request: Request, user: str) -> str:
        return _SIGNED_IN.format(logout=html.escape(request.url_for("logout")),
                                 user=html.escape(user))
