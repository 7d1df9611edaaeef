"""Strict reading and parsing of request bodies, query strings and forms.

Everything here raises ``webob.exc`` errors (400, 411, 413, 415) with a
message saying what is wrong, never a bare ``ValueError``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_to_bytes

import multipart
from webob.exc import (
    HTTPBadRequest,
    HTTPException,
    HTTPLengthRequired,
    HTTPRequestEntityTooLarge,
    HTTPUnsupportedMediaType,
)
from webob.multidict import MultiDict

from .paths import BAD_PERCENT

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "MAX_JSON_DEPTH",
    "MAX_JSON_VALUES",
    "MAX_FORM_PARTS",
    "content_length",
    "declared_length",
    "LimitedInput",
    "read_body",
    "parse_qs_strict",
    "parse_json",
    "parse_multipart",
    "UploadedFile",
]

DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024
MAX_JSON_DEPTH = 64
#: at most this many values in a JSON body (a list costs 56 bytes even empty)
MAX_JSON_VALUES = 100_000
MAX_FORM_PARTS = 1000
_CHUNK = 64 * 1024
_UTF8 = frozenset(("utf-8", "utf8"))


def content_length(environ: WSGIEnvironment) -> int | None:
    """Return the declared body length, ``None`` when absent; 400 when invalid.

    Only ASCII digits are accepted: ``int()`` would take ``-1``, ``+3``,
    ``1_0`` and non-ASCII digits.
    """
    value = environ.get("CONTENT_LENGTH")
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()):
        raise HTTPBadRequest(f"Content-Length {value[:20]!r} is not a decimal number")
    return int(value)


def declared_length(environ: WSGIEnvironment, max_size: int) -> int | None:
    """The Content-Length, ``None`` when absent; 400 when invalid, 413 over ``max_size``."""
    length = content_length(environ)
    if length is not None and length > max_size:
        raise HTTPRequestEntityTooLarge(f"Request body of {length} bytes exceeds {max_size}")
    return length


class LimitedInput:
    """A ``wsgi.input`` that raises 413 once more than ``limit`` bytes were read."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream, self._limit, self.count = stream, limit, 0

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self._limit:
            raise HTTPRequestEntityTooLarge(f"Request body exceeds {self._limit} bytes")
        return data

    def _size(self, size: int | None) -> int:
        # NOTE: one byte past the limit is enough to know it was passed.
        room = self._limit - self.count + 1
        return room if size is None or size < 0 else min(size, room)

    def read(self, size: int | None = -1) -> bytes:
        return self._counted(self._stream.read(self._size(size)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self._stream.readline(self._size(size)))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> LimitedInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def is_chunked(environ: WSGIEnvironment) -> bool:
    """True when the body's end is marked by the transport, not a length."""
    return bool(environ.get("wsgi.input_terminated")) or "chunked" in environ.get(
        "HTTP_TRANSFER_ENCODING", ""
    ).lower()


def read_body(environ: WSGIEnvironment, max_size: int, *, require: bool = False) -> bytes:
    """Read the whole body, enforcing ``max_size`` (413) and the length (400).

    A body with a Content-Length over the limit is refused before any byte is
    read; a chunked body is counted while read and cut off at the limit.
    """
    length = declared_length(environ, max_size)
    stream = environ["wsgi.input"]
    if length is None:
        if not is_chunked(environ):
            if require:
                raise HTTPLengthRequired("A request body with a Content-Length is required")
            return b""
        return _read_unsized(LimitedInput(stream, max_size))
    data = _read_exact(stream, length)
    if len(data) < length:
        raise HTTPBadRequest(f"Request body ended after {len(data)} of {length} bytes")
    return data


class _Readable(Protocol):
    """What the body readers read from: ``wsgi.input`` or a :class:`LimitedInput`."""

    def read(self, size: int = ..., /) -> bytes: ...


def _read(stream: _Readable, size: int) -> bytes:
    try:
        return stream.read(size)
    except HTTPException:
        raise
    # NOTE: servers raise their own errors on a broken body, and not only
    # OSError: gunicorn's InvalidChunkSize is a plain Exception.
    except Exception as exc:
        raise HTTPBadRequest(f"Request body could not be read: {type(exc).__name__}") from None


class _ServerInput:
    """``wsgi.input`` for the multipart parser: a broken body is a 400."""

    __slots__ = ("_stream",)

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return _read(self._stream, size)


# NOTE: chunks are gathered in a BytesIO, whose getvalue() hands over its
# buffer: a list of chunks joined at the end held the body twice (20 MB peak
# for a 10 MiB body).
def _read_exact(stream: IO[bytes], length: int) -> bytes:
    out, left = io.BytesIO(), length
    while left > 0:
        chunk = _read(stream, min(left, _CHUNK))
        if not chunk:
            break
        out.write(chunk)
        left -= len(chunk)
    return out.getvalue()


def _read_unsized(stream: LimitedInput) -> bytes:
    out = io.BytesIO()
    while True:
        chunk = _read(stream, _CHUNK)
        if not chunk:
            return out.getvalue()
        out.write(chunk)


def parse_qs_strict(text: str, what: str = "query string",
                    limit: int = MAX_FORM_PARTS) -> MultiDict[str, str]:
    """Parse ``a=1&b=2`` into a ``MultiDict``; 400 on bad escapes or UTF-8,
    413 past ``limit`` fields (empty ones count)."""
    result: MultiDict[str, str] = MultiDict()
    if not text:
        return result
    # NOTE: separators are counted before anything is split, empty fields
    # included (as urllib.parse.parse_qsl's max_num_fields does): splitting
    # 10 MiB of '&' first made a list of ten million strings (100 MB).
    if text.count("&") + text.count(";") >= limit:
        raise HTTPRequestEntityTooLarge(f"More than {limit} fields in the {what}")
    if BAD_PERCENT.search(text):
        raise HTTPBadRequest(f"Invalid percent-encoding in the {what}")
    for pair in text.replace(";", "&").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        try:
            result.add(_unescape(name), _unescape(value))
        except UnicodeDecodeError:
            raise HTTPBadRequest(f"The {what} is not valid UTF-8") from None
    return result


def _unescape(text: str) -> str:
    """One name or value: ``+`` is a space, escapes are bytes, all of it UTF-8.

    :raises UnicodeDecodeError: if the bytes are not UTF-8
    """
    # NOTE: a server's environ holds each raw byte as one latin-1 character
    # (PEP 3333): 'é' sent unescaped arrives as 'Ã©'. unquote_to_bytes would
    # encode that text as UTF-8 again; its latin-1 bytes are what was sent.
    try:
        raw = text.replace("+", " ").encode("latin-1")
    except UnicodeEncodeError:  # past U+00FF: not from a server, already text
        raw = text.replace("+", " ").encode("utf-8", "surrogatepass")
    return unquote_to_bytes(raw).decode("utf-8")


def check_charset(params: Mapping[str, str], what: str) -> None:
    """415 unless the declared charset (if any) is UTF-8."""
    charset = params.get("charset")
    if charset is not None and charset.strip('"').lower() not in _UTF8:
        raise HTTPUnsupportedMediaType(f"{what} must be UTF-8, not {charset[:40]!r}")


def _check_shape(data: bytes, max_depth: int, max_values: int) -> None:
    """400 if the JSON in ``data`` has more than ``max_values`` values or is
    nested deeper than ``max_depth``, found without decoding it.

    Values are counted as the commas and opening brackets outside strings,
    plus one: at least the number of values, at most twice it.
    """
    # PERF: C-speed passes over the bytes (replace, count, re.sub, translate):
    # a Python loop over 10 MiB takes a quarter of a second.
    # NOTE: a backslash can only stand in a string; pairs are cut first, so
    # each ``\\"`` left is an escaped quote inside a string.
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # NOTE: a string is a key or a value: at most two per value. Bounding them
    # first bounds the pieces re.sub collects.
    if plain.count(b'"') > 4 * max_values:
        raise _too_many_values(max_values)
    outside = _JSON_STRING.sub(b"", plain)
    del plain
    commas = outside.count(b",")
    brackets = outside.translate(_BRACKETS, _NOT_BRACKETS)
    del outside
    if b"[" * (max_depth + 1) in brackets:  # NOTE: the common deep body, named as such
        raise _too_deep(max_depth)
    opens = brackets.count(b"[")
    if opens + commas >= max_values:
        raise _too_many_values(max_values)
    _check_depth(brackets, len(brackets) - opens - opens, max_depth)


def _check_depth(brackets: bytes, excess_closes: int, max_depth: int) -> None:
    """400 if ``brackets`` (only ``[`` and ``]``) nest deeper than ``max_depth``."""
    if excess_closes > 0:  # NOTE: never in JSON; json.loads says where it breaks
        return
    if -excess_closes > max_depth:  # NOTE: this many are still open at the end
        raise _too_deep(max_depth)
    # PERF: each pass cuts the innermost pairs, one level, in C; at most
    # max_depth passes over at most 2 * max_values bytes.
    for _ in range(max_depth):
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            return
        brackets = shorter
    if b"[]" in brackets:
        raise _too_deep(max_depth)


def _too_many_values(limit: int) -> HTTPBadRequest:
    return HTTPBadRequest(f"JSON body has more than {limit} values (commas and brackets)")


def _too_deep(limit: int) -> HTTPBadRequest:
    return HTTPBadRequest(f"JSON body is nested deeper than {limit} levels")


#: a JSON string once escaped quotes are cut: linear, it cannot backtrack
_JSON_STRING = re.compile(rb'"[^"]*"')
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def _refuse_constant(name: str) -> Any:
    raise HTTPBadRequest(f"JSON body contains {name}, which JSON does not allow (RFC 8259)")


def _finite_float(text: str) -> float:
    value = float(text)
    # NOTE: 1e999 would become inf, which JSON cannot say: refused, not kept.
    if value in (_INF, -_INF):
        raise HTTPBadRequest(f"JSON number {text[:40]} is out of range for a float")
    return value


_INF = float("inf")
# PERF: built once; json.loads builds a decoder per call when given a hook.
_JSON = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def parse_json(data: bytes, max_depth: int = MAX_JSON_DEPTH, max_values: int = MAX_JSON_VALUES) -> Any:
    """Decode a JSON body; 400 with a message saying what is wrong.

    Nesting deeper than ``max_depth`` or more than ``max_values`` values
    (see :func:`_check_shape`) is refused before anything is decoded: a
    10 MiB ``[[],[],...]`` would otherwise become 270 MB of lists.
    """
    if not data.strip():
        raise HTTPBadRequest("Request body is empty; a JSON document was expected")
    # PERF: the exact scan only runs when the brackets and commas, strings
    # included, could break a limit: never for a small everyday body.
    opens = data.count(b"[") + data.count(b"{")
    if opens > max_depth or opens + data.count(b",") >= max_values:
        _check_shape(data, max_depth, max_values)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPBadRequest(f"JSON body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return _JSON.decode(text)
    except json.JSONDecodeError as exc:
        raise HTTPBadRequest(f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # int longer than sys.get_int_max_str_digits()
        raise HTTPBadRequest(f"JSON number too long: {str(exc)[:80]}") from None
    except RecursionError:
        raise HTTPBadRequest("JSON body is nested too deeply") from None


class UploadedFile:
    """A file field of a multipart form.

    ``filename`` is reduced to a base name with no directory part, so it can
    never name a path; ``raw_filename`` keeps what the client sent.
    """

    __slots__ = ("name", "filename", "raw_filename", "type", "file", "size", "headers")

    def __init__(self, part: multipart.MultipartPart) -> None:
        self.name = part.name
        self.raw_filename = part.filename or ""
        self.filename = safe_filename(self.raw_filename)
        self.type = part.content_type
        self.file = part.file
        self.size = part.size
        self.headers = part.headerlist
        if self.file is not None:
            self.file.seek(0)

    @property
    def value(self) -> bytes:
        """The whole content (read it from ``file`` for large uploads)."""
        assert self.file is not None
        pos = self.file.tell()
        self.file.seek(0)
        try:
            data: bytes = self.file.read()
        finally:
            self.file.seek(pos)
        return data

    def __repr__(self) -> str:
        return f"<UploadedFile {self.name}={self.filename!r} {self.size} bytes>"


def safe_filename(name: str) -> str:
    """The last path component of ``name`` with control characters and dots-only removed."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c >= " " and c != "\x7f").strip()
    return "" if base in ("", ".", "..") else base


def parse_multipart(
    stream: IO[bytes] | bytes,
    params: Mapping[str, str],
    *,
    length: int | None,
    max_size: int,
    part_limit: int = MAX_FORM_PARTS,
    field_limit: int = 1024 * 1024,
) -> MultiDict[str, str | UploadedFile]:
    """Parse ``multipart/form-data`` with the streaming ``multipart`` parser.

    Text fields become ``str`` values, file fields :class:`UploadedFile`.
    400 for a missing boundary or a malformed, truncated body; 413 past a limit.
    """
    boundary = params.get("boundary", "").strip('"')
    if not boundary or len(boundary) > 200:
        raise HTTPBadRequest("multipart/form-data without a valid boundary")
    check_charset(params, "multipart/form-data")
    source = io.BytesIO(stream) if isinstance(stream, bytes) else _ServerInput(stream)
    parser = multipart.MultipartParser(
        source, boundary, -1 if length is None else length, strict=True,
        part_limit=part_limit, memory_limit=max(field_limit * 2, 1024 * 1024),
        spool_limit=64 * 1024, disk_limit=max_size, partsize_limit=max_size,
    )
    result: MultiDict[str, str | UploadedFile] = MultiDict()
    try:
        for part in parser:
            if part.filename is not None:
                result.add(part.name, UploadedFile(part))
                continue
            if part.size > field_limit:
                raise HTTPRequestEntityTooLarge(f"Form field {part.name!r} exceeds {field_limit} bytes")
            try:
                result.add(part.name, part.raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise HTTPBadRequest(f"Form field {part.name!r} is not valid UTF-8") from None
    except multipart.ParserLimitReached as exc:
        # NOTE: the parser's message names no number; the limits are ours.
        raise HTTPRequestEntityTooLarge(
            f"Multipart limit reached: {_reason(exc)} (at most {part_limit} parts, "
            f"{field_limit} bytes per text field, {max_size} bytes in all)") from None
    except multipart.MultipartError as exc:
        raise HTTPBadRequest(f"Malformed multipart body: {_reason(exc)}") from None
    return result


def _reason(exc: Exception) -> str:
    """The parser's own message, without the repr of a chained exception."""
    # NOTE: multipart raises ParserError("...", UnicodeDecodeError(...)): its
    # str() is a tuple repr naming internals.
    first = exc.args[0] if exc.args else ""
    return first if isinstance(first, str) and first else type(exc).__name__
