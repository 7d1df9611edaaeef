"""The benchmark's harness and subjects answer correctly (behaviour only, no timings).

Falcon, Flask and Bottle come with the ``bench`` extra; without it their
subjects are skipped with a reason.
"""

import logging

import docutils.core
import pytest

from bench import __main__ as bench_main
from bench.harness import WORKLOADS, BenchError, Workload, call, check, run, run_rounds
from bench.server import MEMORY_RUNS
from bench.subjects import SUBJECTS, access_sink, build

_BUILT = {}


@pytest.fixture(autouse=True, scope="module")
def _restore_access_logger():
    """The stack subject attaches a sink to the access logger: undo it afterwards."""
    logger = logging.getLogger("webkit_app.access")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    _BUILT.clear()


def subject(name):
    if name not in _BUILT:
        try:
            _BUILT[name] = build(name)
        except ImportError as exc:
            pytest.skip(f"{name} is not installed (pip install -e '.[bench]'): {exc.name}")
    return _BUILT[name]


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
@pytest.mark.parametrize("name", list(SUBJECTS))
def test_subject_answers_workload_before_and_after_a_run(name, workload):
    app = subject(name)
    check(app, workload)
    run(app, workload, 5)
    check(app, workload)


def test_stack_writes_one_access_record_per_request():
    app = subject("stack")
    sink = access_sink()
    before = sink.emitted
    run(app, WORKLOADS[0], 7)
    assert sink.emitted - before == 7


def _wrong(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello"]


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_check_refuses_a_wrong_answer(workload):
    with pytest.raises(BenchError):
        check(_wrong, workload)


def test_check_refuses_a_wrong_content_length():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "99")])
        return [b"Hello, World!"]

    with pytest.raises(BenchError, match="Content-Length"):
        check(app, WORKLOADS[0])


def test_each_request_gets_a_fresh_environ_with_its_body():
    seen = []

    def app(environ, start_response):
        seen.append(environ)
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    echo = next(w for w in WORKLOADS if w.name == "json")
    run(app, echo, 3)
    assert len({id(env) for env in seen}) == 3
    assert call(app, echo)[2] == echo.body
    assert seen[0]["REMOTE_ADDR"] and seen[0]["HTTP_HOST"] and seen[0]["SERVER_PROTOCOL"]


def test_body_is_closed():
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return Body([b"no"])

    run(app, Workload("x", "GET", "/x", 404, "any"), 4)
    assert closed == [True] * 4


def test_report_renders_as_rst_without_warnings():
    apps = {name: subject(name) for name in ("raw", "webob", "webkit_app")}
    best = run_rounds(apps, WORKLOADS, rounds=1, seconds=0.001)
    scale = [{"shape": "/r{i}/{x}", "kind": "lookup", "small": 1e-6, "large": 1.1e-6,
              "ratio": 1.1}]
    gunicorn = {n: {"rps": rps, "non2xx": 0, "errors": "", "cpu_us": cpu, "bursts": [rps, 900],
                    "runs": [rps, rps]}
                for n, rps, cpu in (("raw", 1000.0, 250.0), ("webkit_app", 850.0, 260.0),
                                    ("stack", 800.0, 400.0))}
    memory = {kind: {"baseline_kib": 30000, "peak_kib": 70000, "peaks_kib": [70000, 50000],
                     "seconds": 1.0, "mib_per_s": 200.0} for kind in MEMORY_RUNS}
    profile = {n: {"samples": 5000, "app_share": share, "top": [("App.__call__ (app.py)", share)]}
               for n, share in (("raw", 0.05), ("webkit_app", 0.10), ("stack", 0.30))}
    costs = {"rps": {"app": 100_000.0, "stack": 20_000.0}, "record_s": 15e-6,
             "labels": {"app": "App alone", "stack": "the stack"}}
    report = {"machine": bench_main.machine(), "settings": "1 round", "missing": {},
              "table": bench_main.table_rows(best, list(apps)), "scale": scale,
              "gunicorn": gunicorn, "memory": memory, "worker_profile": profile,
              "layers": costs}
    report["targets"] = bench_main.targets(best, gunicorn, memory, scale, profile, costs)
    verdicts = {t: v for t, v, _ in report["targets"]}
    measured = {t: m for t, _, m in report["targets"]}
    assert verdicts["under gunicorn >= 0.9x raw WSGI"] == "MISSED"
    assert "the worker profile predicts 0.95x" in measured["under gunicorn >= 0.9x raw WSGI"]
    assert "worker CPU per request 260 vs 250 us, 0.96x" in measured[
        "under gunicorn >= 0.9x raw WSGI"]
    assert "one access record alone 15.0 us" in measured[
        "production stack costs <= 25% over App alone on hello"]
    sections = bench_main.sections(report)
    assert sections["where the stack's time goes (hello, in-process)"][2][1:] == [
        "20,000", "50.0", "+40.0"]
    assert verdicts["peak RSS < 60 MB streaming a 1 GiB response"] == "MISSED"
    assert verdicts["App ahead of Falcon on deep, notfound, json"] == "not measured"
    assert verdicts["routing scale: last of 10,000 within 1.5x of last of 10"] == "met"
    text = "Title\n=====\n\n" + bench_main.rst_region(report)
    docutils.core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})


def test_readme_region_is_replaced_and_nothing_else(tmp_path):
    readme = tmp_path / "README.rst"
    readme.write_text("Intro\n\n.. BEGIN benchmark\nold\n.. END benchmark\n\nAfter\n")
    report = {"machine": bench_main.machine(), "table": [["subject", "hello"], ["x", "1"]],
              "gunicorn": None, "memory": None, "scale": None,
              "targets": [("a target", "met", "1.00x")]}
    bench_main.update_readme(report, readme)
    text = readme.read_text()
    assert text.startswith("Intro\n\n.. BEGIN benchmark\n") and text.endswith(
        ".. END benchmark\n\nAfter\n")
    assert "old" not in text and "a target" in text


def test_stack_layers_answer_hello_and_write_records_only_when_named():
    from bench.subjects import build_layers, one_access_record

    variants = build_layers()
    assert set(variants) == {"app", "errors", "request_id", "access_log", "access_quiet",
                             "stack", "stack_quiet"}
    sink = access_sink()
    hello = WORKLOADS[0]
    for key, (_, app) in variants.items():
        before = sink.emitted
        check(app, hello)
        assert sink.emitted - before == (1 if key in ("access_log", "stack") else 0), key
    before = sink.emitted
    one_access_record()()
    assert sink.emitted - before == 1


def test_worker_profile_shares_count_application_frames_once_per_sample():
    from bench.server import app_share

    server = "_run_module_as_main (<frozen runpy>:198);SyncWorker.handle (gunicorn/workers/sync.py:190)"
    collapsed = "\n".join([
        f"{server};App.__call__ (webkit_app/app.py:181);App._dispatch (webkit_app/app.py:228) 6",
        f"{server};App.__call__ (webkit_app/app.py:181);App.__call__ (webkit_app/app.py:191) 2",
        f"{server};Response.__call__ (/venv/lib/python3.11/site-packages/webob/response.py:1333) 2",
        f"{server};write (gunicorn/util.py:348) 10",
        "not a sample line",
    ])
    got = app_share(collapsed)
    assert got["samples"] == 20
    assert got["app_share"] == pytest.approx(0.5)
    assert got["top"][0] == ("App.__call__ (app.py)", pytest.approx(0.4))
    assert ("Response.__call__ (response.py)", pytest.approx(0.1)) in got["top"]
    assert bench_main.predicted_ratio({"raw": {"app_share": 0.05}, "x": got}, "x") == \
        pytest.approx(0.5 / 0.95)


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_worker_profile_samples_a_real_gunicorn_worker_under_wrk():
    from bench.server import profiler_missing, worker_profile

    missing = profiler_missing()
    if missing:
        pytest.skip(missing)
    got = worker_profile("webkit_app", seconds=1)
    assert got["samples"] > 100
    assert 0 < got["app_share"] < 1
    assert any(frame.startswith("App.__call__") for frame, _ in got["top"])


def test_profile_areas_split_the_whole_time_between_the_areas():
    rows = bench_main.profile_areas("stack:hello", n=200)
    shares = {area: share for area, share, _ in rows}
    assert sum(shares.values()) == pytest.approx(1.0, abs=0.02)  # rows under 0.5% are left out
    assert {"logging (stdlib, and LogFormatter)", "webkit_app.middleware",
            "webkit_app App, Request, Response"} <= set(shares)
    assert all(top for _, _, top in rows)


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_gunicorn_turns_load_every_server_and_count_its_cpu():
    from bench.server import gunicorn_rps, tools_missing

    missing = tools_missing()
    if missing:
        pytest.skip(missing)
    got = gunicorn_rps(("raw", "webkit_app"), seconds=2, bursts=2, runs=2)
    assert set(got) == {"raw", "webkit_app"}
    for result in got.values():
        assert result["rps"] > 100 and len(result["bursts"]) == 4 and len(result["runs"]) == 2
        assert result["cpu_us"] > 0 and result["non2xx"] == 0 and result["errors"] == ""
