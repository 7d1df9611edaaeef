"""The application of the memory runs, and its waitress entry point.

An ``App`` behind the production middleware stack (access log to a null
sink), with a body limit raised to :data:`MAX_BODY`:

- ``GET /ping``: ``ok``;
- ``GET /stream?size=N``: ``N`` bytes streamed in 64 KiB chunks;
- ``POST /upload/raw``: reads ``request.body_file`` in 64 KiB chunks, answers
  ``{"bytes": n}``;
- ``POST /upload/multipart``: ``request.POST["file"]``, answers
  ``{"size": n, "filename": name}``.

``make_raw_app()`` is a hand-written WSGI app with the same ``/ping`` and
``/stream``: the reference that shows what waitress itself holds. Served by
``webkit_app.server`` (waitress) on loopback, one process per measurement::

    python -m bench.memapp 8123          # the App
    python -m bench.memapp 8123 raw      # the reference
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

from .subjects import access_sink, production_config

CHUNK = 64 * 1024
MAX_BODY = 300 * 1024 * 1024


def make_app() -> Callable:
    """The production-stacked ``App`` described above."""
    from webkit_app import App, json_response, stream, text_response
    from webkit_app.factory import wrap

    block = b"\x5a" * CHUNK
    app = App(max_body_size=MAX_BODY)

    @app.route("/ping")
    def ping(request):
        return text_response("ok")

    @app.route("/stream")
    def big(request):
        size = int(request.GET["size"])

        def chunks() -> Iterator[bytes]:
            left = size
            while left > 0:
                yield block if left >= CHUNK else block[:left]
                left -= CHUNK

        return stream(chunks(), content_type="application/octet-stream",
                      headers={"Content-Length": str(size)})

    @app.route("/upload/raw", methods=["POST"])
    def upload_raw(request):
        body, total = request.body_file, 0
        while True:
            data = body.read(CHUNK)
            if not data:
                break
            total += len(data)
        return json_response({"bytes": total})

    @app.route("/upload/multipart", methods=["POST"])
    def upload_multipart(request):
        upload = request.POST["file"]
        return json_response({"size": upload.size, "filename": upload.filename})

    access_sink()
    return wrap(app, production_config(max_body_size=MAX_BODY))


def make_raw_app() -> Callable:
    """A plain WSGI app streaming ``/stream?size=N`` (and answering ``/ping``)."""
    block = b"\x5a" * CHUNK

    def app(environ, start_response):
        if environ["PATH_INFO"] != "/stream":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        size = int(environ["QUERY_STRING"].partition("size=")[2])
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(size))])
        return (block if left >= CHUNK else block[:left] for left in range(size, 0, -CHUNK))

    return app


def main(argv: list[str]) -> None:
    # NOTE: the server webkit-app serve and the deploy inis run (waitress with
    # strict framing and a 4 MiB output high-water mark), for both apps.
    from webkit_app.server import serve

    app = make_raw_app() if argv[1:] == ["raw"] else make_app()
    serve(app, host="127.0.0.1", port=int(argv[0]), threads=2,
          max_request_body_size=MAX_BODY, _quiet=True)


if __name__ == "__main__":
    main(sys.argv[1:])
