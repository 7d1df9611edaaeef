"""``session``: a session kept in a signed cookie, read as ``request.session``.

The session is a dict of JSON values, signed with HMAC (WebOb's
:class:`~webob.cookies.SignedSerializer`, SHA-512) and stored in the cookie
itself: nothing is kept on the server, so every worker process reads what
any other one wrote. The signed payload holds the expiry too, so a cookie a
client kept past ``max_age`` is an empty session, whatever its ``Max-Age``
said. A cookie that is tampered with, truncated, signed with another key or
not a session at all is an empty session as well: logged at DEBUG, never an
error.

The cookie is written only when the session changed, and deleted when it was
emptied. A response whose handler read the session gets ``Vary: Cookie`` and,
unless it chose its own, ``Cache-Control: private``; one that sets the cookie
is ``private`` whatever it chose (``public`` becomes ``private``), so no shared
cache hands one client's new session to another. The headers are set when
the app starts its response, so a streamed body stays streamed; a change made
while the body is iterated is not saved.

A session whose cookie would exceed 4,096 bytes (what browsers keep) is a
programming error: :class:`SessionTooLarge` is raised when the response
starts (the ``errors`` middleware logs it and answers 500), never a cookie
the browser would silently drop.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, Literal, cast

from webob import cookies as webob_cookies
from webob.cookies import SignedSerializer, make_cookie

from ..request import SESSION_KEY
from ._wsgi import as_tuple, rewrite_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["MAX_COOKIE_BYTES", "SESSION_KEY", "Session", "SessionCookie", "SessionMiddleware",
           "SessionTooLarge", "session"]

log = logging.getLogger("webkit_app.session")

#: the longest Set-Cookie value browsers are required to keep (RFC 6265 6.1)
MAX_COOKIE_BYTES = 4096
#: two weeks, in seconds
DEFAULT_MAX_AGE = 14 * 24 * 3600
MIN_SECRET_LENGTH = 32
_SALT = "webkit_app.session"
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}
# NOTE: a client may send the cookie more than once (a parent domain's too);
# the first that verifies wins, and at most this many HMACs are computed.
_MAX_CANDIDATES = 3
# RFC 6265: a cookie name is an RFC 9110 token
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+").fullmatch
_NOT_IN_ATTRIBUTE = frozenset("; ,")
_FLASH = "_f_"
_CSRF = "_csrft_"

Loaded = tuple[int, dict[str, Any]]


class SessionTooLarge(RuntimeError):
    """The session does not fit in one cookie: keep less in it (ids, not records)."""


def _check_secret(secret: Any, name: str) -> str:
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"session {name} must be a string of at least {MIN_SECRET_LENGTH} "
                         "characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return secret


def _check_json(value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"session values must be JSON-serialisable: {exc}") from None


def _check_prefix(name: str, secure: bool | None, path: str, domain: str | None) -> None:
    """Refuse a ``__Secure-``/``__Host-`` name whose attributes a browser would
    refuse the cookie for (silently: the session would never come back)."""
    lowered = name.lower()  # NOTE: browsers match the prefixes in any case
    prefix = next((p for p in ("__Secure-", "__Host-") if lowered.startswith(p.lower())), None)
    if prefix is None:
        return
    if secure is not True:
        raise ValueError(f"session cookie_name {name!r}: {prefix} needs secure=True")
    if prefix == "__Host-" and domain is not None:
        raise ValueError(f"session cookie_name {name!r}: __Host- needs no domain")
    if prefix == "__Host-" and path != "/":
        raise ValueError(f"session cookie_name {name!r}: __Host- needs path='/'")


def _private(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with one ``Cache-Control`` a shared cache does not store:
    the app's directives kept, ``public`` made ``private`` (or it added)."""
    out: list[tuple[str, str]] = []
    chosen: list[str] = []
    for name, value in headers:
        if name.lower() == "cache-control":
            chosen.extend(d.strip() for d in value.split(",") if d.strip())
        else:
            out.append((name, value))
    names = {d.partition("=")[0].strip().lower() for d in chosen}
    if not names & {"private", "no-store"}:
        kept = [d for d in chosen if d.lower() != "public"]
        chosen = ["private", *kept] if len(kept) < len(chosen) else [*kept, "private"]
    out.append(("Cache-Control", ", ".join(chosen)))
    return out


class Session(MutableMapping[str, Any]):
    """A dict of JSON values, loaded from the cookie when first used.

    Besides the mapping methods it has Pyramid's ``ISession`` methods:
    ``new``, ``created``, ``invalidate()``, ``changed()``, the flash queue
    (``flash``, ``pop_flash``, ``peek_flash``) and ``get_csrf_token()``::

        request.session["user"] = "alice"
        request.session.flash("Signed in")
    """

    __slots__ = ("_load", "_data", "_created", "_new", "accessed", "modified")

    def __init__(self, load: Callable[[], Loaded | None]) -> None:
        self._load: Callable[[], Loaded | None] | None = load
        self._data: dict[str, Any] = {}
        self._created = 0
        self._new = True
        #: whether the session was read or written (the response varies by cookie)
        self.accessed = False
        #: whether the cookie must be written (or deleted, when empty)
        self.modified = False

    def _loaded(self) -> dict[str, Any]:
        load = self._load
        if load is not None:
            self._load = None
            self.accessed = True
            found = load()
            if found is None:
                self._created = int(time.time())
            else:
                self._created, self._data = found
                self._new = False
        return self._data

    @property
    def new(self) -> bool:
        """True when the request brought no valid session cookie."""
        self._loaded()
        return self._new

    @property
    def created(self) -> int:
        """When the session was first written (seconds since the epoch)."""
        self._loaded()
        return self._created

    def __getitem__(self, key: str) -> Any:
        return self._loaded()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"session keys are strings, not {type(key).__name__}")
        _check_json(value)
        self._loaded()[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self._loaded()[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __contains__(self, key: object) -> bool:
        return key in self._loaded()

    def __repr__(self) -> str:
        return f"<Session {self._loaded()!r}>"

    def clear(self) -> None:
        """Empty the session; its cookie is deleted."""
        data = self._loaded()
        self.modified = self.modified or bool(data) or not self._new
        data.clear()

    def invalidate(self) -> None:
        """Forget everything (as at logout): the cookie is deleted."""
        self.clear()
        self._created = int(time.time())

    def changed(self) -> None:
        """Mark the session as changed: a value was mutated in place."""
        self._loaded()
        self.modified = True

    def flash(self, msg: Any, queue: str = "", allow_duplicate: bool = True) -> None:
        """Add ``msg`` to the flash ``queue``, shown once by :meth:`pop_flash`."""
        messages = list(self.get(_FLASH + queue, ()))
        if allow_duplicate or msg not in messages:
            self[_FLASH + queue] = [*messages, msg]

    def pop_flash(self, queue: str = "") -> list[Any]:
        """Return and remove the messages of the flash ``queue``."""
        return list(self.pop(_FLASH + queue, ()))

    def peek_flash(self, queue: str = "") -> list[Any]:
        """Return the messages of the flash ``queue``, leaving them."""
        return list(self.get(_FLASH + queue, ()))

    def new_csrf_token(self) -> str:
        """Store and return a new random token (Pyramid's CSRF API)."""
        token = secrets.token_hex(20)
        self[_CSRF] = token
        return token

    def get_csrf_token(self) -> str:
        """The session's CSRF token, made when there is none."""
        token = self.get(_CSRF)
        return token if isinstance(token, str) else self.new_csrf_token()


class SessionCookie:
    """The session cookie: its signed format and its attributes, checked once.

    Shared by :class:`SessionMiddleware` and the Pyramid session factory
    (:func:`webkit_app.pyramid.session_factory`), so both read what the
    other wrote. ``secret`` signs; ``fallback_secrets`` are only checked,
    so a key is rotated by moving the old one there (a leaked key is removed,
    not moved: a session forged with it and then changed would be signed
    anew with the current key). A ``__Host-`` or ``__Secure-`` name needs
    ``secure=True`` (and, for ``__Host-``, ``path="/"`` and no ``domain``)::

        cookie = SessionCookie(new_key, fallback_secrets=(old_key,))
    """

    def __init__(
        self,
        secret: str,
        fallback_secrets: Iterable[str] | str = (),
        cookie_name: str = "session",
        max_age: int | str = DEFAULT_MAX_AGE,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: str | None = "Lax",
    ) -> None:
        keys = (_check_secret(secret, "secret"),
                *(_check_secret(s, "fallback_secrets") for s in as_tuple(fallback_secrets)))
        self._signers = tuple(SignedSerializer(key, _SALT) for key in keys)
        self.max_age = int(max_age)
        if self.max_age < 1:
            raise ValueError(f"session max_age must be 1 second or more, not {max_age!r}")
        site = _SAMESITE.get(samesite.lower()) if samesite is not None else None
        if samesite is not None and site is None:
            raise ValueError(f"session samesite is 'Strict', 'Lax', 'None' (the string) or None, "
                             f"not {samesite!r}")
        if site == "None" and secure is not True:
            raise ValueError("session samesite='None' needs secure=True (browsers drop it otherwise)")
        if not isinstance(cookie_name, str) or not _TOKEN(cookie_name):
            raise ValueError(f"session cookie_name must be a token (letters, digits, -_.): "
                             f"{cookie_name!r}")
        for option, text in (("path", path), ("domain", domain or "x")):
            if not text.isascii() or not text.isprintable() or _NOT_IN_ATTRIBUTE & set(text):
                raise ValueError(f"session {option} must be printable ASCII without ';' "
                                 f"or spaces: {text!r}")
        _check_prefix(cookie_name, secure, path, domain)
        self.name, self._name_bytes = cookie_name, cookie_name.encode("latin-1")
        self.path, self.domain, self.httponly = path, domain, httponly
        self.samesite = cast("Literal['Strict', 'Lax', 'None'] | None", site)
        self.secure = secure

    def encode(self, data: dict[str, Any], created: int, now: float) -> str:
        """The cookie value holding ``data``, valid for ``max_age`` from ``now``."""
        payload = {"c": created, "e": int(now) + self.max_age, "d": data}
        return self._signers[0].dumps(payload).decode("ascii")

    def decode(self, value: bytes, now: float) -> Loaded | None:
        """``(created, data)`` from a cookie value, or ``None`` when it does not
        verify with any key, is not a session or has expired."""
        for signer in self._signers:
            try:
                payload = signer.loads(value)
            except (ValueError, RecursionError):  # NOTE: bad base64, signature or JSON
                continue
            if not (isinstance(payload, dict) and isinstance(payload.get("d"), dict)
                    and isinstance(payload.get("e"), int) and isinstance(payload.get("c"), int)):
                log.debug("session cookie: signed, but not a session; ignored")
                return None
            if payload["e"] <= now:
                log.debug("session cookie: expired %d s ago; ignored", now - payload["e"])
                return None
            return payload["c"], payload["d"]
        log.debug("session cookie: no key verifies it (tampered, truncated or foreign); ignored")
        return None

    def read(self, environ: WSGIEnvironment) -> Loaded | None:
        """The session the request's cookie holds, or ``None``."""
        header = environ.get("HTTP_COOKIE")
        if not header:
            return None
        name, candidates = self._name_bytes, 0
        now = time.time()
        for key, value in webob_cookies.parse_cookie(header):  # type: ignore[attr-defined]
            if key == name and value:
                found = self.decode(value, now)
                candidates += 1
                if found is not None or candidates >= _MAX_CANDIDATES:
                    return found
        return None

    def set_cookie(self, session: Session, environ: WSGIEnvironment) -> str:
        """The ``Set-Cookie`` value saving ``session`` (deleting it when empty).

        :raises SessionTooLarge: the cookie would be over 4,096 bytes.
        """
        secure = self.secure if self.secure is not None else \
            environ.get("wsgi.url_scheme") == "https"
        data = dict(session)
        value = self.encode(data, session.created, time.time()) if data else None
        header: str = make_cookie(self.name, value, max_age=self.max_age, path=self.path,
                                  domain=self.domain, secure=secure, httponly=self.httponly,
                                  samesite=self.samesite)
        if len(header) > MAX_COOKIE_BYTES:
            log.error("session cookie of %d bytes (keys %s): browsers drop cookies over %d bytes",
                      len(header), ", ".join(sorted(data))[:200], MAX_COOKIE_BYTES)
            raise SessionTooLarge(f"the session cookie would be {len(header)} bytes, over "
                                  f"{MAX_COOKIE_BYTES}: keep ids in the session, not records")
        return header

    def response_headers(self, session: Session, environ: WSGIEnvironment,
                         headers: Iterable[tuple[str, str]],
                         save: bool = True) -> list[tuple[str, str]]:
        """``headers`` with what ``session`` needs: ``Vary: Cookie`` and
        ``Cache-Control: private`` if it was used, ``Set-Cookie`` if it changed
        (and ``save``: a failed request's changes are not kept)."""
        out = rewrite_headers(headers, vary=("Cookie",))
        if session.modified and save:
            # NOTE: Vary: Cookie alone lets a shared cache give this Set-Cookie
            # (a new session) to the next client sending the same Cookie header.
            out = _private(out)
            out.append(("Set-Cookie", self.set_cookie(session, environ)))
        elif not any(name.lower() == "cache-control" for name, _ in out):
            out.append(("Cache-Control", "private"))
        return out


class SessionMiddleware:
    """Middleware giving handlers ``request.session``, kept in a signed cookie::

        app = session(app, secret=os.environ["SECRET_KEY"], max_age=3600)

        def view(request):
            request.session["user"] = "alice"

    ``secret`` (at least 32 characters) signs; ``fallback_secrets`` are
    accepted when reading, never used to write. ``secure=None`` sets
    ``Secure`` exactly when the request came over https (``wsgi.url_scheme``,
    which the server sets from ``X-Forwarded-Proto`` only for the proxies it
    trusts: waitress ``trusted_proxy``, gunicorn ``forwarded_allow_ips``).
    The other options are the cookie's attributes.
    """

    def __init__(self, app: WSGIApplication, secret: str, **options: Any) -> None:
        self.app = app
        self.cookie = SessionCookie(secret, **options)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        cookie = self.cookie
        sess = environ[SESSION_KEY] = Session(lambda: cookie.read(environ))

        def start(status: str, headers: list[tuple[str, str]],
                  exc_info: Any = None) -> Callable[[bytes], object]:
            if sess.accessed:
                # NOTE: as Django: a 5xx means the handler failed half-way; the
                # session it changed is not saved (Flask saves it).
                headers = cookie.response_headers(sess, environ, headers,
                                                   save=not status.startswith("5"))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


session = SessionMiddleware
