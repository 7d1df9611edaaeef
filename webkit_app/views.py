"""Views of a request for echo endpoints and debugging."""

from __future__ import annotations

from typing import Any

from .body import UploadedFile
from .request import Request, is_json_type, parse_content_type

__all__ = ["request_view", "SECRET_HEADERS"]

#: Headers whose values are never echoed or logged.
SECRET_HEADERS = frozenset(("authorization", "cookie", "proxy-authorization", "x-api-key"))


def _field(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        return {"filename": value.filename, "type": value.type, "size": value.size}
    return value


def _multi(md: Any) -> dict[str, Any]:
    """A MultiDict as a dict: one value as itself, repeated names as a list."""
    out: dict[str, Any] = {}
    for key in md.keys():
        values = [_field(v) for v in md.getall(key)]
        out[key] = values[0] if len(values) == 1 else values
    return out


def request_view(request: Request) -> dict[str, Any]:
    """The structured view of a request: method, path, query, form, JSON,
    cookies and headers (secret headers masked). Parsing is strict, so bad
    input raises the same 4xx the handler would."""
    media, _ = parse_content_type(request.content_type)
    json_body = request.json if is_json_type(media) and request.body else None
    return {
        "method": request.method,
        "path": request.path_info,
        "query": _multi(request.GET),
        "form": _multi(request.POST),
        "json": json_body,
        "cookies": dict(request.cookies),
        "headers": {
            name: "***" if name.lower() in SECRET_HEADERS else value
            for name, value in request.headers.items()
        },
    }
