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
from typing import TYPE_CHECKING, Any

import webob
from webob.exc import (
    HTTPBadRequest,
    HTTPLengthRequired,
    HTTPUnsupportedMediaType,
)
from webob.multidict import MultiDict

from .body import (
    DEFAULT_MAX_BODY_SIZE,
    check_charset,
    content_length,
    declared_length,
    is_chunked,
    parse_json,
    parse_multipart,
    parse_qs_strict,
    read_body,
)

if TYPE_CHECKING:
    from .app import App

__all__ = ["Request", "parse_content_type", "is_json_type"]

#: environ keys the toolkit sets or reads
APP_KEY = "webkit_app.app"
MAX_BODY_KEY = "webkit_app.max_body_size"
_BODY_KEY = "webkit_app.body"
_GET_KEY = "webkit_app.get"
_POST_KEY = "webkit_app.post"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type into its lower-cased media type and parameters."""
    if not value:
        return "", {}
    media, *rest = value.split(";")
    params = {}
    for item in rest:
        key, _, val = item.partition("=")
        params[key.strip().lower()] = val.strip()
    return media.strip().lower(), params


def is_json_type(media: str) -> bool:
    """True for ``application/json`` and ``application/*+json``."""
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class Request(webob.Request):
    """A ``webob.Request`` whose body, JSON, query and form access is strict.

    Bad input raises ``webob.exc`` errors (400, 411, 413, 415) that the
    dispatcher renders, never ``ValueError`` or ``UnicodeDecodeError``.
    """

    @property
    def max_body_size(self) -> int:
        """The largest body this request may carry (``webkit_app.max_body_size``)."""
        return self.environ.get(MAX_BODY_KEY, DEFAULT_MAX_BODY_SIZE)

    def _body__get(self) -> bytes:
        env = self.environ
        data = env.get(_BODY_KEY)
        if data is None:
            data = read_body(env, self.max_body_size)
            env[_BODY_KEY] = data
            # NOTE: later readers (WebOb, wrapped apps) see the same bytes.
            env["wsgi.input"] = io.BytesIO(data)
            env["CONTENT_LENGTH"] = str(len(data))
            env["webob.is_body_seekable"] = True
        return data

    def _body__set(self, value: bytes) -> None:
        self.environ.pop(_BODY_KEY, None)
        webob.Request.body.fset(self, value)  # type: ignore[attr-defined]

    body = property(_body__get, _body__set, doc="The whole body, read once within the size limit.")

    def require_body(self) -> bytes:
        """The body; 411 when the client sent neither a length nor chunks."""
        env = self.environ
        unsized = env.get(_BODY_KEY) is None and content_length(env) is None
        if unsized and not is_chunked(env):
            raise HTTPLengthRequired("A request body with a Content-Length is required")
        # NOTE: gunicorn and waitress set wsgi.input_terminated on every request,
        # so one with neither a length nor chunks only shows as an empty body.
        chunked = "chunked" in env.get("HTTP_TRANSFER_ENCODING", "").lower()
        if unsized and not chunked and not self.body:
            raise HTTPLengthRequired("A request body with a Content-Length is required")
        return self.body

    @property
    def json(self) -> Any:
        """The JSON body. 415 unless the Content-Type is JSON, 400 if malformed."""
        media, params = parse_content_type(self.environ.get("CONTENT_TYPE"))
        if not is_json_type(media):
            raise HTTPUnsupportedMediaType(
                f"Expected Content-Type application/json, got {media or 'none'!r}"
            )
        check_charset(params, "A JSON body")
        return parse_json(self.require_body())

    json_body = json  # type: ignore[assignment]

    @property
    def GET(self) -> MultiDict:  # noqa: N802 (WebOb's name)
        """Query parameters; 400 on invalid percent-encoding or UTF-8."""
        env = self.environ
        cached = env.get(_GET_KEY)
        if cached is None or cached[0] != env.get("QUERY_STRING", ""):
            qs = env.get("QUERY_STRING", "")
            cached = env[_GET_KEY] = (qs, parse_qs_strict(qs))
        return cached[1]

    @property
    def POST(self) -> MultiDict:  # noqa: N802 (WebOb's name)
        """Form fields (urlencoded or multipart); files as ``UploadedFile``."""
        env = self.environ
        cached = env.get(_POST_KEY)
        if cached is None:
            cached = env[_POST_KEY] = self._parse_form()
        return cached

    def _parse_form(self) -> MultiDict:
        media, params = parse_content_type(self.environ.get("CONTENT_TYPE"))
        if media not in _FORM_TYPES or self.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
            return MultiDict()
        if media == "multipart/form-data":
            return self._parse_multipart(params)
        check_charset(params, "A form body")
        try:
            text = self.body.decode("ascii")
        except UnicodeDecodeError:
            raise HTTPBadRequest("A urlencoded form must be ASCII (percent-encode the rest)") from None
        return parse_qs_strict(text, "form body")

    def _parse_multipart(self, params: dict[str, str]) -> MultiDict:
        env, limit = self.environ, self.max_body_size
        data = env.get(_BODY_KEY)
        if data is not None:
            return parse_multipart(data, params, length=len(data), max_size=limit)
        length = declared_length(env, limit)
        # NOTE: streamed from wsgi.input: large uploads spool to disk, not memory.
        return parse_multipart(env["wsgi.input"], params, length=length, max_size=limit)

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
