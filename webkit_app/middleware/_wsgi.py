"""WSGI plumbing shared by the middleware modules (private).

Option coercion for ini strings, the WSGI form of configured paths, header
edits that never duplicate a header, a log-safe request target, and the
``app_iter`` proxy every iterating middleware builds on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from webob.dec import wsgify as _webob_wsgify
from webob.exc import HTTPException
from webob.request import BaseRequest

from ..paths import normalized_path
from ..response import CloseForwarder, merge_vary
from ..settings import MASK, as_boolean, as_items

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "wsgify",
    "MASK",
    "SECRET_WORDS",
    "IterProxy",
    "as_bool",
    "as_tuple",
    "mask_params",
    "merge_vary",
    "normalized_path",
    "request_target",
    "rewrite_headers",
    "runs_no_code",
    "wsgi_str",
]

# NOTE: the path is already percent-decoded by the server; re-encoding it gives
# an ASCII-only, log-injection-proof target ("/%FF", "/admin%0A").
_PATH_SAFE = "/:@!$&'()*+,;="
_QUERY_SAFE = "/?:@!$&'()*+,;=%"
# What ``quote(path, safe=_PATH_SAFE)`` leaves as it is: such a path needs no quoting.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/:@!$&'()*+,;=-]*")
SECRET_WORDS = r"auth|cookie|secret|passw|token|key|session|credential|signature|csrf"
# NOTE: masking runs on request data, so it must be linear: a regex searched at
# every position for "word...=" costs O(n^2) on "keykeykey..." (6 s for 64 KB).
# Instead the text is cut into runs between ``&`` and whitespace, each run
# scanned once for a secret word before its last ``=``.
_SECRET_WORD = re.compile(SECRET_WORDS, re.IGNORECASE).search
_PARAM_SEPARATORS = re.compile(r"([&\s]+)")


def as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """:func:`~webkit_app.settings.as_items` for a middleware option, which may
    also be ``None`` (nothing) or any iterable of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return as_items(value)
    return tuple(value)


def as_bool(value: Any) -> bool:
    """:func:`~webkit_app.settings.as_boolean` for a middleware option: an empty
    ini value (``debug =``) is false, and a non-string is taken by its truth."""
    if isinstance(value, str):
        return as_boolean(value) if value.strip() else False
    return bool(value)


def wsgi_str(text: str) -> str:
    """Return ``text`` in the form WSGI uses for ``PATH_INFO``: UTF-8 bytes as latin-1."""
    return text.encode("utf-8").decode("latin-1")


def rewrite_headers(
    headers: Iterable[tuple[str, str]],
    drop: frozenset[str] = frozenset(),
    vary: tuple[str, ...] = (),
    add: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """Return ``headers`` minus the (lower-case) names in ``drop``, plus ``add``.

    With ``vary``, every ``Vary`` header is merged into one that includes it.
    A header set by ``add`` should be in ``drop``, so it is never duplicated.
    """
    out: list[tuple[str, str]] = []
    varies: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if vary and lower == "vary":
            varies.append(value)
        elif lower not in drop:
            out.append((name, value))
    if vary:
        out.append(("Vary", merge_vary(varies, *vary)))
    out.extend(add)
    return out


def mask_params(text: str) -> str:
    """Mask the values of ``name=value`` pairs whose name looks secret (``token=``).

    Pairs are separated by ``&`` or whitespace; the value is everything after
    the first ``=`` that follows the secret word. Linear in ``len(text)``.
    """
    # PERF: one C-level scan; most query strings hold no secret word at all.
    if _SECRET_WORD(text) is None:
        return text
    return "".join(_mask_run(run) for run in _PARAM_SEPARATORS.split(text))


def _mask_run(run: str) -> str:
    """``run`` (no ``&``, no whitespace) with the value after a secret name masked."""
    last = run.rfind("=")
    # NOTE: the word must end before the last "=" (words hold no "="), and
    # the leftmost such word decides where the name ends, as in "a=xtoken=v".
    found = _SECRET_WORD(run, 0, last) if last > 0 else None
    if found is None:
        return run
    return run[:run.index("=", found.end()) + 1] + MASK


def request_target(environ: WSGIEnvironment, query: bool = True) -> str:
    """The request path (and query) as printable ASCII, from the raw environ.

    Never decodes as UTF-8, so a path like ``/%ff`` cannot raise here; query
    values named like secrets (``password=``, ``token=``) are masked.
    """
    path: str = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    # PERF: a plain path (almost every one) is already its own quoted form.
    if _PLAIN_PATH.fullmatch(path):
        target = path
    else:
        target = quote(path.encode("latin-1", "backslashreplace"), safe=_PATH_SAFE)
    qs: str = (environ.get("QUERY_STRING") or "") if query else ""
    if qs:
        qs = quote(qs.encode("latin-1", "backslashreplace"), safe=_QUERY_SAFE)
        target += "?" + mask_params(qs)
    return target


# NOTE: types-WebOb's wsgify is generic (handler parameters, request class);
# WebOb's is not, so the parameters exist for the type checker only.
if TYPE_CHECKING:
    _WebObWsgify = _webob_wsgify[[], BaseRequest]
else:
    _WebObWsgify = _webob_wsgify


class wsgify(_WebObWsgify):
    """``webob.dec.wsgify`` for middleware classes: the same decorator, a lean call.

    A decorated ``__call__(self, req)`` that returns a WSGI app (or raises a
    ``webob.exc`` error) is called with a bare ``BaseRequest``; every other use
    falls back to WebOb's own behaviour::

        class Middleware:
            @wsgify
            def __call__(self, req):
                return self.app
    """

    # PERF: WebOb builds a Request *and* a Response per call and clones the
    # decorator on every attribute access of a decorated method; middleware
    # that returns a WSGI app needs neither.
    RequestClass = BaseRequest
    if TYPE_CHECKING:
        # NOTE: types-WebOb's func may also be an unbound method; here a
        # method is bound by __get__ (the clone WebOb's __get__ returns).
        func: Callable[[BaseRequest], Any] | None

    def __get__(self, obj: Any, type: Any = None) -> Any:
        # NOTE: WebOb's __get__ returns a wsgify without a function as it is.
        if obj is None or self.func is None:
            return self
        key = "_wsgify_" + self.func.__name__
        bound = obj.__dict__.get(key)
        if bound is None:
            bound = obj.__dict__[key] = super().__get__(obj, type)
        return bound

    def __call__(self, req: Any, *args: Any, **kw: Any) -> Any:
        if type(req) is not dict or len(args) != 1 or kw or self.args or self.kwargs \
                or self.middleware_wraps is not None or self.func is None:
            return super().__call__(req, *args, **kw)
        environ, start_response = req, args[0]
        try:
            resp = self.func(self.RequestClass(environ))
        except HTTPException as exc:
            resp = exc
        if not callable(resp):
            raise TypeError(f"{self.func!r} must return a WSGI application, not {resp!r}")
        return resp(environ, start_response)


def runs_no_code(app_iter: Iterable[bytes]) -> bool:
    """True for a body whose iteration runs no application code, which a
    proxy need not wrap: a list or tuple (a Response's body), or a proxy whose
    class sets ``runs_own_code_only`` (its own code needs no request context
    and raises no application error) around such a body."""
    cls = app_iter.__class__
    if cls is list or cls is tuple:
        return True
    # NOTE: access_log's proxy: the record it writes carries the request id itself.
    return getattr(cls, "runs_own_code_only", False) and runs_no_code(
        app_iter._iterable)  # type: ignore[attr-defined]


class IterProxy(CloseForwarder):
    """An ``app_iter`` proxy that forwards ``close()`` to the wrapped iterable once.

    Subclasses override :meth:`__next__` to observe chunks; nothing is ever
    buffered, so a streamed body stays streamed. ``iter()`` runs here, so an
    iterable that fails to start is closed before the error propagates.
    """

    __slots__ = ("_it",)

    def __init__(self, iterable: Iterable[bytes]) -> None:
        super().__init__(iterable)
        try:
            self._it: Iterator[bytes] = iter(iterable)
        except BaseException:
            self._close_iterable()
            raise

    def __next__(self) -> bytes:
        return next(self._it)
