"""Bar charts of ``bench/results.json``, drawn as SVG when the docs are built.

``make bench`` (``python -m bench``) writes the JSON; this extension reads it
at ``builder-inited`` and writes ``docs/_generated/bench-*.svg``, which
``docs/benchmark.rst`` shows with ``.. image::``. Hand-written SVG: no
plotting library, and the same numbers always give the same file.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results.json"
#: subjects drawn in the in-process charts, in this order (raw WSGI is a
#: floor no framework reaches, and would flatten every other bar)
IN_PROCESS_SUBJECTS = ("webkit_app App", "Falcon", "Bottle", "WebOb", "Pyramid", "Flask",
                       "webkit_app + stack")
OURS = ("webkit_app App", "webkit_app + stack")
BAR, GAP, LABEL_W, PLOT_W, TITLE_H = 18, 6, 150, 260, 26
FONT = "font-family='sans-serif' font-size='12'"


def bars(title: str, rows: list[tuple[str, float, float]], unit: str = "x") -> tuple[int, str]:
    """One horizontal bar chart: ``rows`` of ``(label, value, rps)``; its height and SVG body."""
    top = max(v for _, v, _ in rows) or 1.0
    parts = [f"<text x='0' y='16' {FONT} font-weight='bold'>{escape(title)}</text>"]
    for i, (label, value, rps) in enumerate(rows):
        y = TITLE_H + i * (BAR + GAP)
        width = max(1.0, PLOT_W * value / top)
        colour = "#2a6fdb" if label in OURS else "#9aa5b1"
        parts += [
            f"<text x='{LABEL_W - 6}' y='{y + 13}' text-anchor='end' {FONT}>{escape(label)}</text>",
            f"<rect x='{LABEL_W}' y='{y}' width='{width:.1f}' height='{BAR}' fill='{colour}'>"
            f"<title>{escape(label)}: {rps:,.0f} req/s</title></rect>",
            f"<text x='{LABEL_W + width + 4:.1f}' y='{y + 13}' {FONT}>{value:.2f}{unit}</text>",
        ]
    return TITLE_H + len(rows) * (BAR + GAP), "\n".join(parts)


def svg(charts: list[tuple[int, str]], columns: int) -> str:
    """Lay ``charts`` out in a grid of ``columns``; the whole SVG document."""
    cell_w = LABEL_W + PLOT_W + 60
    row_h = max(h for h, _ in charts) + 14
    rows = (len(charts) + columns - 1) // columns
    body = [f"<g transform='translate({(i % columns) * cell_w},{(i // columns) * row_h})'>{b}</g>"
            for i, (_, b) in enumerate(charts)]
    w, h = columns * cell_w, rows * row_h
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' "
            f"viewBox='0 0 {w} {h}' role='img'>\n<rect width='100%' height='100%' fill='white'/>\n"
            + "\n".join(body) + "\n</svg>\n")


def in_process_svg(data: dict[str, Any]) -> str:
    """A chart per workload: req/s as a ratio to bare WebOb, higher is faster."""
    section = data["in_process"]
    charts = []
    for workload in section["workloads"]:
        rows = [(s, section["subjects"][s][workload]["ratio"], section["subjects"][s][workload]["rps"])
                for s in IN_PROCESS_SUBJECTS if s in section["subjects"]]
        charts.append(bars(f"{workload} (x bare WebOb)", rows))
    return svg(charts, columns=2)


def gunicorn_svg(data: dict[str, Any]) -> str:
    """Throughput under gunicorn and wrk as a ratio to a raw WSGI function."""
    subjects = data["gunicorn"]["subjects"]
    rows = [(s, v["ratio"], v["rps"]) for s, v in subjects.items()]
    return svg([bars("gunicorn, /hello (x raw WSGI)", rows)], columns=1)


def write_charts(outdir: Path, results: Path = RESULTS) -> list[Path]:
    """Write the charts of ``results`` into ``outdir``; the files written."""
    data = json.loads(results.read_text(encoding="utf-8"))
    outdir.mkdir(parents=True, exist_ok=True)
    charts = {"bench-in-process.svg": in_process_svg(data)}
    if "gunicorn" in data:
        charts["bench-gunicorn.svg"] = gunicorn_svg(data)
    written = []
    for name, text in charts.items():
        path = outdir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _on_builder_inited(app: Any) -> None:
    write_charts(Path(app.srcdir) / "_generated")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
