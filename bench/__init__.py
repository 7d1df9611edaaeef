"""The benchmark: webkit_app against bare WebOb and its peers, in one run.

``python -m bench`` (``make bench``) times every subject of
:mod:`bench.subjects` on the same six workloads in-process
(:mod:`bench.harness`), then the real-server figures (:mod:`bench.server`:
gunicorn under ``wrk``, peak RSS through waitress) and the routing scale
check (:mod:`bench.routing_scale`), and writes ``bench/results.md``::

    python -m bench            # the full run, about three minutes
    python -m bench --quick    # a smoke run: one short round, no servers

Timings live here and only here; the test suite asserts behaviour.
"""
