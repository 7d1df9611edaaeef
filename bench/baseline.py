"""App alone against commit :data:`BASE` (the 2026-12-01 run), on this machine.

The 2026-12-01 figures came from another CPU, so its ratios say little about
this one. Here the same subject (:func:`bench.subjects.build_webkit_app`) and
the same harness run twice, side by side: once on the toolkit checked out at
``BASE`` (a temporary ``git worktree``, removed afterwards), once on today's.
Each is a child process that times one workload when asked; the parent asks
them in turn, workload by workload and round by round, the order swapped each
round, so the machine's drift falls on both alike. The best round is kept::

    result = measure(rounds=7, seconds=0.3)   # None without git or the commit
    result["rps"]["hello"]                    # {"base": 198000.0, "now": 201000.0}
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: the commit of the 2026-12-01 run (its bench/results.md)
BASE = "7495e0f"
REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 120.0


def _child(tree: str) -> None:
    """Serve timings of App alone on the toolkit in ``tree``: read a workload
    name per line, answer its requests per second."""
    sys.path.insert(0, tree)
    import webkit_app

    # NOTE: webkit_app stays the tree's (its submodules load from its
    # __path__); the harness and the subject are today's, for both sides.
    sys.path.remove(tree)
    sys.path.insert(0, str(REPO))
    if not webkit_app.__file__ or not webkit_app.__file__.startswith(tree):
        raise SystemExit(f"webkit_app came from {webkit_app.__file__}, not {tree}")
    from bench.harness import WORKLOADS, check, measure
    from bench.subjects import build_webkit_app

    app = build_webkit_app()
    workloads = {w.name: w for w in WORKLOADS}
    for w in WORKLOADS:
        check(app, w)
    print("ready", flush=True)
    for line in sys.stdin:
        command, name, arg = line.split()
        if command == "profile":
            print(json.dumps(_profile(app, workloads[name], int(arg))), flush=True)
        else:
            print(measure(app, workloads[name], float(arg)), flush=True)


def _profile(app: Any, workload: Any, n: int) -> dict[str, float]:
    """Microseconds per request spent in each function itself (cProfile)."""
    import cProfile
    import pstats

    from bench.harness import run

    prof = cProfile.Profile()
    prof.runcall(run, app, workload, n)
    out: dict[str, float] = {}
    for (filename, _, name), row in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
        label = name if filename == "~" else f"{Path(filename).stem}.{name}"
        out[label] = out.get(label, 0.0) + row[2] * 1e6 / n
    return out


def _start(tree: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(tree)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tempfile.gettempdir())
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError(f"the App on {tree} did not start")
    return proc


def _ask(proc: subprocess.Popen[str], command: str, workload: str, arg: float) -> Any:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{command} {workload} {arg}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def added_costs(base: dict[str, float], now: dict[str, float],
                top: int = 4) -> list[tuple[str, float]]:
    """The functions whose own time per request grew most from ``base`` to ``now``."""
    grown = {k: v - base.get(k, 0.0) for k, v in now.items()}
    return sorted(((k, d) for k, d in grown.items() if d > 0), key=lambda kd: -kd[1])[:top]


def measure(rounds: int, seconds: float, base: str = BASE,
            profile_n: int = 5000) -> dict[str, Any] | None:
    """Best req/s of App alone per workload at ``base`` and today, interleaved
    (``{"rps": {workload: {"base": .., "now": ..}}, "added": {workload: [(function,
    us)]}}``, ``added`` for the workloads more than 5% slower today: the
    functions that cost more per request under cProfile); ``None`` when git or
    the commit is not at hand (an unpacked sdist)."""
    from bench.harness import WORKLOADS

    if shutil.which("git") is None or subprocess.run(
            ["git", "-C", str(REPO), "cat-file", "-e", f"{base}^{{commit}}"],
            capture_output=True).returncode != 0:
        return None
    tree = Path(tempfile.mkdtemp(prefix="webkit_app-base-"))
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet",
                    str(tree), base], check=True, capture_output=True)
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        procs = {"base": _start(tree), "now": _start(REPO)}
        best: dict[str, dict[str, float]] = {w.name: {"base": 0.0, "now": 0.0} for w in WORKLOADS}
        for r in range(rounds):
            order = ["base", "now"] if r % 2 == 0 else ["now", "base"]
            for w in WORKLOADS:
                for side in order:
                    rps = _ask(procs[side], "time", w.name, seconds)
                    best[w.name][side] = max(best[w.name][side], rps)
        added = {}
        for name, v in best.items():
            if v["now"] < 0.95 * v["base"]:
                then, now = (_ask(procs[side], "profile", name, profile_n)
                             for side in ("base", "now"))
                added[name] = added_costs(then, now)
        return {"rps": best, "added": added}
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                       capture_output=True)
        shutil.rmtree(tree, ignore_errors=True)


def rows(result: dict[str, Any]) -> list[list[str]]:
    """The table: workload, req/s at the base commit and today, today's ratio."""
    out = [["workload", f"App at {BASE} (2026-12-01)", "App today", "today / then",
            "us per request, today - then"]]
    for name, v in result["rps"].items():
        out.append([name, f"{v['base']:,.0f}", f"{v['now']:,.0f}", f"{v['now'] / v['base']:.2f}x",
                    f"{1e6 / v['now'] - 1e6 / v['base']:+.2f}"])
    return out


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """Today's req/s over the base commit's, per workload."""
    return {name: v["now"] / v["base"] for name, v in result["rps"].items()}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        sys.path.insert(0, str(REPO))
        print(json.dumps(measure(rounds=int(sys.argv[1]) if len(sys.argv) > 1 else 3,
                                 seconds=0.3), indent=1))
