"""The notes API: ``/api/notes`` and ``/api/notes/{id:int}``, backed by a notes :class:`Store`.

=========================  ======  =================================================
``/api/notes``             GET     ``{"notes": [...], "total", "limit", "offset"}``;
                                   ``limit`` 1-100 (20), ``offset`` >= 0 (0)
``/api/notes``             POST    JSON ``{"text": "..."}`` -> 201, ``Location``
``/api/notes/{id:int}``    GET     the note, or 404
``/api/notes/{id:int}``    DELETE  204, or 404
``/api/notes/export``      GET     every note as NDJSON, streamed from the database
=========================  ======  =================================================

A bad query parameter or body is a 400 (415 for a body that is not JSON) and
a well-formed body with a bad field a 422; all are JSON naming the field
(``{"status": 422, ..., "field": "text"}``; ``"body"`` for the body itself).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from webob.exc import (
    HTTPBadRequest,
    HTTPLengthRequired,
    HTTPNotFound,
    HTTPUnsupportedMediaType,
    status_map,
)

from webkit_app import App, Request, Response, json_response, render_http_error, stream
from webkit_app.response import dumps

from .store import Note, Store

__all__ = ["NotesAPI", "Invalid", "MAX_TEXT", "MAX_BODY", "MAX_LIMIT", "DEFAULT_LIMIT"]

MAX_TEXT = 10_000
#: the create route's body limit, not the App's 10 MiB
# NOTE: room for the longest text with every character escaped as a surrogate
# pair, "\ud83d\ude00" (12 bytes), as json.dumps(ensure_ascii=True) may send it.
MAX_BODY = 128 * 1024
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
_MAX_OFFSET = 10**12
_FIELDS = frozenset(("text",))
Handler = Callable[[Request], Any]


class Invalid(Exception):
    """A request field is wrong: rendered as ``status`` with ``"field"`` in the JSON."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def reports_fields(handler: Handler) -> Handler:
    """Turn :class:`Invalid` raised by ``handler`` into a 400/422 naming the field."""

    @functools.wraps(handler)
    def view(request: Request) -> Any:
        try:
            return handler(request)
        except Invalid as exc:
            error = status_map[exc.status](f"{exc.field}: {exc.message}")
            return render_http_error(error, request.environ, {"field": exc.field})

    return view


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """The query parameter ``name`` as an int in ``[low, high]``; :class:`Invalid` otherwise."""
    values = request.GET.getall(name)
    if not values:
        return default
    if len(values) > 1:
        raise Invalid(name, f"given {len(values)} times; give it once")
    text = values[0]
    # NOTE: int() would accept " 7", "+7", "7_0" and non-ASCII digits.
    if not (text.isascii() and text.isdigit()) or len(text) > 15 or not low <= int(text) <= high:
        raise Invalid(name, f"expected an integer from {low} to {high}, got {text[:20]!r}")
    return int(text)


def json_body(request: Request) -> Any:
    """The request's JSON; a malformed or missing body, or one that is not JSON,
    is :class:`Invalid` naming the field ``body`` (400, 411 or 415)."""
    try:
        return request.json
    except (HTTPBadRequest, HTTPLengthRequired, HTTPUnsupportedMediaType) as exc:
        raise Invalid("body", exc.detail or exc.explanation, exc.code) from None


def note_text(data: Any) -> str:
    """The ``text`` of a create request's JSON body; :class:`Invalid` (422) otherwise."""
    if not isinstance(data, dict):
        raise Invalid("body", f'expected a JSON object like {{"text": "..."}}, '
                              f"got {type(data).__name__}", 422)
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise Invalid(unknown[0][:50], "unknown field; only 'text' is accepted", 422)
    if "text" not in data:
        raise Invalid("text", "is required", 422)
    text = data["text"]
    if not isinstance(text, str):
        raise Invalid("text", f"expected a string, got {type(text).__name__}", 422)
    if not text.strip():
        raise Invalid("text", "must not be empty", 422)
    if len(text) > MAX_TEXT:
        raise Invalid("text", f"longer than {MAX_TEXT} characters", 422)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # NOTE: JSON "\ud800" decodes to a lone surrogate
        raise Invalid("text", "contains an unpaired surrogate (invalid Unicode)", 422) from None
    if "\x00" in text:  # NOTE: PostgreSQL text cannot hold it; refused on every store
        raise Invalid("text", "contains a NUL character (U+0000)", 422)
    return text


def _ndjson(batches: Iterable[list[Note]]) -> Iterator[bytes]:
    for batch in batches:
        yield b"".join(dumps(note) + b"\n" for note in batch)


class NotesAPI:
    """The notes endpoints, bound to one store::

        NotesAPI(NotesStore(path)).register(app)
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def register(self, app: App) -> None:
        """Add the notes routes to ``app``."""
        app.add_route("GET", "/api/notes", reports_fields(self.list), name="notes")
        # NOTE: a route's limit replaces the App's: an operator's smaller one still wins.
        app.add_route("POST", "/api/notes", reports_fields(self.create),
                      max_body_size=min(MAX_BODY, app.max_body_size))
        app.add_route("GET", "/api/notes/export", self.export, name="notes_export")
        app.add_route("GET", "/api/notes/{id:int}", self.show, name="note")
        app.add_route("DELETE", "/api/notes/{id:int}", self.delete)

    def _with_url(self, request: Request, note: Note) -> Note:
        return {**note, "url": request.url_for("note", id=note["id"])}

    def list(self, request: Request) -> Response:
        """A page of notes with ``limit`` and ``offset``, and ``next`` when there are more."""
        limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = int_param(request, "offset", 0, 0, _MAX_OFFSET)
        notes, total = self.store.list(limit, offset)
        body = {"notes": [self._with_url(request, n) for n in notes],
                "total": total, "limit": limit, "offset": offset}
        if offset + limit < total:
            body["next"] = request.url_for("notes", _query={"limit": limit,
                                                            "offset": offset + limit})
        return json_response(body)

    def create(self, request: Request) -> Response:
        """Create a note from ``{"text": ...}``: 201 with its ``Location``."""
        note = self._with_url(request, self.store.create(note_text(json_body(request))))
        return json_response(note, status=201, headers={"Location": note["url"]})

    def show(self, request: Request) -> Response:
        """One note, or 404."""
        note = self.store.get(request.urlvars["id"])
        if note is None:
            raise HTTPNotFound(f"No note {request.urlvars['id']}")
        return json_response(self._with_url(request, note))

    def delete(self, request: Request) -> Response:
        """Delete a note: 204, or 404 when there is none."""
        if not self.store.delete(request.urlvars["id"]):
            raise HTTPNotFound(f"No note {request.urlvars['id']}")
        return Response(status=204, content_type=None, charset=None, body=b"")

    def export(self, request: Request) -> Response:
        """Every note as NDJSON, streamed while a pool connection is held.

        The connection goes back to the pool in the body's ``close()``,
        which the server calls after the last chunk, for HEAD and when the
        client goes away mid-stream.
        """
        batches, release = self.store.export()
        return stream(_ndjson(batches), "application/x-ndjson", on_close=release,
                      headers={"Cache-Control": "no-store"})
