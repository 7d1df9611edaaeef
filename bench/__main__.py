"""``python -m bench``: run everything, print the table, write ``bench/results.md``.

Also writes ``bench/results.json`` (the ratios the docs draw as charts) and
the tables of ``docs/benchmark.rst``::

    python -m bench                      # full run; also updates docs/benchmark.rst
    python -m bench --quick              # smoke run: one short round, no servers
    python -m bench --profile stack:hello  # cProfile one subject on one workload
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import platform
import pstats
import re
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from . import baseline, db, routing_scale, server
from .harness import WORKLOADS, BenchError, check, run, run_rounds
from .subjects import SUBJECTS, build, one_access_handle, one_access_record
from .subjects import build_layers as layers_subject

HERE = Path(__file__).resolve().parent
#: the docs page whose ``.. BEGIN benchmark`` region holds the latest tables
README = HERE.parent / "docs" / "benchmark.rst"
RESULTS = HERE / "results.md"
#: the ratios ``docs/_ext/benchcharts.py`` draws
RESULTS_JSON = HERE / "results.json"
IN_PROCESS = "in-process (req/s, ratio to bare WebOb)"
_CELL = re.compile(r"([0-9][0-9,]*) \(([0-9.]+)x\)").fullmatch
PACKAGES = ("webkit_app", "WebOb", "falcon", "Flask", "bottle", "pyramid", "orjson",
            "gunicorn", "waitress", "multipart")
RSS_LIMIT_MB = 60.0
PEERS_EVERYWHERE = ("flask", "bottle", "pyramid")
FALCON_WORKLOADS = ("deep", "notfound", "json")
NOTES = (
    "In-process: each WSGI app called directly, a fresh environ per request, the body "
    "iterated and closed; subjects round-robin, best round kept. Ratios are to bare WebOb.",
    "raw WSGI and webkit_app encode JSON with orjson (installed); the others use their "
    "default (the json module).",
    "Routes are registered in the same order everywhere: /hello, /users/{id}, /search, "
    "/echo, then the 1000 /r{i}/{x}. WebOb (a regex list) and Pyramid (a route list) scan "
    "linearly, so their deep and notfound pay for the 1000 routes. Until 2026-12-02 /search "
    "and /echo came after the 1000 routes: Falcon's compiled router tests literal first "
    "segments in registration order, so its query (and json) workload paid for 1000 string "
    "comparisons that have nothing to do with query strings (Falcon 39k req/s on query, "
    "against 97k on param): unfair to Falcon, which is why an independent harness with a "
    "few routes saw App at 0.77x Falcon while this table showed App far ahead. Both query "
    "subjects read the same two parameters (Falcon req.get_param(..., required=True), "
    "App request.GET[...]).",
    "App, Response(...) is the same App with handlers that build the toolkit's Response "
    "as WebOb users write it: Response(text, content_type='text/plain'), "
    "Response(json_body=...).",
    "webkit_app + stack is the toolkit's webkit_app.factory.wrap(App, AppSettings(debug=False, "
    "secret_key=...)): request_id, access_log (at INFO, each line formatted by LogFormatter "
    "and appended by the stdlib FileHandler, a flush per line, to a file in the temporary "
    "directory, as a process manager or logrotate setup writes them; gunicorn's workers "
    "append to the same file), errors; the same in process, under gunicorn, in the layer "
    "table and behind waitress. Until 2026-12-02 the bench used the demo's wrap, which also "
    "adds cross_origin and session middleware (and basic_auth when configured): not the "
    "stack the targets name.",
    "gunicorn: 2 sync workers per app (no keep-alive, so one connection per request) on "
    "loopback, on the same 2 cores as wrk -t2 -c16. The three servers run side by side and "
    "wrk loads them in turn, 1 s each, 3 runs of ten turns (10 s per app each run), the "
    "order turned each time: this machine's speed drifts over seconds (the slowest and "
    "fastest turn of one app differ up to 2x), and turns put every app through the same "
    "drift; a 10 s run alone still moves the ratio by about 0.1. Worker CPU per "
    "request is the 2 workers' user and system time during their turns (/proc/<pid>/stat) "
    "over the requests wrk counted: what the app costs the server.",
    "Worker profile: py-spy samples one of the 2 workers at 1000 Hz for 5 s under the same "
    "load, without pausing it (--nonblocking; a sample caught mid-update is dropped), idle "
    "time left out. A sample is the application's when a frame is in webkit_app, webob or "
    "the subject's module. With the server's time per request the same for each app, an "
    "application share s predicts (1 - s) / (1 - s_raw) of raw WSGI's rate.",
    "Where the stack's time goes: App alone, App with each layer of the stack alone, and "
    "the stack, on hello, round-robin as above; 'not written' sets the access logger to "
    "WARNING, so the middleware measures and counts but formats nothing. 'One access "
    "record alone' calls the access log's record-writing method (fields, LogRecord, "
    "LogFormatter, FileHandler to that file) in a loop, without a request.",
    "App alone against 7495e0f (the 2026-12-01 run, measured then on another CPU): "
    "bench/baseline.py checks that commit out into a temporary git worktree (removed "
    "afterwards) and runs today's subject and harness on its toolkit and on today's, in two "
    "child processes asked in turn, workload by workload, the order swapped each round, "
    "best round kept; for a workload more than 5% slower today, both are profiled "
    "(cProfile, 5,000 requests) and the functions whose own time per request grew most "
    "are named in the findings (a renamed or split function shows as new).",
    "Profile of the stack: cProfile of 20,000 hello requests; a C function's time goes to "
    "the area of its callers. cProfile adds a cost per Python call, so areas made of many "
    "small calls look larger than they run; the shares, not the times, are the point.",
    "Peak RSS is VmHWM of a fresh webkit_app.server process (waitress with its 4 MiB output "
    "high-water mark; App + production stack, 2 threads), "
    "one process per transfer, the worst of 2 kept; the client streams uploads from a "
    "generator and reads downloads in 64 KiB chunks, discarding them. 1 MB = 10^6 bytes.",
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {cpu}, {os.cpu_count()} cores",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(versions),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def build_all(names: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Build and check every subject; those not installed are listed apart."""
    apps, missing = {}, {}
    for name in names:
        try:
            app = build(name)
        except ImportError as exc:
            missing[name] = f"not installed ({exc.name})"
            continue
        for w in WORKLOADS:
            check(app, w)
        apps[name] = app
    return apps, missing


# -- the figures --------------------------------------------------------------

def ratio(best: dict, a: str, b: str, workload: str) -> float | None:
    if (a, workload) not in best or (b, workload) not in best:
        return None
    return best[a, workload] / best[b, workload]


def predicted_ratio(profile: dict, name: str) -> float:
    """The throughput ratio to raw a worker profile implies.

    With the server's own time per request the same for every app, an app
    taking the share ``s`` of the worker's time runs at ``(1 - s) / (1 - s_raw)``
    of raw WSGI's rate.
    """
    return (1 - profile[name]["app_share"]) / (1 - profile["raw"]["app_share"])


def table_rows(best: dict, names: list[str]) -> list[list[str]]:
    rows = [["subject", *(w.name for w in WORKLOADS)]]
    for name in names:
        cells = [SUBJECTS[name][0]]
        for w in WORKLOADS:
            r = ratio(best, name, "webob", w.name)
            rps = f"{best[name, w.name]:,.0f}"
            cells.append(rps if r is None else f"{rps} ({r:.2f}x)")
        rows.append(cells)
    return rows


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "MISSED")


def _min_ratio(best: dict, a: str, b: str, workloads: Any) -> tuple[float | None, str]:
    pairs = [(ratio(best, a, b, w), w) for w in workloads]
    pairs = [(r, w) for r, w in pairs if r is not None]
    return min(pairs) if pairs else (None, "")


def targets(best: dict, gun: dict | None, mem: dict | None, scale: list | None,
            prof: dict | None = None, costs: dict | None = None,
            base: dict | None = None) -> list[tuple]:
    """``(target, verdict, measured)`` for each target of issue 7."""
    names = [w.name for w in WORKLOADS]
    out = []
    r, w = _min_ratio(best, "webkit_app", "webob", names)
    each = ", ".join(f"{n} {ratio(best, 'webkit_app', 'webob', n):.2f}x" for n in names
                     if ratio(best, "webkit_app", "webob", n) is not None)
    out.append(("App alone >= 0.9x bare WebOb on every workload",
                None if r is None else r >= 0.9, f"lowest {r or 0:.2f}x ({w}); {each}"))
    deep = best.get(("webkit_app", "deep")), best.get(("webkit_app", "param"))
    d = deep[0] / deep[1] if all(deep) else None
    out.append(("App deep >= 0.9x App param", None if d is None else d >= 0.9,
                f"{d or 0:.2f}x ({deep[0] or 0:,.0f} vs {deep[1] or 0:,.0f} req/s)"))
    for peer, workloads in [*((p, names) for p in PEERS_EVERYWHERE), ("falcon", FALCON_WORKLOADS)]:
        r, w = _min_ratio(best, "webkit_app", peer, workloads)
        each = ", ".join(f"{n} {ratio(best, 'webkit_app', peer, n):.2f}x" for n in workloads
                         if ratio(best, "webkit_app", peer, n) is not None)
        label = SUBJECTS[peer][0]
        scope = "every workload" if workloads is names else ", ".join(workloads)
        out.append((f"App ahead of {label} on {scope}", None if r is None else r > 1.0,
                    f"lowest {r or 0:.2f}x ({w}); {each}"))
    app, full = best.get(("webkit_app", "hello")), best.get(("stack", "hello"))
    cost = app / full - 1 if app and full else None
    measured = f"+{(cost or 0) * 100:.0f}% ({full or 0:,.0f} vs {app or 0:,.0f} req/s)"
    if costs:
        app_us = 1e6 / costs["rps"]["app"]
        measured += (f"; App {app_us:.1f} us per request, one access record alone "
                     f"{costs['record_s'] * 1e6:.1f} us (see where the stack's time goes)")
    out.append(("production stack costs <= 25% over App alone on hello",
                None if cost is None else cost <= 0.25, measured))
    g = gun["webkit_app"]["rps"] / gun["raw"]["rps"] if gun else None
    measured = (f"{g:.2f}x ({gun['webkit_app']['rps']:,.0f} vs {gun['raw']['rps']:,.0f} req/s)"
                if gun else "skipped")
    if gun and gun["raw"].get("runs"):
        measured += "; each 10 s run " + ", ".join(
            f"{a / r:.2f}x" for a, r in zip(gun["webkit_app"]["runs"], gun["raw"]["runs"],
                                            strict=True))
    if gun:
        measured += (f"; worker CPU per request {gun['webkit_app']['cpu_us']:.0f} vs "
                     f"{gun['raw']['cpu_us']:.0f} us, "
                     f"{gun['raw']['cpu_us'] / gun['webkit_app']['cpu_us']:.2f}x")
    if prof:
        measured += (f"; the worker profile predicts {predicted_ratio(prof, 'webkit_app'):.2f}x "
                     f"(App {prof['webkit_app']['app_share'] * 100:.1f}% of the worker's "
                     f"samples, raw {prof['raw']['app_share'] * 100:.1f}%)")
    out.append(("under gunicorn >= 0.9x raw WSGI", None if g is None else g >= 0.9, measured))
    out += round_two(best, gun, base)
    for kind, (what, _) in server.MEMORY_RUNS.items():
        if kind.endswith("-ref"):
            continue
        mb = mem[kind]["peak_kib"] * 1024 / 1e6 if mem else None
        out.append((f"peak RSS < {RSS_LIMIT_MB:.0f} MB {what}",
                    None if mb is None else mb < RSS_LIMIT_MB,
                    f"{mb:.1f} MB" if mb is not None else "skipped"))
    s = routing_scale.worst(scale) if scale else None
    out.append((f"routing scale: last of 10,000 within {routing_scale.LIMIT}x of last of 10",
                None if s is None else s <= routing_scale.LIMIT, f"{s or 0:.2f}x"))
    return [(t, _verdict(ok), m) for t, ok, m in out]


def round_two(best: dict, gun: dict | None, base: dict | None = None) -> list[tuple]:
    """``(target, ok, measured)`` for the targets of performance round 2."""
    out = []
    r, w = _min_ratio(best, "webkit_response", "webkit_app", ("hello", "param"))
    each = ", ".join(f"{n} {ratio(best, 'webkit_response', 'webkit_app', n) or 0:.2f}x"
                     for n in ("hello", "param", "query", "json"))
    out.append(("App, Response(...) >= 0.9x App with the helpers on hello and param",
                None if r is None else r >= 0.9, f"lowest {r or 0:.2f}x ({w}); {each}"))
    q = ratio(best, "webkit_app", "falcon", "query")
    out.append(("App ahead of Falcon on query (request.GET[...], both read two params)",
                None if q is None else q > 1.0, f"{q or 0:.2f}x"))
    app, full = best.get(("webkit_app", "hello")), best.get(("stack", "hello"))
    x = app / full if app and full else None
    out.append(("production stack in process <= 4x App alone's time on hello",
                None if x is None else x <= 4.0,
                f"{x or 0:.2f}x ({full or 0:,.0f} vs {app or 0:,.0f} req/s)"))
    g = gun["stack"]["rps"] / gun["raw"]["rps"] if gun else None
    out.append(("production stack under gunicorn >= 0.8x raw WSGI",
                None if g is None else g >= 0.8,
                f"{g:.2f}x ({gun['stack']['rps']:,.0f} vs {gun['raw']['rps']:,.0f} req/s)"
                if gun else "skipped"))
    rel = baseline.ratios(base) if base else {}
    low = min(rel, key=rel.__getitem__) if rel else ""
    out.append((f"App alone within 5% of 2026-12-01 ({baseline.BASE}, run on this machine "
                "beside today's)", None if not rel else min(rel.values()) >= 0.95,
                f"lowest {rel[low]:.2f}x of then ({low}); " + ", ".join(
                    f"{n} {v:.2f}x" for n, v in rel.items()) if rel else "not run"))
    return out


def layer_costs(rounds: int, seconds: float) -> dict[str, Any]:
    """Where the stack's time goes on ``hello``: each layer alone, then all of them.

    The variants run round-robin as the subjects do (best round kept); one
    access record written without a request is timed the same way.
    """
    variants = layers_subject()
    hello = WORKLOADS[0]
    for _, app in variants.values():
        check(app, hello)
    best = run_rounds({k: app for k, (_, app) in variants.items()}, [hello], rounds, seconds)
    emit, handle = one_access_record(), one_access_handle()
    record = handled = float("inf")
    for _ in range(rounds):  # NOTE: in turns, so drift falls on both alike
        record = min(record, _per_call(emit, seconds))
        handled = min(handled, _per_call(handle, seconds))
    return {"rps": {k: best[k, hello.name] for k in variants},
            "labels": {k: label for k, (label, _) in variants.items()}, "record_s": record,
            "handle_s": handled}


def response_calls(rounds: int, seconds: float) -> dict[str, float]:
    """Microseconds per call of Response(...) and the helper it stands for."""
    from webkit_app import Response, json_response, text_response

    data = {"id": 42}
    calls = {
        "json_response({'id': 42})": lambda: json_response(data),
        "Response(json_body={'id': 42})": lambda: Response(json_body=data),
        "text_response('Hello, World!')": lambda: text_response("Hello, World!"),
        "Response('Hello, World!', content_type='text/plain')":
            lambda: Response("Hello, World!", content_type="text/plain"),
    }
    best = {k: min(_per_call(fn, seconds / 4) for _ in range(rounds)) for k, fn in calls.items()}
    return {k: v * 1e6 for k, v in best.items()}


def _per_call(fn: Any, seconds: float) -> float:
    """Seconds per call of ``fn`` over about ``seconds``."""
    done, batch = 0, 256
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / done


def layer_rows(costs: dict[str, Any]) -> list[list[str]]:
    base = 1e6 / costs["rps"]["app"]
    rows = [["App on hello with", "req/s", "us per request", "us over App alone"]]
    for key, rps in costs["rps"].items():
        us = 1e6 / rps
        rows.append([costs["labels"][key], f"{rps:,.0f}", f"{us:.1f}",
                     "-" if key == "app" else f"{us - base:+.1f}"])
    rows.append(["one access record alone (format and write, no request)", "-",
                 f"{costs['record_s'] * 1e6:.1f}", "-"])
    if "handle_s" in costs:
        rows.append(["of which logger.handle of a ready record (stdlib, LogFormatter, "
                     "FileHandler)", "-", f"{costs['handle_s'] * 1e6:.1f}", "-"])
    return rows


# -- findings: the remaining gaps, explained with this run's figures -------------

def findings(report: dict) -> list[str]:
    """Sentences on each target not met (or met narrowly), each citing figures
    this run measured; :func:`write_markdown` and :func:`rst_region` print them."""
    out = [_response_finding(report), _stack_finding(report), _baseline_finding(report),
           _gunicorn_finding(report)]
    return [f for f in out if f]


def _response_finding(report: dict) -> str:
    ratios, calls = report.get("response_ratios"), report.get("response_calls")
    if not ratios or not calls:
        return ""
    each = ", ".join(f"{w} {r:.2f}x" for w, r in ratios.items())
    per_call = "; ".join(f"{k} {v:.2f} us" for k, v in calls.items())
    return (f"Response(...) against the helpers (App with Response(...) over App with "
            f"text_response/json_response, req/s): {each}. Per call: {per_call}. "
            "Response(json_body=data) alone is built in one step; orjson's bytes are kept "
            "when the data is plain (str keys; str, int, bool, None, floats without an "
            "exponent) and the output is ASCII without DEL, which is what WebOb's "
            "json.dumps writes; other data goes to the json module, as in WebOb.")


def _stack_finding(report: dict) -> str:
    costs = report.get("layers")
    if not costs or "stack_quiet" not in costs["rps"]:
        return ""
    us = {k: 1e6 / v for k, v in costs["rps"].items()}
    app, stack, quiet = us["app"], us["stack"], us["stack_quiet"]
    record, handle = costs["record_s"] * 1e6, costs.get("handle_s", 0.0) * 1e6
    return (f"The stack on hello: {stack:.1f} us per request against App alone's {app:.1f} "
            f"({stack / app:.2f}x). Without writing the access record it takes {quiet:.1f} us "
            f"({quiet / app:.2f}x; alone over App: errors {us['errors'] - app:+.1f}, "
            f"request_id {us['request_id'] - app:+.1f}, access_log measuring "
            f"{us['access_quiet'] - app:+.1f}); writing it adds {stack - quiet:.1f} us. One "
            f"record alone takes {record:.1f} us, {handle:.1f} of them in logging's "
            "logger.handle of a ready record (its filters and handler walk, the handler's "
            "lock, LogFormatter, FileHandler's write and flush) and "
            f"{record - handle:.1f} in the middleware's fields, message arguments and "
            f"LogRecord. Within 4x, App alone leaves {4 * app - quiet:.1f} us for the record.")


def _baseline_finding(report: dict) -> str:
    base = report.get("baseline")
    if not base:
        return ""
    rel = baseline.ratios(base)
    slow = [w for w, r in rel.items() if r < 0.95]
    if not slow:
        low = min(rel, key=rel.__getitem__)
        return (f"App alone is within 5% of {baseline.BASE} on every workload on this "
                f"machine (lowest {rel[low]:.2f}x, {low}).")
    parts = []
    for w in slow:
        v = base["rps"][w]
        grown = ", ".join(f"{name} {d:+.2f}" for name, d in base["added"].get(w, []))
        parts.append(f"{w} {rel[w]:.2f}x ({1e6 / v['now'] - 1e6 / v['base']:+.2f} us per "
                     f"request; grown most under cProfile, us per request: {grown or '-'})")
    return (f"App alone against {baseline.BASE} on this machine, the workloads more than "
            "5% slower: " + "; ".join(parts) + ".")


def _gunicorn_finding(report: dict) -> str:
    g = report.get("gunicorn")
    if not g or "stack" not in g:
        return ""
    runs = ", ".join(f"{a / r:.2f}x" for a, r in zip(
        g["stack"].get("runs", []), g["raw"].get("runs", []), strict=True))
    return (f"Under gunicorn the stack serves {g['stack']['rps'] / g['raw']['rps']:.2f}x raw "
            f"WSGI's rate (each 10 s run: {runs or '-'}); the workers' CPU per request "
            f"{g['stack']['cpu_us']:.0f} us against raw's {g['raw']['cpu_us']:.0f} us.")


# -- the outputs -----------------------------------------------------------------

def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                               for i, c in enumerate(r)) for r in rows)


def md_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows[1:]])


def rst_table(rows: list[list[str]]) -> str:
    """An RST simple table (compact in the README's source)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    border = "  ".join("=" * w for w in widths)

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    lines = [border, line(rows[0]), border, *(line(r) for r in rows[1:])]
    return "\n".join([*lines, border])


def _mb(kib: int) -> str:
    return f"{kib * 1024 / 1e6:.1f} MB"


def sections(report: dict) -> dict[str, list[list[str]]]:
    """Every table of the report, as rows (the first row the header)."""
    out = {"in-process (req/s, ratio to bare WebOb)": report["table"]}
    if report.get("layers"):
        out["where the stack's time goes (hello, in-process)"] = layer_rows(report["layers"])
    if report.get("stack_profile"):
        out["profile of the stack on hello (cProfile, 20,000 requests)"] = [
            ["area", "share of the time", "costliest functions (share)"]] + [
            [area, f"{share * 100:.0f}%", top] for area, share, top in report["stack_profile"]]
    if report["gunicorn"]:
        g = report["gunicorn"]
        out["gunicorn, wrk -t2 -c16 on /hello, 3 runs of 10 s each in 1 s turns"] = [
            ["app", "req/s (all 30 s)", "ratio to raw", "each 10 s run (ratio to raw)",
             "slowest and fastest turn", "worker CPU per request", "raw's CPU / this CPU",
             "non-2xx, socket errors"]
        ] + [[SUBJECTS[n][0], f"{g[n]['rps']:,.0f}", f"{g[n]['rps'] / g['raw']['rps']:.2f}x",
              " / ".join(f"{x:,.0f} ({x / r:.2f}x)" for x, r in zip(
                  g[n].get("runs", [g[n]["rps"]]), g["raw"].get("runs", [g["raw"]["rps"]]),
                  strict=True)),
              f"{min(g[n]['bursts']):,.0f} / {max(g[n]['bursts']):,.0f}",
              f"{g[n]['cpu_us']:.0f} us", f"{g['raw']['cpu_us'] / g[n]['cpu_us']:.2f}x",
              f"{g[n]['non2xx']}, {g[n]['errors'] or 'none'}"] for n in g]
    if report.get("worker_profile"):
        p = report["worker_profile"]
        out["gunicorn worker profile (py-spy, 5 s under the same load)"] = [
            ["app", "samples", "in the application", "ratio to raw it predicts",
             "costliest application frames (share of samples)"]] + [
            [SUBJECTS[n][0], f"{p[n]['samples']:,}", f"{p[n]['app_share'] * 100:.1f}%",
             f"{predicted_ratio(p, n):.2f}x",
             ", ".join(f"{f} {x * 100:.1f}%" for f, x in p[n]["top"]) or "-"] for n in p]
    if report["memory"]:
        out["peak RSS through waitress (worst of 2 processes)"] = [
            ["transfer", "peak RSS", "each run", "at start", "MiB/s"]] + [
            [server.MEMORY_RUNS[k][0], _mb(m["peak_kib"]),
             " / ".join(_mb(p) for p in m["peaks_kib"]), _mb(m["baseline_kib"]),
             f"{m['mib_per_s']:.0f}"] for k, m in report["memory"].items()]
    if report["scale"]:
        out["routing scale (App, best per call)"] = [
            ["shape", "timed", "last of 10", "last of 10,000", "ratio"]] + [
            [r["shape"], r["kind"], f"{r['small'] * 1e9:.0f} ns",
             f"{r['large'] * 1e9:.0f} ns", f"{r['ratio']:.2f}x"] for r in report["scale"]]
    out.update(db.sections(report))
    if report.get("baseline"):
        out[f"App alone at {baseline.BASE} (2026-12-01) and today, this machine, "
            "interleaved"] = baseline.rows(report["baseline"])
    if report.get("response_calls"):
        out["Response(...) and the helpers, per call (best of the rounds)"] = [
            ["call", "us"]] + [[k, f"{v:.2f}"] for k, v in report["response_calls"].items()]
    out["targets (issue 7 and performance round 2)"] = [["target", "verdict", "measured"]] + [
        list(t) for t in report["targets"]]
    return out


def write_markdown(report: dict, path: Path) -> None:
    m = report["machine"]
    parts = ["# webkit_app benchmark", "",
             f"Run {m['date']} with `python -m bench` ({report['settings']}).", "",
             f"- machine: {m['machine']}", f"- Python: {m['python']}",
             f"- packages: {m['packages']}",
             f"- load average (1, 5, 15 min) at start: {m['load']}; at end: "
             f"{report.get('load_end', '?')}", ""]
    for title, rows in sections(report).items():
        parts += [f"## {title}", "", md_table(rows), ""]
    if report["missing"]:
        parts += ["Not measured: " + ", ".join(f"{k} {v}" for k, v in report["missing"].items()),
                  ""]
    found = findings(report)
    if found:
        parts += ["## findings (computed by this run)", ""] + [f"- {f}" for f in found] + [""]
    parts += ["## notes", ""] + [f"- {n}" for n in NOTES] + [""]
    path.write_text("\n".join(parts), encoding="utf-8")


def rst_region(report: dict) -> str:
    m = report["machine"]
    parts = ["Benchmark", "=========", "",
             "``make bench`` (``python -m bench``; ``--quick`` for a smoke run) times webkit_app",
             "against raw WSGI, bare WebOb, Falcon, Flask, Bottle and Pyramid on the same six",
             "workloads, takes the production stack apart layer by layer and profiles it,",
             "then runs gunicorn under ``wrk`` (throughput, the workers' CPU per request, and a",
             "py-spy profile of a worker), peak memory through waitress and routing scale, and",
             "writes ``bench/results.md`` (with notes on method). The latest run:",
             f"{m['date']}, {m['machine']}, {m['python']}.", ""]
    for title, rows in sections(report).items():
        parts += [f"**{title[0].upper() + title[1:]}**", "", rst_table(rows), ""]
    found = findings(report)
    if found:
        parts += ["**Findings (computed by this run)**", ""] + [
            f"- {_rst_escape(f)}" for f in found] + [""]
    return "\n".join(parts)


def _rst_escape(text: str) -> str:
    """``text`` as plain reST: markup characters escaped with a backslash."""
    return re.sub(r"([\\*`_|])", r"\\\1", text)


def _ratio_cell(cell: str) -> dict[str, float]:
    match = _CELL(cell.strip())
    if match is None:
        raise ValueError(f"not a 'req/s (ratio)' cell: {cell!r}")
    return {"rps": float(match[1].replace(",", "")), "ratio": float(match[2])}


def figures(tables: dict[str, list[list[str]]], machine_line: str) -> dict[str, Any]:
    """The charted numbers of a report's tables (as :func:`sections` gives them)::

        {"run": "...", "in_process": {"baseline": "WebOb", "workloads": [...],
         "subjects": {"Falcon": {"hello": {"rps": 195539.0, "ratio": 2.2}, ...}}},
         "gunicorn": {"baseline": "raw WSGI", "subjects": {"raw WSGI": {...}}}}
    """
    head, *rows = tables[IN_PROCESS]
    out: dict[str, Any] = {"run": machine_line, "in_process": {
        "baseline": "WebOb", "workloads": head[1:],
        "subjects": {r[0]: dict(zip(head[1:], map(_ratio_cell, r[1:]), strict=True))
                     for r in rows}}}
    gunicorn = next((v for k, v in tables.items() if k.startswith("gunicorn, wrk")), None)
    if gunicorn:
        out["gunicorn"] = {"baseline": gunicorn[1][0], "subjects": {
            r[0]: {"rps": float(r[1].replace(",", "")), "ratio": float(r[2].rstrip("x"))}
            for r in gunicorn[1:]}}
    return out


def write_json(report: dict, path: Path = RESULTS_JSON) -> None:
    """Write :func:`figures` of ``report`` as JSON (the docs' charts read it)."""
    m = report["machine"]
    data = figures(sections(report), f"{m['date']}, {m['machine']}, {m['python']}")
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def update_readme(report: dict, path: Path = README) -> None:
    """Replace the text between ``.. BEGIN benchmark`` and ``.. END benchmark``."""
    text = path.read_text(encoding="utf-8")
    begin, end = ".. BEGIN benchmark\n", ".. END benchmark"
    head, sep, rest = text.partition(begin)
    _, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise RuntimeError(f"{path} has no benchmark region")
    path.write_text(head + begin + "\n" + rst_region(report) + "\n" + end + tail, encoding="utf-8")


# -- the run -------------------------------------------------------------------

def _profiled(spec: str, n: int) -> pstats.Stats:
    name, _, workload = spec.partition(":")
    w = next(w for w in WORKLOADS if w.name == workload)
    app = build(name)
    check(app, w)
    run(app, w, 1000)
    prof = cProfile.Profile()
    prof.runcall(run, app, w, n)
    return pstats.Stats(prof)


def profile(spec: str, n: int) -> None:
    _profiled(spec, n).sort_stats("tottime").print_stats(20)


#: (area, test on a profiled function's file name), first match wins
AREAS = (
    ("logging (stdlib, and LogFormatter)",
     lambda f: "/logging/" in f or f.endswith("webkit_app/settings.py")),
    ("webkit_app.middleware", lambda f: "webkit_app/middleware/" in f),
    ("webkit_app App, Request, Response", lambda f: "webkit_app/" in f),
    ("WebOb", lambda f: "/webob/" in f),
    ("the harness and the subject (environ, body loop, handler, log sink)",
     lambda f: "bench/" in f),
)


def _area(filename: str) -> str | None:
    return next((name for name, test in AREAS if test(filename)), None)


def profile_areas(spec: str = "stack:hello", n: int = 20000) -> list[tuple[str, float, str]]:
    """``(area, share of the time, costliest functions)`` of a cProfile run.

    A function outside the areas (a C function such as ``dict.get``, or the
    stdlib's ``posixpath.basename``) counts for the areas of its callers, in
    proportion to their calls to it.
    """
    stats = _profiled(spec, n).stats  # type: ignore[attr-defined]
    memo: dict[Any, dict[str, float]] = {}

    def weights(func: Any, depth: int = 0) -> dict[str, float]:
        if func in memo:
            return memo[func]
        area = _area(func[0])
        callers = stats[func][4] if func in stats else {}
        if area is not None or not callers or depth > 20:
            out = {area or "other": 1.0}
        else:
            out = {}
            total = sum(c[1] for c in callers.values()) or 1
            for caller, c in callers.items():
                for a, w in weights(caller, depth + 1).items():
                    out[a] = out.get(a, 0.0) + w * c[1] / total
        memo[func] = out
        return out

    own: dict[str, float] = {}
    funcs: dict[str, dict[str, float]] = {}
    for func, (_, _, tottime, _, _) in stats.items():
        filename, _, name = func
        module = Path(filename).stem if Path(filename).stem != "__init__" else \
            Path(filename).parent.name
        label = name.strip("<>") if filename == "~" else f"{module}.{name}"
        for area, w in weights(func).items():
            own[area] = own.get(area, 0.0) + tottime * w
            funcs.setdefault(area, {})
            funcs[area][label] = funcs[area].get(label, 0.0) + tottime * w
    total = sum(own.values()) or 1.0
    rows = []
    for area, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        if seconds / total < 0.005:  # NOTE: the profiler's own stop call, and the like
            continue
        top = sorted(funcs[area].items(), key=lambda kv: -kv[1])[:4]
        rows.append((area, seconds / total,
                     ", ".join(f"{f} {x / total * 100:.0f}%" for f, x in top)))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one short round, no servers, no files")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=0.3, help="per subject, workload and round")
    p.add_argument("--subjects", default=",".join(SUBJECTS))
    p.add_argument("--no-server", action="store_true", help="skip gunicorn and memory runs")
    p.add_argument("--no-readme", action="store_true", help="leave docs/benchmark.rst alone")
    p.add_argument("--output", type=Path, default=RESULTS)
    p.add_argument("--profile", metavar="SUBJECT:WORKLOAD")
    p.add_argument("--profile-n", type=int, default=20000)
    args = p.parse_args(argv)
    if args.profile:
        profile(args.profile, args.profile_n)
        return 0
    if args.quick:
        args.rounds, args.seconds, args.no_server = 1, 0.05, True
    started = time.monotonic()
    report: dict[str, Any] = {"machine": machine(), "gunicorn": None, "memory": None,
                              "worker_profile": None,
                              "settings": f"{args.rounds} rounds x {args.seconds} s"}
    log(f"building and checking subjects ({report['machine']['machine']})")
    try:
        apps, report["missing"] = build_all(args.subjects.split(","))
    except BenchError as exc:
        log(f"a subject answers wrongly: {exc}")
        return 2
    best = run_rounds(apps, WORKLOADS, args.rounds, args.seconds, progress=log)
    report["table"] = table_rows(best, list(apps))
    print(text_table(report["table"]), flush=True)
    report["response_ratios"] = {
        w: r for w in ("hello", "param", "query", "json")
        if (r := ratio(best, "webkit_response", "webkit_app", w)) is not None}
    report["response_calls"] = response_calls(args.rounds, args.seconds)
    log("the stack's layers")
    report["layers"] = layer_costs(args.rounds, args.seconds)
    report["stack_profile"] = profile_areas(n=2000 if args.quick else 20000)
    if not args.quick:
        log(f"App alone at {baseline.BASE} and today, side by side")
        report["baseline"] = baseline.measure(args.rounds, args.seconds)
    log("routing scale")
    report["scale"] = routing_scale.measure(repeats=3 if args.quick else 7)
    print("\n".join(routing_scale.format_rows(report["scale"])), flush=True)
    report["db"] = db.measure(n=100 if args.quick else 500)
    if not args.no_server:
        report["gunicorn"], report["memory"], report["worker_profile"] = run_servers()
    report["targets"] = targets(best, report["gunicorn"], report["memory"], report["scale"],
                                report.get("worker_profile"), report.get("layers"),
                                report.get("baseline"))
    report["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for title, rows in list(sections(report).items())[1:]:
        print(f"\n{title}\n{text_table(rows)}")
    if not args.quick:
        write_markdown(report, args.output)
        write_json(report)
        if not args.no_readme:
            update_readme(report)
        log(f"wrote {args.output}, {RESULTS_JSON.name}"
            + ("" if args.no_readme else " and docs/benchmark.rst"))
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


GUNICORN_SUBJECTS = ("raw", "webkit_app", "stack")


def run_servers() -> tuple[dict | None, dict | None, dict | None]:
    gun: dict[str, Any] | None = None
    prof: dict[str, Any] | None = None
    missing = server.tools_missing()
    if missing:
        log(f"gunicorn run skipped: {missing}")
    else:
        log(f"gunicorn: {', '.join(GUNICORN_SUBJECTS)} side by side, wrk in 1 s turns")
        gun = server.gunicorn_rps(GUNICORN_SUBJECTS)
        why = server.profiler_missing()
        if why:
            log(f"gunicorn worker profile skipped: {why}")
        else:
            prof = {}
            for name in GUNICORN_SUBJECTS:
                log(f"gunicorn {name}: py-spy on a worker")
                prof[name] = server.worker_profile(name)
    mem = {}
    for kind, (what, _) in server.MEMORY_RUNS.items():
        log(f"waitress: {what}")
        mem[kind] = server.peak_rss(kind)
    return gun, mem, prof


if __name__ == "__main__":
    sys.exit(main())
