"""Routing scale: the last of 10,000 dynamic routes costs what the last of 10 does.

Two route shapes, each registered 10 and 10,000 times on an ``App``:
``/r{i}/{x}`` (a literal, then a placeholder) and ``/{x}/r{i}`` (a
placeholder, then a literal). For each, the lookup of the last route
(``app.router.match``) and a whole request through the ``App`` are timed,
best of several repeats, the two sizes interleaved. Exit status 1 when a
lookup ratio is over :data:`LIMIT`::

    python -m bench.routing_scale
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from io import BytesIO
from typing import Any

from .harness import Workload, environ_for

SIZES = (10, 10_000)
LIMIT = 1.5
#: name -> (pattern template, path of route ``i``)
SHAPES: dict[str, tuple[str, Callable[[int], str]]] = {
    "/r{i}/{x}": ("/r{i}/{{x}}", lambda i: f"/r{i}/abc"),
    "/{x}/r{i}": ("/{{x}}/r{i}", lambda i: f"/abc/r{i}"),
}


def build(shape: str, n: int) -> Any:
    """An ``App`` with ``n`` routes of ``shape``."""
    from webkit_app import App, text_response

    def view(request):
        return text_response(request.urlvars["x"])

    app = App()
    template = SHAPES[shape][0]
    for i in range(n):
        app.add_route("GET", template.format(i=i), view)
    return app


def _loops(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds``."""
    number, taken = timeit.Timer(fn).autorange()
    return max(1, int(number * seconds / taken))


def _request(app: Any, path: str) -> Callable[[], object]:
    template = environ_for(Workload("scale", "GET", path, 200, "text"))

    def start_response(status, headers, exc_info=None):
        return None

    def one() -> None:
        env = template.copy()
        env["wsgi.input"] = BytesIO(b"")
        body = app(env, start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    return one


def measure(repeats: int = 7, seconds: float = 0.1) -> list[dict[str, Any]]:
    """One row per shape and kind (``lookup``, ``request``): seconds per call and ratio."""
    rows = []
    for shape, (_, path_of) in SHAPES.items():
        apps = {n: build(shape, n) for n in SIZES}
        paths = {n: path_of(n - 1) for n in SIZES}
        for n in SIZES:
            if apps[n].router.match(paths[n]) is None:
                raise AssertionError(f"{paths[n]} does not match with {n} routes of {shape}")
        kinds: dict[str, Callable[[Any, str], Callable[[], object]]] = {
            "lookup": lambda app, path: (lambda: app.router.match(path)),
            "request": _request,
        }
        for kind, make in kinds.items():
            calls = {n: make(apps[n], paths[n]) for n in SIZES}
            loops = _loops(calls[SIZES[0]], seconds)
            best = {n: float("inf") for n in SIZES}
            for _ in range(repeats):  # NOTE: interleaved, so drift hits both sizes
                for n in SIZES:
                    best[n] = min(best[n], timeit.timeit(calls[n], number=loops) / loops)
            small, large = best[SIZES[0]], best[SIZES[-1]]
            rows.append({"shape": shape, "kind": kind, "small": small, "large": large,
                         "ratio": large / small})
    return rows


def format_rows(rows: list[dict[str, Any]]) -> list[str]:
    """Plain-text lines, one per row."""
    out = [f"{'shape':12} {'kind':8} {'last of 10':>12} {'last of 10,000':>15} {'ratio':>6}"]
    for r in rows:
        out.append(f"{r['shape']:12} {r['kind']:8} {r['small'] * 1e9:10.0f}ns "
                   f"{r['large'] * 1e9:13.0f}ns {r['ratio']:6.2f}")
    return out


def worst(rows: list[dict[str, Any]]) -> float:
    """The largest lookup ratio (the figure held to :data:`LIMIT`)."""
    return max(r["ratio"] for r in rows if r["kind"] == "lookup")


def main() -> int:
    rows = measure()
    print("\n".join(format_rows(rows)))
    ratio = worst(rows)
    verdict = "ok" if ratio <= LIMIT else "OVER"
    print(f"worst lookup ratio {ratio:.2f} (limit {LIMIT}): {verdict}")
    return 0 if ratio <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
