"""The toolkit's request: ``webob.Request`` with strict, bounded parsing.

::

    @app.route("/notes", methods=["POST"])
    def create(request):
        data = request.json          # 400 / 413 / 415 with a clear message
        tag = request.GET.get("tag") # 400 on bad percent-encoding or UTF-8
        ...
"""

from __future__ import annotations

import io
import json
import re
from typing import TYPE_CHECKING, Any, cast

import webob
from webob import cookies as webob_cookies
from webob.cookies import RequestCookies
from webob.datetime_utils import serialize_date
from webob.descriptors import converter, environ_getter, serialize_if_range
from webob.etag import IfRange, IfRangeDate, NoETag
from webob.exc import (
    HTTPBadRequest,
    HTTPLengthRequired,
    HTTPUnsupportedMediaType,
)
from webob.multidict import GetDict, MultiDict, NoVars

from .body import (
    DEFAULT_MAX_BODY_SIZE,
    MAX_FORM_PARTS,
    check_charset,
    content_length,
    declared_length,
    is_chunked,
    parse_json,
    parse_multipart,
    parse_qs_strict,
    read_body,
)
from .response import Response, drop_unusable_preconditions, parse_http_date

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .app import App

__all__ = ["Request", "parse_content_type", "is_json_type", "refuse_lone_surrogates"]

#: environ keys the toolkit sets or reads
APP_KEY = "webkit_app.app"
MAX_BODY_KEY = "webkit_app.max_body_size"
#: where the ``session`` middleware (or the Pyramid session factory) puts the session
SESSION_KEY = "webkit_app.session"
_BODY_KEY = "webkit_app.body"
_GET_KEY = "webkit_app.get"
_POST_KEY = "webkit_app.post"
_MULTIPART = "multipart/form-data"
_FORM_TYPES = ("application/x-www-form-urlencoded", _MULTIPART)
#: WebOb's own cache keys, shared so plain ``webob.Request`` views agree
_WEBOB_GET = "webob._parsed_query_vars"
_WEBOB_POST = "webob._parsed_post_vars"
#: a JSON escape of a UTF-16 surrogate (pairs are fine, lone ones are not)
_COOKIE_CACHE = "webob._parsed_cookies"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]").search


def _plain_query(qs: str) -> list[tuple[str, str]] | None:
    """The fields of a query string that needs no decoding (ASCII, no ``%``
    or ``+``), as :func:`~webkit_app.body.parse_qs_strict` reads them;
    ``None`` for any other (parse_qs_strict decodes it, or refuses it)."""
    # PERF: a plain query string (most of them) is its own decoded form: no
    # unescaping per name and value, and no MultiDict to copy into GetDict.
    if not qs or not qs.isascii() or "%" in qs or "+" in qs:
        return None
    pairs = (qs.replace(";", "&") if ";" in qs else qs).split("&")
    if len(pairs) > MAX_FORM_PARTS:
        return None
    # PERF: (name, "=", value)[::2] is the pair, sliced in C.
    return [pair.partition("=")[::2] for pair in pairs if pair]


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type into its lower-cased media type and parameters."""
    if not value:
        return "", {}
    if value == "application/json":  # PERF: the usual JSON request, as it is
        return value, {}
    media, *rest = value.split(";")
    params = {}
    for item in rest:
        key, _, val = item.partition("=")
        params[key.strip().lower()] = val.strip()
    return media.strip().lower(), params


def is_json_type(media: str) -> bool:
    """True for ``application/json`` and ``application/*+json``."""
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]").search


def refuse_lone_surrogates(value: Any, path: str = "") -> None:
    """400 naming where decoded JSON holds a lone UTF-16 surrogate.

    ``json`` decodes ``"\\ud800"`` to a ``str`` that no UTF-8 answer, log
    line or database can carry, so it is refused here, once, for every use::

        refuse_lone_surrogates({"a": ["\\ud800"]})
        # HTTPBadRequest: Lone surrogate \\ud800 in the JSON string at ['a'][0]
    """
    if isinstance(value, str):
        _check_text(value, f"the JSON string at {path or 'the top level'}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"the JSON key {ascii(key)}" + (f" at {path}" if path else ""))
            refuse_lone_surrogates(item, f"{path}[{ascii(key)}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_lone_surrogates(item, f"{path}[{index}]")


def _check_text(text: str, where: str) -> None:
    found = _LONE_SURROGATE(text)
    if found is not None:
        raise HTTPBadRequest(f"Lone surrogate \\u{ord(found.group()):04x} in {where}")


def _str_length(environ: dict[str, Any]) -> None:
    """Make an int ``CONTENT_LENGTH`` (which WebOb takes) the str WSGI requires."""
    value = environ.get("CONTENT_LENGTH")
    if type(value) is int:
        environ["CONTENT_LENGTH"] = str(value)


def _parse_if_range(value: str | None) -> IfRange | IfRangeDate:
    """WebOb's ``IfRange.parse``; a date it cannot parse matches nothing
    (the Range is ignored, RFC 9110 13.1.5) instead of raising ``TypeError``."""
    if_range = IfRange.parse(value) if not (value and value.endswith(" GMT")) else None
    if if_range is not None:
        return if_range
    date = parse_http_date(value)
    return IfRangeDate(date) if date is not None else IfRange(NoETag)


def _date_header(key: str, section: str) -> Any:
    """A request date header as WebOb has it, ``None`` when it is no valid date."""
    return converter(environ_getter(key, None, section), parse_http_date, serialize_date, "HTTP date")


class _Cookies(RequestCookies):
    """WebOb's request cookies, without those whose name or value is not UTF-8.

    WebOb raises ``UnicodeDecodeError`` on the first one (a 500); a browser
    sends every cookie of the site, also those another app set, so one bad
    cookie is ignored as WebOb ignores a malformed one, not refused.
    """

    # NOTE: overrides WebOb's private ``_cache`` (tests/test_request_decoding.py
    # fails loudly if WebOb renames it): the rest of RequestCookies reads it.
    @property
    def _cache(self) -> dict[str, str]:
        env: dict[str, Any] = self._environ  # type: ignore[attr-defined]
        header = env.get("HTTP_COOKIE", "")
        cache: dict[str, str]
        cache, cache_header = env.get(_COOKIE_CACHE, ({}, None))
        if cache_header == header:
            return cache
        cache = {}
        for name, value in webob_cookies.parse_cookie(header):  # type: ignore[attr-defined]
            try:
                cache[name.decode("utf-8")] = value.decode("utf-8")
            except UnicodeDecodeError:
                continue
        env[_COOKIE_CACHE] = (cache, header)
        return cache


# NOTE: bound at import: code that rebinds ``webob.Request`` to this class
# (tests, plugins) must not make the setters below call themselves.
_WebObRequest = webob.Request


class Request(_WebObRequest):
    """A ``webob.Request`` whose body, JSON, query and form access is strict.

    Bad input raises ``webob.exc`` errors (400, 411, 413, 415) that the
    dispatcher renders, never ``ValueError`` or ``UnicodeDecodeError``.
    Elsewhere it keeps WebOb's contract; the deliberate differences are
    listed in ``tests/webob_contract/README.rst``.
    """

    #: ``get_response``/``send`` build the toolkit's header-checking response
    ResponseClass = Response

    if TYPE_CHECKING:
        # NOTE: typing only. types-WebOb says ``dict[str, str]``; the router's
        # converters put ints, floats, UUIDs (any converter's value) there.
        @property
        def urlvars(self) -> dict[str, Any]:
            """The route's parameters, converted: ``{"id": 42}`` for ``/users/{id:int}``."""

        @urlvars.setter
        def urlvars(self, value: dict[str, Any]) -> None: ...

        # NOTE: typing only: WebOb builds the response with ResponseClass.
        def send(self, application: WSGIApplication | None = None,
                 catch_exc_info: bool = False) -> Response: ...

        get_response = send

    @property
    def max_body_size(self) -> int:
        """The largest body this request may carry (``webkit_app.max_body_size``)."""
        limit: int = self.environ.get(MAX_BODY_KEY, DEFAULT_MAX_BODY_SIZE)
        return limit

    def _body__get(self) -> bytes:
        env = self.environ
        stream = env.get("wsgi.input")
        cached = env.get(_BODY_KEY)
        # NOTE: keyed on the stream, so ``req.body_file = ...`` or
        # ``environ["wsgi.input"] = ...`` is read again, as in WebOb.
        if cached is not None and cached[1] is stream:
            data: bytes = cached[0]
            return data
        if stream is None:  # NOTE: WebOb reads no body as b"", not a KeyError
            stream = env["wsgi.input"] = io.BytesIO()
        elif env.get("webob.is_body_seekable"):
            stream.seek(0)
        _str_length(env)
        data = read_body(env, self.max_body_size)
        # NOTE: later readers (WebOb, wrapped apps) see the same bytes.
        stream = env["wsgi.input"] = io.BytesIO(data)
        env["CONTENT_LENGTH"] = str(len(data))
        env["webob.is_body_seekable"] = True
        env[_BODY_KEY] = (data, stream)
        return data

    def _body__set(self, value: bytes | None) -> None:
        _WebObRequest.body.fset(self, value)  # type: ignore[attr-defined]

    def _body__del(self) -> None:
        self._body__set(b"")

    body = property(_body__get, _body__set, _body__del,
                    doc="The whole body, read once within the size limit.")

    def require_body(self) -> bytes:
        """The body; 411 when the client sent neither a length nor chunks."""
        env = self.environ
        _str_length(env)
        unsized = env.get(_BODY_KEY) is None and content_length(env) is None
        if unsized and not is_chunked(env):
            raise HTTPLengthRequired("A request body with a Content-Length is required")
        # NOTE: gunicorn and waitress set wsgi.input_terminated on every request,
        # so one with neither a length nor chunks only shows as an empty body.
        chunked = "chunked" in env.get("HTTP_TRANSFER_ENCODING", "").lower()
        if unsized and not chunked and not self.body:
            raise HTTPLengthRequired("A request body with a Content-Length is required")
        data: bytes = self.body
        return data

    def _json__get(self) -> Any:
        """The JSON body. 415 unless the Content-Type is JSON, 400 if malformed."""
        media, params = parse_content_type(self.environ.get("CONTENT_TYPE"))
        if not is_json_type(media):
            raise HTTPUnsupportedMediaType(
                f"Expected Content-Type application/json, got {media or 'none'!r}"
            )
        check_charset(params, "A JSON body")
        data = self.require_body()
        value = parse_json(data)
        # PERF: a lone surrogate can only come from a \ud8xx-\udfxx escape.
        if _SURROGATE_ESCAPE(data):
            refuse_lone_surrogates(value)
        return value

    def _json__set(self, value: Any) -> None:
        self.body = json.dumps(value, separators=(",", ":")).encode("utf-8")

    def _json__del(self) -> None:
        self.body = b""

    json = json_body = property(_json__get, _json__set, _json__del, doc=_json__get.__doc__)

    @property
    def GET(self) -> GetDict:
        """Query parameters; 400 on invalid percent-encoding or UTF-8.

        As in WebOb, changing the dict rewrites ``QUERY_STRING``.
        """
        env = self.environ
        qs = env.get("QUERY_STRING", "")
        cached = env.get(_WEBOB_GET)
        # NOTE: a dict plain WebOb parsed (leniently) is not trusted: only ours.
        if cached is not None and cached[1] == qs and cached[0] is env.get(_GET_KEY):
            return cast(GetDict, cached[0])
        found = env[_GET_KEY] = GetDict(_plain_query(qs) or parse_qs_strict(qs), env)
        env[_WEBOB_GET] = (found, qs)
        return found

    @property
    def POST(self) -> MultiDict[str, Any] | NoVars:
        """Form fields (urlencoded or multipart); files as ``UploadedFile``.

        ``NoVars`` for a request that is not a form, as in WebOb.
        """
        env = self.environ
        cached = env.get(_WEBOB_POST)
        if cached is not None and cached[0] is env.get(_POST_KEY) and cached[1] is env.get("wsgi.input"):
            return cast("MultiDict[str, Any]", cached[0])
        media, params = parse_content_type(env.get("CONTENT_TYPE"))
        # NOTE: WebOb's rule: a form type, or no type at all on a POST.
        if media not in _FORM_TYPES and (media or self.method != "POST"):
            return NoVars(f"Not an HTML form submission (Content-Type: {media})")
        found = self._parse_multipart(params) if media == _MULTIPART else self._parse_urlencoded(params)
        env[_POST_KEY] = found
        # NOTE: WebOb's cache key too: a plain webob.Request on this environ
        # (a wrapped app) gets these fields instead of a consumed stream.
        env[_WEBOB_POST] = (found, env.get("wsgi.input"))
        return found

    def _parse_urlencoded(self, params: dict[str, str]) -> MultiDict[str, Any]:
        check_charset(params, "A form body")
        try:
            text = self.body.decode("ascii")
        except UnicodeDecodeError:
            raise HTTPBadRequest("A urlencoded form must be ASCII (percent-encode the rest)") from None
        return parse_qs_strict(text, "form body")

    def _parse_multipart(self, params: dict[str, str]) -> MultiDict[str, Any]:
        env, limit = self.environ, self.max_body_size
        if env.get("webob.is_body_seekable"):
            data = self.body
            return parse_multipart(data, params, length=len(data), max_size=limit)
        _str_length(env)
        length = declared_length(env, limit)
        # NOTE: streamed from wsgi.input: large uploads spool to disk, not memory.
        stream = env.setdefault("wsgi.input", io.BytesIO())
        return parse_multipart(stream, params, length=length, max_size=limit)

    # NOTE: WebOb's date headers raise on a date it cannot hold (year 10000).
    date = _date_header("HTTP_DATE", "14.8")
    if_modified_since = _date_header("HTTP_IF_MODIFIED_SINCE", "14.25")
    if_unmodified_since = _date_header("HTTP_IF_UNMODIFIED_SINCE", "14.28")
    if_range = converter(environ_getter("HTTP_IF_RANGE", None, "14.27"),
                         _parse_if_range, serialize_if_range, "IfRange object")

    @property
    def cookies(self) -> RequestCookies:
        """The request's cookies; one whose name or value is not UTF-8 is left out."""
        return _Cookies(self.environ)

    @cookies.setter
    def cookies(self, value: Any) -> None:
        self.environ.pop("HTTP_COOKIE", None)  # NOTE: as WebOb's setter
        _Cookies(self.environ).update(value)

    def _text__get(self) -> str:
        """The body as text in the request's charset: 415 for a charset Python
        does not know, 400 for a body that is not in it."""
        charset = self.charset
        if not charset:  # NOTE: as WebOb
            raise AttributeError("You cannot access Request.text unless charset is set")
        try:
            text: str = self.body.decode(charset)
        except LookupError:
            raise HTTPUnsupportedMediaType(f"Unknown charset {charset[:40]!r}") from None
        except UnicodeDecodeError as exc:
            raise HTTPBadRequest(f"The body is not valid {charset[:40]} (byte {exc.start})") from None
        return text

    text = property(_text__get, _WebObRequest.text.fset, _WebObRequest.text.fdel, doc=_text__get.__doc__)

    def call_application(self, application: Any, catch_exc_info: bool = False) -> Any:
        """WebOb's, with the conditional headers WebOb cannot parse dropped
        first (RFC 9110 says to ignore them), so ``get_response(FileApp(...))``
        answers a bad ``If-Modified-Since`` as if it were absent."""
        drop_unusable_preconditions(self.environ)
        return super().call_application(application, catch_exc_info)

    @property
    def session(self) -> Any:
        """The signed-cookie session (dict-like) of :func:`webkit_app.middleware.session`.

        :raises RuntimeError: no session middleware runs in front of this app.
        """
        try:
            return self.environ[SESSION_KEY]
        except KeyError:
            raise RuntimeError("request.session needs the session middleware in front of the "
                               "app: webkit_app.middleware.session(app, secret=...)") from None

    def url_for(self, name: str, *, _query: Any = None, _absolute: bool = False, **params: Any) -> str:
        """The URL of the named route, under this request's SCRIPT_NAME.

        ::

            request.url_for("user", id=7)              # '/prefix/users/7'
            request.url_for("search", _query={"q": "x"}, _absolute=True)
        """
        app: App | None = self.environ.get(APP_KEY)
        if app is None:
            raise RuntimeError("request.url_for needs a request routed by a webkit_app App")
        path = app.url_for(name, _query=_query, _script_name=self.script_name, **params)
        return self.host_url + path if _absolute else path
