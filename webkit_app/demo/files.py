"""``/download/{name:path}``: files from one folder, served by ``webob.static.FileApp``.

``FileApp`` brings Range, Last-Modified, If-Modified-Since and
``wsgi.file_wrapper``; this module adds what it lacks (an ``ETag``, so
If-None-Match works, a default Content-Type, ``nosniff``) and refuses every
name that would leave the folder::

    files = Downloads("/srv/files")
    app.add_route("GET", "/download/{name:path}", files.download, name="download")

``..`` (also sent as ``%2e%2e``), absolute names, NUL bytes, dot-files,
directories and symlinks resolving outside the folder all answer 404, the
same answer as a file that does not exist, so nothing is learnt by probing.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from urllib.parse import quote

from webob.exc import HTTPNotFound
from webob.static import FileApp

from webkit_app import Request, Response

__all__ = ["Downloads", "resolve"]

_FALLBACK_TYPE = "application/octet-stream"


def resolve(root: str, name: str) -> str | None:
    """Return the real path of ``name`` inside ``root``, or ``None`` if it leaves it.

    ``root`` must already be a real path. Every segment must be a plain
    name (no ``..``, ``.``, empty or hidden segments); symlinks are resolved
    and the result must still lie under ``root``.
    """
    if not name or "\x00" in name or "\\" in name:
        return None
    parts = name.split("/")
    if any(not part or part.startswith(".") for part in parts):
        return None
    # NOTE: the segment check already rules out "..", but the realpath check
    # below is what stops symlinks, so both stay.
    path = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath((root, path)) != root or path == root:
        return None
    return path


def _etag(st: os.stat_result) -> str:
    """A validator that changes when the file is rewritten, renamed over or resized."""
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def _disposition(path: str) -> str:
    """``attachment`` with an RFC 6266 ``filename*`` (any Unicode name, header-safe)."""
    return "attachment; filename*=UTF-8''" + quote(os.path.basename(path), safe="")


class Downloads:
    """Serves the regular files under ``root`` (resolved once, at start-up)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def download(self, request: Request) -> Response:
        """``GET``/``HEAD /download/{name:path}``: the file, or 404."""
        name = request.urlvars["name"]
        path = resolve(self.root, name)
        try:
            st = os.stat(path) if path is not None else None
        except OSError:
            st = None
        if path is None or st is None or not stat.S_ISREG(st.st_mode):
            raise HTTPNotFound(f"No file named {name[:200]!r}")
        content_type, encoding = mimetypes.guess_type(path)
        if encoding or not content_type:
            # NOTE: a download is the stored bytes: no Content-Encoding that a
            # browser would undo (archive.tar.gz must stay gzipped).
            content_type = _FALLBACK_TYPE
        # NOTE: FileApp sets no ETag ("#@@ etag" in webob/static.py); given one,
        # WebOb's conditional_response_app answers If-None-Match with 304.
        app = FileApp(path, etag=_etag(st), content_type=content_type, content_encoding=None)
        resp = request.get_response(app)
        if resp.status_int < 300:
            resp.headers["X-Content-Type-Options"] = "nosniff"
            resp.headers["Content-Disposition"] = _disposition(path)
        return resp
