"""Responses: a header-checking ``webob.Response`` and helpers that build one.

::

    return json_response({"id": 7}, status=201, headers={"Location": "/notes/7"})
    return redirect("/login")                     # 303, same-site paths only
    return stream(rows(), content_type="text/csv", on_close=conn.close)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import webob
from webob.datetime_utils import parse_date

from .paths import relative_location

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_orjson_dumps: Callable[[Any], bytes] | None
try:  # PERF: orjson, when installed, encodes several times faster
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_dumps = None

__all__ = [
    "Response",
    "json_response",
    "text_response",
    "html_response",
    "redirect",
    "stream",
    "ClosingIterator",
    "UnsafeRedirect",
    "check_header",
    "check_sendable",
    "dumps",
    "merge_vary",
    "parse_http_date",
    "drop_unusable_preconditions",
]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_BAD_VALUE = re.compile(r"[\r\n\x00]|[^\x00-\xff]").search
#: a status line a server can send: a code in 100-599, a space, then a reason of
#: tabs, spaces and visible latin-1 text (RFC 9110 reason-phrase)
_STATUS_LINE = re.compile(r"[1-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*").fullmatch


def check_header(name: str, value: str) -> None:
    """Raise ``ValueError`` for a header that would break or split the response."""
    if not isinstance(name, str) or not _TOKEN(name):
        raise ValueError(f"invalid header name {name!r}")
    if not isinstance(value, str):
        raise ValueError(f"header {name} value must be str, not {type(value).__name__}")
    if _BAD_VALUE(value):
        raise ValueError(f"header {name} value {value!r} contains CR, LF, NUL or non-latin-1 text")


def merge_vary(values: Iterable[str], *names: str) -> str:
    """Merge ``Vary`` header values and ``names`` into one value: first spelling
    of each field kept, in order, duplicates (any case) dropped, ``*`` alone::

        merge_vary(["Accept, origin"], "Origin", "Cookie")  # 'Accept, origin, Cookie'
    """
    # PERF: one value without a comma (an error page's "Accept") is its own merge.
    if not names and type(values) is tuple and len(values) == 1 and "," not in values[0]:
        return values[0].strip()
    tokens: list[str] = []
    seen: set[str] = set()
    for value in (*values, *names):
        for token in value.split(","):
            token = token.strip()
            if token and token.lower() not in seen:
                seen.add(token.lower())
                tokens.append(token)
    return "*" if "*" in seen else ", ".join(tokens)


def check_sendable(status: Any, headers: Iterable[tuple[str, str]], source: str) -> None:
    """Raise ``ValueError`` naming ``source`` unless the status line and every
    header can go to the server as they are.

    For responses whose setters check nothing (``webob.Response``, ``webob.exc``)::

        check_sendable(resp.status, resp.headerlist, "handler app.views.show")
    """
    # NOTE: webob.Response takes "999 X" and "302 Found\r\nX: y" as statuses.
    if not isinstance(status, str) or not _STATUS_LINE(status):
        raise ValueError(f"{source}: status {status!r} is not a code in 100-599 and a reason")
    try:
        for name, value in headers:
            check_header(name, value)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


class _HeaderList(list[tuple[str, str]]):
    """The response's header list, refusing unsafe items as they are added."""

    __slots__ = ()

    def append(self, item: tuple[str, str]) -> None:
        check_header(*item)
        list.append(self, item)

    def insert(self, index: Any, item: tuple[str, str]) -> None:
        check_header(*item)
        list.insert(self, index, item)

    def extend(self, items: Iterable[tuple[str, str]]) -> None:
        items = list(items)
        for item in items:
            check_header(*item)
        list.extend(self, items)

    # NOTE: typeshed's list.__iadd__ itself needs this ignore (mypy wants it to match __add__).
    def __iadd__(self, items: Iterable[tuple[str, str]]) -> Self:  # type: ignore[override,misc]
        self.extend(items)
        return self

    def __setitem__(self, index: Any, item: Any) -> None:
        for pair in item if isinstance(index, slice) else (item,):
            check_header(*pair)
        list.__setitem__(self, index, item)


def parse_http_date(value: str | None) -> datetime | None:
    """WebOb's ``parse_date``, but ``None`` for a date it cannot hold, as for
    any invalid one: ``Fri, 31 Dec 9999 23:59:60 GMT`` raises in WebOb."""
    try:
        return parse_date(value)
    except (ValueError, OverflowError, OSError):
        return None


def drop_unusable_preconditions(environ: dict[str, Any]) -> None:
    """Remove the conditional headers WebOb would raise on (a 500).

    RFC 9110 (13.1.3, 13.1.4) says to ignore an ``If-Modified-Since`` or
    ``If-Unmodified-Since`` that is no valid date, and (13.1.5) to ignore the
    ``Range`` when ``If-Range`` is neither a valid date nor an ETag.
    """
    for key in ("HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE"):
        if key in environ and parse_http_date(environ[key]) is None:
            del environ[key]
    value = environ.get("HTTP_IF_RANGE")
    # NOTE: WebOb reads a value ending in " GMT" as a date; one it cannot
    # parse becomes IfRangeDate(None), whose comparison raises TypeError.
    if value and value.endswith(" GMT") and parse_http_date(value) is None:
        del environ["HTTP_IF_RANGE"]
        environ.pop("HTTP_RANGE", None)


# NOTE: bound at import: code that rebinds ``webob.Response`` to this class
# (tests, plugins) must not make the setters below call themselves.
_WebObResponse = webob.Response
# NOTE: WebOb's private attributes, written only by the property setters below
# and by _set_parts (the one writer of a Response's parts);
# tests/test_response.py (test_webob_private_attributes_*) fails loudly if a
# WebOb release changes them.
_HL = "_hl"
_STATUS = "_status"
#: "no charset argument" (WebOb's own marker is private)
_UNSET: Any = object()


class Response(_WebObResponse):
    """A ``webob.Response`` that refuses CR, LF, NUL and non-latin-1 headers
    and status codes outside 100-599 when they are set."""

    # NOTE: WebOb takes ``charset=None`` (no charset parameter), which
    # types-WebOb's ``charset: str`` leaves out.
    def __init__(self, body: bytes | str | None = None,
                 status: int | str | bytes | None = None,
                 headerlist: list[tuple[str, str]] | None = None,
                 app_iter: Iterable[bytes] | None = None,
                 content_type: str | None = None,
                 conditional_response: bool | None = None,
                 charset: str | None = _UNSET, *, json_body: Any = _UNSET, **kw: Any) -> None:
        # PERF: WebOb's constructor (about 4 us, plus the checking setters)
        # was most of a handler's cost. The common forms (a complete body or
        # json_body, status, content_type, charset, headers) are built here
        # as WebOb builds them, every header checked; tests/test_response_init.py
        # compares each with WebOb's own. Any other form goes to WebOb.
        fast = headerlist is None and app_iter is None and conditional_response is None \
            and self.__class__ is Response
        if json_body is not _UNSET:
            # PERF: Response(json_body=data) alone, the common JSON form, in one
            # step (json_body a named parameter: no keyword dict to read).
            if fast and body is None and status is None and content_type is None \
                    and charset is _UNSET and not kw:
                out = _webob_json(json_body)
                _set_parts(self, "200 OK", _HeaderList((
                    ("Content-Type", "application/json"), ("Content-Length", str(len(out))))), [out])
                return
            kw["json_body"] = json_body
        elif fast and status is None and not kw and _fast_body(self, body, content_type, charset):
            return  # PERF: Response(body, content_type=, charset=), the common form
        if fast:
            parts = _fast_parts(body, status, content_type, charset, kw)
            if parts is not None:
                _set_parts(self, *parts)
                return
        if charset is not _UNSET:
            kw["charset"] = charset
        super().__init__(body, status, headerlist, app_iter, content_type,
                         conditional_response, **kw)

    def _hl_get(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = self.__dict__[_HL]
        return headers

    def _hl_set(self, value: Iterable[tuple[str, str]]) -> None:
        if type(value) is not _HeaderList:
            value = _HeaderList(value)
            for item in value:
                check_header(*item)
        self.__dict__[_HL] = value

    # NOTE: every WebOb header setter goes through ``_headerlist``.
    _headerlist = property(_hl_get, _hl_set)

    def _status_set(self, value: Any) -> None:
        if isinstance(value, int):
            self.status_code = value
            return
        if isinstance(value, bytes):  # NOTE: as WebOb (from_file reads bytes)
            value = value.decode("latin-1")
        if not isinstance(value, str):  # NOTE: WebOb's TypeError, e.g. for (200,)
            raise TypeError(f"status must be an int or str, not {type(value).__name__}")
        if _BAD_VALUE(value):
            raise ValueError(f"invalid status {value!r}")
        code = value.split(" ", 1)[0]
        if not (code.isascii() and code.isdigit() and 100 <= int(code) <= 599):
            raise ValueError(f"status {value!r} must start with a code in 100-599")
        _WebObResponse.status.__set__(self, value)

    status = property(_WebObResponse.status.fget, _status_set, doc=_WebObResponse.status.__doc__)

    def _status_code_set(self, code: int) -> None:
        self.__dict__[_STATUS] = status_line(code)

    status_code = status_int = property(_WebObResponse.status_code.fget, _status_code_set)

    def _abs_headerlist(self, environ: Any) -> list[tuple[str, str]]:
        # NOTE: WebOb makes a relative Location absolute with the request's
        # Host, which a client chooses: 'Host: localhost@evil.example' gave
        # 'Location: http://localhost@evil.example/api'. RFC 9110 allows a
        # relative Location; it is sent as the application set it.
        # tests/test_host_reflection.py fails loudly if WebOb stops calling this.
        return [(k, v) if k.lower() != "location" else (k, relative_location(v))
                for k, v in self._headerlist]

    def conditional_response_app(self, environ: WSGIEnvironment,
                                 start_response: StartResponse) -> Iterable[bytes]:
        """WebOb's, with the conditional headers it cannot parse ignored."""
        drop_unusable_preconditions(environ)
        return super().conditional_response_app(environ, start_response)


# PERF: status lines are built once, not per response.
_STATUS_LINES = {int(s): f"{int(s)} {s.phrase}" for s in HTTPStatus}
#: statuses that carry no body (RFC 9110): built the slow, general way
_NO_BODY = frozenset((204, 205, 304))


def status_line(code: int) -> str:
    """``"404 Not Found"`` for ``404``; ``ValueError`` outside 100-599."""
    line = _STATUS_LINES.get(code) if type(code) is int else None
    if line is not None:
        return line
    if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
        raise ValueError(f"status code {code!r} must be an int in 100-599")
    return f"{code} Unknown"


def body_response(body: bytes, status: int, content_type: str,
                   headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> Response:
    """A ``Response`` with a complete ``body`` of type ``content_type``.

    The helpers below use it; the content type must be trusted (it is not checked).
    """
    if status in _NO_BODY or status < 200:
        resp = Response(body=body, status=status, content_type=content_type, charset=None)
        return _headers(resp, headers)
    # PERF: WebOb's __init__ re-derives the charset and content type on every
    # call; these headers are constants of the helper, so they are trusted.
    # NOTE: the parts are trusted (nothing is checked or derived here).
    resp = Response.__new__(Response)
    _set_parts(resp, status_line(status), _HeaderList(
        (("Content-Type", content_type), ("Content-Length", str(len(body))))), [body])
    return _headers(resp, headers) if headers else resp


def _set_parts(resp: Response, status: str, headerlist: _HeaderList,
               app_iter: list[bytes]) -> None:
    """Give ``resp`` the state WebOb's constructor would leave (the one place
    that writes WebOb's private attributes beside the property setters)."""
    attrs = resp.__dict__
    # PERF: item stores with literal keys (_STATUS and _HL spelt out): no dict
    # built per response, no global lookups; this runs for every helper response.
    attrs["_status"] = status
    attrs["_headers"] = None
    attrs["_hl"] = headerlist
    attrs["conditional_response"] = False
    attrs["_app_iter"] = app_iter


#: status codes WebOb gives a body (1xx, 204, 205 and 304 go to WebOb)
_BODY_CODES = frozenset(str(c) for c in range(200, 600)) - {"204", "205", "304"}
_WEBOB_JSON = json.JSONEncoder(separators=(",", ":")).encode
_PLAIN_JSON = frozenset((str, int, bool, type(None)))
#: the charset a str body is encoded with: WebOb's ``Response.charset`` pattern
_CHARSET = re.compile(r";\s*charset=([^;]*)", re.IGNORECASE).search


def _fast_parts(body: Any, status: Any, content_type: Any, charset: Any,
                kw: dict[str, Any]) -> tuple[str, _HeaderList, list[bytes]] | None:
    """Status line, header list and body of ``Response(body, status,
    content_type=, charset=, headers=, json_body=)`` as WebOb builds them;
    ``None`` for any other form (WebOb's constructor builds that one)."""
    headers = kw.get("headers", _UNSET) if kw else _UNSET
    others = len(kw) - (headers is not _UNSET)
    if others:
        key = "json_body" if "json_body" in kw else "json"
        if body is not None or others != 1 or key not in kw:
            return None
        body = _webob_json(kw[key])
        if content_type is None:
            # PERF: Response(json_body=data), the common JSON form, in one step.
            if status is None and charset is _UNSET and headers is _UNSET:
                return "200 OK", _HeaderList(
                    (("Content-Type", "application/json"), ("Content-Length", str(len(body))))), [body]
            content_type = "application/json"
    line = "200 OK" if status is None else _fast_status(status)
    ct = _fast_content_type(content_type, charset)
    if line is None or ct is None or (headers is not _UNSET and type(headers) not in (dict, list)):
        return None
    body = _encoded(body, ct[1])
    if body is None:
        return None
    if headers is _UNSET:
        hl = _HeaderList((("Content-Type", ct[0]), ("Content-Length", str(len(body)))))
    else:  # NOTE: as WebOb: ``headers=`` replaces every header, Content-Type too
        hl = _HeaderList(headers.items() if type(headers) is dict else headers)
        for item in hl:
            check_header(*item)
    return line, hl, [body]


def _fast_body(resp: Response, body: Any, content_type: Any, charset: Any) -> bool:
    """Give ``resp`` the parts of ``Response(body, content_type=, charset=)``
    (status 200, no headers given); ``False`` if WebOb must build it."""
    ct = _fast_content_type(content_type, charset)
    data = None if ct is None else _encoded(body, ct[1])
    if data is None:
        return False
    _set_parts(resp, "200 OK", _HeaderList(
        (("Content-Type", ct[0]), ("Content-Length", str(len(data))))), [data])  # type: ignore[index]
    return True


def _encoded(body: Any, encoding: str | None) -> bytes | None:
    """``body`` as WebOb sends it (``b""`` for ``None``, a ``str`` encoded);
    ``None`` where WebOb raises or converts (the error is WebOb's to raise)."""
    kind = type(body)
    if kind is bytes:
        return body  # type: ignore[no-any-return]
    if kind is str:
        if not encoding:
            return None  # NOTE: WebOb raises its TypeError (no charset to encode with)
        try:
            return body.encode(encoding)  # type: ignore[no-any-return]
        except (LookupError, UnicodeError):
            return None  # NOTE: WebOb raises the same error
    return b"" if body is None else None


def _fast_status(status: Any) -> str | None:
    """The status line WebOb's setter gives ``status`` (checked), or ``None``
    for a status this path leaves to WebOb (no body, or an unusual form)."""
    if status is None:
        return "200 OK"
    if type(status) is int:
        line = _STATUS_LINES.get(status)
        return line if line is not None and line[:3] in _BODY_CODES else None
    # NOTE: "201 Created" is kept as it is; "201" or "201 " WebOb reads as a code.
    if type(status) is str and status[:3] in _BODY_CODES and status[3:4] == " " \
            and status[4:].strip() and not _BAD_VALUE(status):
        return status
    return None


def _fast_content_type(content_type: Any, charset: Any) -> tuple[str, str | None] | None:
    """WebOb's Content-Type (checked) for these arguments and the charset a
    ``str`` body is encoded with; ``None`` for argument types left to WebOb."""
    key = (content_type, charset)
    try:
        return _CONTENT_TYPES[key]
    except KeyError:
        pass
    except TypeError:  # NOTE: an unhashable argument: WebOb decides
        return None
    found = _content_type(content_type, charset)
    # NOTE: the arguments come from the application's code, not the client;
    # the bound still keeps a program that makes them up from growing it.
    if found is not None and len(_CONTENT_TYPES) < 256:
        _CONTENT_TYPES[key] = found
    return found


#: (content_type, charset) -> (Content-Type, encoding), filled by _fast_content_type
_CONTENT_TYPES: dict[tuple[Any, Any], tuple[str, str | None]] = {}


def _content_type(content_type: Any, charset: Any) -> tuple[str, str | None] | None:
    """:func:`_fast_content_type`'s result, computed."""
    ct = content_type or Response.default_content_type
    if type(ct) is not str or not (charset is _UNSET or charset is None or type(charset) is str):
        return None
    has_charset = "charset=" in ct
    extra = None if has_charset else charset if charset is not _UNSET else Response.default_charset
    if extra and (ct == "text/html" or ct.startswith("text/") or _is_xml(ct)):
        ct = f"{ct}; charset={extra}"
    check_header("Content-Type", ct)
    encoding = None if has_charset or charset is _UNSET else charset
    if not encoding:
        found = _CHARSET(ct)
        encoding = found.group(1) if found is not None else None
    return ct, encoding


def _is_xml(content_type: str) -> bool:
    """WebOb's test for an XML type that takes a charset parameter."""
    return content_type.startswith("application/xml") or (
        content_type.endswith("+xml") and content_type.startswith(("application/", "image/")))


def _webob_json(data: Any) -> bytes:
    """``json.dumps(data, separators=(",", ":")).encode()``, as WebOb's ``json_body``."""
    # PERF: orjson writes the same bytes for plain data (str keys; str, int,
    # bool, None and floats written without an exponent) when they are ASCII
    # without DEL; anything else goes to the json module.
    if _orjson_dumps is not None:
        # PERF: a flat dict of plain values (most bodies) is checked here,
        # without a call per level; its keys need no check: orjson refuses any
        # key that is not exactly a str (TypeError below), json converts them.
        same = False
        if type(data) is dict:
            for value in data.values():
                if type(value) not in _PLAIN_JSON and not _orjson_same(value, 1):
                    break
            else:
                same = True
        else:
            same = _orjson_same(data, 0)
        if same:
            try:
                out = _orjson_dumps(data)
            except TypeError:  # NOTE: an int past 64 bits, a lone surrogate
                pass
            else:
                if out.isascii() and b"\x7f" not in out:
                    return out
    return _WEBOB_JSON(data).encode("utf-8")


def _orjson_same(data: Any, depth: int) -> bool:
    """True when orjson and the json module encode ``data`` alike (if ASCII)."""
    if depth > 8:
        return False  # NOTE: deep (or circular) data: the json module decides
    kind = type(data)
    # PERF: loops, not all() over generators: most bodies are a small dict.
    if kind is dict:
        for key, value in data.items():
            if type(key) is not str or (
                    type(value) not in _PLAIN_JSON and not _orjson_same(value, depth + 1)):
                return False
        return True
    if kind is list or kind is tuple:
        for value in data:
            if type(value) not in _PLAIN_JSON and not _orjson_same(value, depth + 1):
                return False
        return True
    if kind is float:
        return bool(data == 0.0 or 1e-4 <= abs(data) < 1e16)
    return kind in _PLAIN_JSON


def dumps(data: Any) -> bytes:
    """Encode ``data`` as compact UTF-8 JSON."""
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(data)
        except TypeError:
            pass  # e.g. non-str keys or big ints: json handles those
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _headers(resp: Response, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> Response:
    if headers:
        items = headers.items() if isinstance(headers, Mapping) else headers
        resp.headerlist.extend(items)
    return resp


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response (``application/json``, UTF-8, Content-Length set)."""
    return body_response(dumps(data), status, "application/json", headers)


def text_response(text: str, status: int = 200, headers: Mapping[str, str] | None = None,
                  content_type: str = "text/plain") -> Response:
    """A text response, encoded as UTF-8 with the charset declared."""
    # PERF: each content type is checked and completed once, not per response.
    full = _TEXT_TYPES.get(content_type) if type(content_type) is str else None
    if full is None:
        check_header("Content-Type", content_type)
        full = content_type if "charset=" in content_type else content_type + "; charset=utf-8"
        # NOTE: the types come from the application's code; bounded all the same.
        if len(_TEXT_TYPES) < 256:
            _TEXT_TYPES[content_type] = full
    return body_response(text.encode("utf-8"), status, full, headers)


#: content type -> the checked Content-Type text_response sends, filled by it
_TEXT_TYPES: dict[str, str] = {}


def html_response(html: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """An HTML response (``text/html; charset=utf-8``). Escape what you interpolate."""
    return text_response(html, status, headers, content_type="text/html")


class UnsafeRedirect(ValueError):
    """A redirect target that is neither a same-site path nor an allowed host."""


def safe_location(location: str, allowed_hosts: Iterable[str] = ()) -> str:
    """Return ``location`` if it is a same-site path or an allowed absolute URL."""
    if not isinstance(location, str) or _BAD_VALUE(location) or any(
        c.isspace() or ord(c) < 0x20 or c == "\\" for c in location
    ):
        raise UnsafeRedirect(f"unsafe redirect target {location!r}")
    if location.startswith("/") and not location.startswith("//"):
        return location
    parts = urlsplit(location)
    if parts.scheme in ("http", "https") and parts.hostname and parts.hostname in set(allowed_hosts):
        return location
    raise UnsafeRedirect(f"redirect target {location!r} is not a same-site path or an allowed host")


def redirect(location: str, status: int = 303, *, allowed_hosts: Iterable[str] = ()) -> Response:
    """Redirect to a same-site path (or an absolute URL on ``allowed_hosts``).

    Raises :class:`UnsafeRedirect` for anything else (``//evil``,
    ``javascript:``, ``http:evil``), so user input cannot open a redirect.
    """
    if not 300 <= status <= 399:
        raise ValueError(f"redirect status {status} is not 3xx")
    target = safe_location(location, allowed_hosts)
    resp = Response(status=status, content_type=None, charset=None, body=b"")
    resp.headerlist.append(("Location", target))
    return resp


class CloseForwarder:
    """The base of every body wrapper: ``close()`` reaches the wrapped iterable
    once (PEP 3333). Subclasses define ``__next__``; the middleware's proxies
    and :class:`ClosingIterator` are built on it.
    """

    __slots__ = ("_iterable",)

    def __init__(self, iterable: Iterable[bytes]) -> None:
        self._iterable: Iterable[bytes] | None = iterable

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Close the wrapped iterable, at most once."""
        self._close_iterable()

    def _close_iterable(self) -> None:
        """What :meth:`close` does, for a subclass whose ``close`` adds to it."""
        iterable, self._iterable = self._iterable, None
        close = getattr(iterable, "close", None)
        if close is not None:
            close()


class ClosingIterator(CloseForwarder):
    """Wrap an iterable so ``close()`` always releases what it holds.

    A generator that never started (HEAD, a client that went away) does not
    run its ``finally`` when closed; callbacks given here always run, once,
    each of them even if the iterable's ``close()`` or another callback raises.
    """

    __slots__ = ("_it", "_callbacks")

    def __init__(self, iterable: Iterable[bytes], *callbacks: Callable[[], Any]) -> None:
        super().__init__(iterable)
        self._it: Iterator[bytes] | None = None
        self._callbacks = callbacks

    def __next__(self) -> bytes:
        if self._it is None:
            self._it = iter(() if self._iterable is None else self._iterable)
        return next(self._it)

    def close(self) -> None:
        callbacks, self._callbacks = self._callbacks, ()
        try:
            self._close_iterable()
        finally:
            _call_all(callbacks)


def _call_all(callbacks: tuple[Callable[[], Any], ...]) -> None:
    """Call every callback, in order, even after one raised (that error propagates)."""
    if callbacks:
        try:
            callbacks[0]()
        finally:
            _call_all(callbacks[1:])


def stream(iterable: Iterable[bytes | str], content_type: str = "text/plain", *,
           status: int = 200, on_close: Callable[[], Any] | None = None,
           headers: Mapping[str, str] | None = None) -> Response:
    """A streamed response: chunks are sent as produced, never buffered.

    ``str`` chunks are encoded as UTF-8; ``on_close`` runs when the server
    closes the body, even if iteration never started.
    """
    chunks = (c.encode("utf-8") if isinstance(c, str) else c for c in iterable)
    source_close = getattr(iterable, "close", None)
    callbacks = tuple(c for c in (source_close, on_close) if c is not None)
    body = ClosingIterator(chunks, *callbacks)
    charset = "utf-8" if content_type.startswith("text/") else None
    resp = Response(app_iter=body, status=status, content_type=content_type, charset=charset)
    return _headers(resp, headers)
