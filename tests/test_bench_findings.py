"""The benchmark's computed findings and the same-machine baseline's tables
(behaviour only: synthetic figures, no timing)."""

from __future__ import annotations

import docutils.core

from bench import __main__ as bench_main
from bench import baseline

_BASE = {"rps": {"hello": {"base": 200_000.0, "now": 250_000.0},
                 "json": {"base": 100_000.0, "now": 80_000.0}},
         "added": {"json": [("body.parse_json", 0.4), ("paths.check_host", 0.2)]}}
_LAYERS = {"rps": {"app": 250_000.0, "errors": 200_000.0, "request_id": 160_000.0,
                   "access_log": 70_000.0, "access_quiet": 150_000.0, "stack": 50_000.0,
                   "stack_quiet": 100_000.0},
           "labels": {}, "record_s": 8e-6, "handle_s": 4e-6}


def test_added_costs_names_the_functions_that_grew_most():
    then = {"a": 1.0, "b": 2.0, "gone": 5.0}
    now = {"a": 1.5, "b": 2.1, "new": 0.3}
    assert baseline.added_costs(then, now, top=2) == [("a", 0.5), ("new", 0.3)]


def test_baseline_rows_and_ratios():
    assert baseline.ratios(_BASE) == {"hello": 1.25, "json": 0.8}
    rows = baseline.rows(_BASE)
    assert rows[1] == ["hello", "200,000", "250,000", "1.25x", "-1.00"]
    assert rows[2] == ["json", "100,000", "80,000", "0.80x", "+2.50"]


def test_targets_read_the_same_machine_baseline():
    target = "App alone within 5% of 2026-12-01 (7495e0f, run on this machine beside today's)"
    got = {t: (v, m) for t, v, m in bench_main.round_two({}, None, _BASE)}
    assert got[target] == (False, "lowest 0.80x of then (json); hello 1.25x, json 0.80x")
    got = {t: (v, m) for t, v, m in bench_main.round_two({}, None, None)}
    assert got[target] == (None, "not run")


def test_findings_cite_the_runs_figures():
    report = {"layers": _LAYERS, "baseline": _BASE,
              "response_ratios": {"hello": 0.95, "param": 0.91},
              "response_calls": {"json_response({'id': 42})": 0.8}}
    stack, base, response = (next(f for f in bench_main.findings(report) if f.startswith(p))
                              for p in ("The stack", "App alone against", "Response(...)"))
    assert "20.0 us per request against App alone's 4.0 (5.00x)" in stack
    assert "10.0 us (2.50x" in stack and "writing it adds 10.0 us" in stack
    assert "8.0 us, 4.0 of them in logging's" in stack
    assert "App alone leaves 6.0 us for the record" in stack
    assert "json 0.80x (+2.50 us per request; grown most under cProfile, us per request: " \
           "body.parse_json +0.40, paths.check_host +0.20)" in base
    assert "hello 0.95x, param 0.91x" in response


def test_findings_render_as_plain_rst():
    text = bench_main._rst_escape("a_b *c* `d` x\\y |z| __init__ json_body=")
    doctree = docutils.core.publish_doctree(
        "- " + text, settings_overrides={"halt_level": 2, "report_level": 2})
    assert doctree.astext() == "a_b *c* `d` x\\y |z| __init__ json_body="
