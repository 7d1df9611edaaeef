"""``basic_auth``: HTTP Basic authentication (RFC 7617) against password hashes.

Users come from a mapping of user name to password hash, from an htpasswd
file, or both. Hashes are self-describing strings:

* ``scrypt:N:r:p$salt$hex`` and ``pbkdf2:sha256:iterations$salt$hex``, made by
  :func:`hash_password` (the same format as Werkzeug's
  ``generate_password_hash``, so its hashes work too);
* bcrypt ``$2a$``/``$2b$``/``$2y$`` (``htpasswd -B``), checked by ``bcrypt``;
* ``{SHA}`` (``htpasswd -s``): unsalted SHA-1, accepted for old files only.

Every check costs the same whether the user exists or not: one hash check
per cost class in the table (scheme and work factor), the user's own hash in
its class and a real hash from the table for the others. A table mixing a slow
scheme with a cheap one therefore makes each check cost both (successes are
remembered); migrate old ``{SHA}`` and low-cost entries rather than mix them.

A missing, malformed or wrong ``Authorization`` header answers 401 with a
``WWW-Authenticate`` challenge, never 500. On success ``REMOTE_USER`` and
``AUTH_TYPE`` are set, and the response gets ``Vary: Authorization`` and,
unless the app chose its own, ``Cache-Control: private`` (Flask
CVE-2023-30861: a shared cache must not serve one user's page to another).

Hash checks are bounded: at most ``max_concurrent_checks`` run at once (one
per CPU, at most 4, by default), on that many threads of the middleware's own
(so their memory is held by those threads, not by every server thread); a request that finds no free slot within
``check_timeout`` seconds answers 503 with ``Retry-After``, so a flood of
failed logins costs bounded CPU and memory instead of queueing without end.
A path that is not UTF-8 or does not start with ``/`` answers 400, as the
dispatcher does, so it can never slip past ``protect``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from webob.exc import HTTPBadRequest, HTTPServiceUnavailable, HTTPUnauthorized

from .._extras import require
from ..httperror import render_http_error
from ._wsgi import as_tuple, normalized_path, rewrite_headers, wsgi_str, wsgify

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from webob import Request

__all__ = ["BasicAuth", "basic_auth", "check_password", "hash_password", "load_htpasswd"]

Checker = Callable[[bytes], bool]
# A user's slot among the checks, and the checks: one per cost class in the table.
_Slots = tuple[int, tuple[Checker, ...]]
_DEFAULT_SCRYPT = (2**15, 8, 1)
_DEFAULT_PBKDF2 = ("sha256", 600_000)
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_CACHE_SIZE = 1024
# NOTE: a check costs up to ~0.1 s of CPU and 32 MiB (scrypt): more at once
# than there are CPUs only adds memory, so at most this many run together, on
# as many threads of their own: the C library keeps a freed hash's memory in
# the arena of the thread that ran it, so hashing on every server thread would
# hold 32 MiB per server thread even if they never ran at the same time.
_DEFAULT_CONCURRENT_CHECKS = min(4, os.cpu_count() or 1)


def _scrypt(password: bytes, salt: str, n: int, r: int, p: int) -> bytes:
    # NOTE: OpenSSL's default memory cap (32 MiB) is too small for n=2**15, r=8.
    return hashlib.scrypt(password, salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p)


#: scrypt's (n, r, p) or pbkdf2's (hash name, iterations), as ``kind`` says
_HashParams = tuple[Any, ...]


def _params(method: str) -> tuple[str, _HashParams]:
    """Parse ``scrypt[:N:r:p]`` or ``pbkdf2[:hash:iterations]``, with sane bounds."""
    kind, *args = method.split(":")
    if kind == "scrypt":
        n, r, p = map(int, args) if args else _DEFAULT_SCRYPT
        if n < 2 or n & (n - 1) or n > 2**20 or not 0 < r <= 32 or not 0 < p <= 16:
            raise ValueError(f"unsafe scrypt parameters: {method!r}")
        return kind, (n, r, p)
    if kind == "pbkdf2":
        name, iterations = (args[0], int(args[1])) if args else _DEFAULT_PBKDF2
        if name not in hashlib.algorithms_guaranteed or not 0 < iterations <= 10_000_000:
            raise ValueError(f"unsupported pbkdf2 parameters: {method!r}")
        return kind, (name, iterations)
    raise ValueError(f"unknown password hash method: {method!r}")


def _digest(kind: str, params: _HashParams, password: bytes, salt: str) -> bytes:
    if kind == "scrypt":
        return _scrypt(password, salt, *params)
    name, iterations = params
    return hashlib.pbkdf2_hmac(name, password, salt.encode(), iterations)


def hash_password(password: str, method: str = "scrypt") -> str:
    """Hash ``password`` for a ``users`` mapping or an htpasswd line.

    ``method`` is ``scrypt`` (default), ``pbkdf2`` or either with parameters
    (``scrypt:16384:8:1``, ``pbkdf2:sha256:600000``)::

        users = {"alice": hash_password("correct horse battery staple")}
    """
    kind, params = _params(method)
    salt = secrets.token_urlsafe(12)
    digest = _digest(kind, params, password.encode("utf-8"), salt).hex()
    return f"{kind}:{':'.join(map(str, params))}${salt}${digest}"


def _bcrypt_checker(stored: str) -> Checker:
    encoded = stored.encode("ascii")
    bcrypt = require("bcrypt", "bcrypt", "a bcrypt password hash ($2b$)")
    bcrypt.checkpw(b"", encoded)  # fails now, at start-up, on a malformed hash

    def check(password: bytes) -> bool:
        # NOTE: bcrypt uses 72 bytes; Apache truncates and bcrypt>=5 raises.
        matched: bool = bcrypt.checkpw(password[:72], encoded)
        return matched

    return check


def _sha_checker(stored: str) -> Checker:
    expected = base64.b64decode(stored[5:], validate=True)
    if len(expected) != 20:
        raise ValueError("malformed {SHA} hash")
    return lambda password: hmac.compare_digest(hashlib.sha1(password).digest(), expected)


def make_checker(stored: str) -> Checker:
    """Compile a stored hash into a function ``check(password_bytes) -> bool``."""
    if stored.startswith(_BCRYPT_PREFIXES):
        return _bcrypt_checker(stored)
    if stored.startswith("{SHA}"):
        return _sha_checker(stored)
    method, salt, hexdigest = stored.split("$") if stored.count("$") == 2 else ("", "", "")
    if not method:
        raise ValueError("not a recognised password hash; make one with hash_password()")
    kind, params = _params(method)
    expected = bytes.fromhex(hexdigest)
    return lambda password: hmac.compare_digest(_digest(kind, params, password, salt), expected)


def check_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches the ``stored`` hash (constant-time)::

        assert check_password("s3cret", hash_password("s3cret"))
    """
    return make_checker(stored)(password.encode("utf-8"))


def load_htpasswd(path: str) -> dict[str, str]:
    """Read ``user:hash`` lines from an htpasswd file (blank and ``#`` lines skipped)::

        users = load_htpasswd("/etc/webkit_app/htpasswd")  # {"admin": "$2y$05$..."}
    """
    users: dict[str, str] = {}
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, stored = line.partition(":")
            if not sep or not user:
                raise ValueError(f"{path}:{number}: expected user:hash")
            users[user] = stored
    return users


def _cost_class(stored: str) -> str:
    """What checking ``stored`` costs: its scheme and work factor, not its salt."""
    if stored.startswith(_BCRYPT_PREFIXES):
        return "bcrypt:" + stored[4:6]  # $2y$05$... : the cost is the same for $2a$/$2b$/$2y$
    if stored.startswith("{SHA}"):
        return "{SHA}"
    kind, params = _params(stored.partition("$")[0])
    return f"{kind}:{params}"


def _compile_users(entries: Mapping[str, str]) -> tuple[dict[str, _Slots], tuple[Checker, ...]]:
    """Compile a user table into each user's checks and the checks for unknown users.

    There is one check per cost class of hash in the table (scheme and work
    factor). A user's tuple holds their own hash in their class's slot and, in
    every other slot, a decoy: the first real hash of that class in the table.
    Unknown users get the decoys alone, so every request runs the same checks.
    """
    slots: dict[str, int] = {}
    decoys: list[Checker] = []
    own: dict[str, tuple[int, Checker]] = {}
    for user, stored in entries.items():
        check = make_checker(stored)
        slot = slots.setdefault(_cost_class(stored), len(slots))
        if slot == len(decoys):
            decoys.append(check)
        own[user] = (slot, check)
    users = {
        user: (slot, (*decoys[:slot], check, *decoys[slot + 1:]))
        for user, (slot, check) in own.items()
    }
    return users, tuple(decoys)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return ``(user, password)`` from a Basic ``Authorization`` value, or ``None``.

    Malformed base64, missing colon and non-UTF-8 credentials give ``None``.
    """
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip().encode("ascii"), validate=True)
        user, sep, password = raw.decode("utf-8").partition(":")
    except (binascii.Error, ValueError):  # UnicodeError is a ValueError
        return None
    return (user, password) if sep else None


def _challenge(realm: str) -> str:
    if re.search(r"[\x00-\x1f\x7f]", realm) or not realm.isascii():
        raise ValueError(f"realm must be printable ASCII: {realm!r}")
    quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
    return f'Basic realm="{quoted}", charset="UTF-8"'


def _run_checks(checks: tuple[Checker, ...], secret: bytes) -> list[bool]:
    return [check(secret) for check in checks]


def _prefixes(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(wsgi_str(p.rstrip("/")) for p in as_tuple(paths))


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``path`` is one of ``prefixes`` or below one (segment-wise)."""
    for prefix in prefixes:
        if not prefix or path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def _normalize(path: str) -> str:
    """Resolve ``//``, ``.`` and ``..`` segments, as a lenient router might."""
    if "//" not in path and "/." not in path:  # PERF: the common case
        return path
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    return "/" + "/".join(segments)


class BasicAuth:
    """Middleware requiring HTTP Basic credentials under ``protect`` but not ``exempt``::

        app = basic_auth(app, users={"admin": hash_password("s3cret")},
                         protect=("/admin",), exempt=("/admin/health",))

    ``users`` maps user names to hashes; ``htpasswd`` is a file path; paths are
    prefixes matched segment-wise (``/admin`` covers ``/admin/x``, not ``/administrator``).
    ``max_concurrent_checks`` hash checks run at once at most; a request waits
    ``check_timeout`` seconds for a slot, then gets a 503.
    """

    def __init__(
        self,
        app: WSGIApplication,
        users: Mapping[str, str] | None = None,
        htpasswd: str | None = None,
        realm: str = "Restricted",
        protect: Iterable[str] | str = ("/",),
        exempt: Iterable[str] | str = (),
        max_concurrent_checks: int | str = _DEFAULT_CONCURRENT_CHECKS,
        check_timeout: float | str = 1.0,
    ) -> None:
        entries = dict(load_htpasswd(htpasswd)) if htpasswd else {}
        entries.update(users or {})
        if not entries:
            raise ValueError("basic_auth needs users or an htpasswd file")
        if any(":" in user for user in entries):
            raise ValueError("a Basic auth user name cannot contain ':'")
        self.app = app
        self.realm = realm
        # Setup time: hashes compiled, paths converted, the challenge quoted.
        self._users, decoys = _compile_users(entries)
        self._unknown: tuple[int | None, tuple[Checker, ...]] = (None, decoys)
        self._challenge = _challenge(realm)
        self._protect, self._exempt = _prefixes(protect), _prefixes(exempt)
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, bytes], bool] = {}
        if int(max_concurrent_checks) < 1 or float(check_timeout) < 0:
            raise ValueError("max_concurrent_checks must be >= 1 and check_timeout >= 0")
        self._max_checks = int(max_concurrent_checks)
        self._check_timeout = float(check_timeout)
        self._fresh_hasher()

    def needs_auth(self, path: str) -> bool:
        """Whether the WSGI ``path`` is protected; ambiguous paths count as protected."""
        norm = _normalize(path)
        if not (_under(path, self._protect) or _under(norm, self._protect)):
            return False
        return not (_under(path, self._exempt) and _under(norm, self._exempt))

    def verify(self, user: str, password: str) -> bool:
        """Check both the user and the password, in time independent of which is wrong.

        :raises HTTPServiceUnavailable: no hash-check slot freed within ``check_timeout``.
        """
        secret = password.encode("utf-8")
        # PERF: a slow hash per request would cap an authenticated client at a
        # few requests a second; successes are remembered under a keyed HMAC.
        key = (user, hmac.digest(self._cache_key, secret, "sha256"))
        if key in self._verified:
            return True
        slot, checks = self._users.get(user, self._unknown)
        # NOTE: every request runs one check per cost class in the table, known
        # user or not (a real hash stands in for the classes not the user's), so
        # the time says neither whether the user exists nor which scheme they use.
        results = self._run(checks, secret)
        ok = slot is not None and results[slot]
        if ok:
            if len(self._verified) >= _CACHE_SIZE:
                self._verified.clear()
            self._verified[key] = True
        return ok

    def _fresh_hasher(self) -> None:
        # NOTE: the executor starts its threads on first use.
        self._slots = threading.BoundedSemaphore(self._max_checks)
        self._hasher = ThreadPoolExecutor(self._max_checks, "webkit_app.basic_auth")
        self._pid = os.getpid()

    def _run(self, checks: tuple[Checker, ...], secret: bytes) -> list[bool]:
        """Run ``checks`` on a hashing thread, waiting ``check_timeout`` for a free one."""
        # NOTE: a fork (gunicorn --preload) copies the executor, not its threads.
        if self._pid != os.getpid():
            self._fresh_hasher()
        slots = self._slots
        if not slots.acquire(timeout=self._check_timeout):
            raise HTTPServiceUnavailable("Too many logins are being checked; try again shortly",
                                         headers=[("Retry-After", "1")])
        try:
            return self._hasher.submit(_run_checks, checks, secret).result()
        finally:
            slots.release()

    @wsgify
    def __call__(self, req: Request) -> WSGIApplication:
        environ = req.environ
        try:
            # NOTE: validated as the dispatcher does; for such a path the raw
            # (latin-1) PATH_INFO and the decoded one are under the same prefixes.
            normalized_path(environ)
            if not self.needs_auth(environ.get("PATH_INFO", "")):
                return self.app
            credentials = parse_basic(environ.get("HTTP_AUTHORIZATION"))
            if credentials is None or not self.verify(*credentials):
                raise HTTPUnauthorized(headers=[("WWW-Authenticate", self._challenge)])
        except (HTTPBadRequest, HTTPUnauthorized, HTTPServiceUnavailable) as exc:
            return render_http_error(exc, environ)
        environ["REMOTE_USER"] = credentials[0]
        environ["AUTH_TYPE"] = "Basic"
        return partial(_private, self.app)


def _private(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Call ``app``, marking its response as varying by user and not shareable."""

    def start(status: str, headers: list[tuple[str, str]],
              exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
        out = rewrite_headers(headers, vary=("Authorization",))
        if not any(name.lower() == "cache-control" for name, _ in out):
            out.append(("Cache-Control", "private"))
        return start_response(status, out, exc_info)

    return app(environ, start)


basic_auth = BasicAuth
