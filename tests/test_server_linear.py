"""webkit_app.server's request-head checks cost time linear in the head's size.

Each adversarial head (about 100 KB, under waitress's 256 KB limit) is parsed
once by :class:`StrictRequestParser`, in process, and must take well under
50 ms of CPU: a backtracking pattern on a Transfer-Encoding field took
seconds on 24,000 spaces. One end-to-end test sends such a head to a real
server and checks that a probe on another connection is not delayed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
from reliability_util import exchange, statuses
from serverutil import strict_server
from waitress.adjustments import Adjustments

from webkit_app.server import StrictRequestParser, transfer_codings

N = 100_000
CPU_BUDGET = 0.05  # seconds of CPU for one parse
HEAD = b"POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"

ADVERSARIAL = {
    "te_comma_spaces_chunked": b"Transfer-Encoding: ," + b" " * N + b"chunked",
    "te_spaces_then_near_miss": b"Transfer-Encoding: chunked" + b" " * N + b"x",
    "te_tabs_then_cr_near_miss": b"Transfer-Encoding: " + b"\t" * N + b"chunked\t\x0b",
    "te_commas": b"Transfer-Encoding: " + b"," * N + b"chunked",
    "te_comma_space_pairs": b"Transfer-Encoding: " + b", " * (N // 2) + b"chunked",
    "te_space_tab_runs": b"Transfer-Encoding: chunked" + b" \t" * (N // 2) + b",",
    "te_many_empty_fields": b"Transfer-Encoding: \r\n" * (N // 21) + b"Transfer-Encoding: chunked",
    "te_name_prefix_repeated": b"X: " + b"transfer-encoding:" * (N // 18),
    "other_field_spaces_near_miss": b"X-A: a" + b" " * N + b"\x01",
    # waitress's own HEADER_FIELD_RE: quadratic on these (about 50 s for one)
    "spaces_then_control": b"X-A:" + b" " * N + b"\x01",
    "tabs_then_del": b"X-A:" + b"\t" * N + b"\x7f",
    "space_tab_runs_then_nul": b"X-A:" + b" \t" * (N // 2) + b"\x00",
    "other_field_words": b"X-A: " + b"a " * (N // 2) + b"\x01",
}


def parse_cpu(head: bytes) -> float:
    parser = StrictRequestParser(Adjustments())
    started = time.process_time()
    parser.received(head)
    return time.process_time() - started


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_one_adversarial_head_is_parsed_in_linear_time(name: str) -> None:
    head = HEAD + ADVERSARIAL[name] + b"\r\nContent-Length: 0\r\n\r\n"
    assert len(head) > 64 * 1024
    # NOTE: best of three, so a preemption on a busy machine is not counted.
    cost = min(parse_cpu(head) for _ in range(3))
    assert cost < CPU_BUDGET, f"{name}: {cost * 1000:.1f} ms of CPU for one parse"


@pytest.mark.parametrize(("field", "expected"), [
    (b"Transfer-Encoding: chunked", [b"chunked"]),
    (b"transfer-encoding:  Chunked \t", [b"chunked"]),
    (b"Transfer-Encoding: ,  ,chunked,", [b"chunked"]),
    (b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked", [b"gzip", b"chunked"]),
    (b"Transfer-Encoding:", []),
    (b"Transfer-Encoding:  \t ", []),
    (b"X-Transfer-Encoding: chunked", None),
    (b"X: transfer-encoding: chunked", None),
])
def test_transfer_codings(field: bytes, expected: list[bytes] | None) -> None:
    assert transfer_codings(HEAD + field) == expected


def echo(environ, start_response):  # a WSGI app
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with strict_server(echo) as bound:
        yield bound


@pytest.mark.parametrize(("field", "status"), [
    (b"Transfer-Encoding: ," + b" " * 200_000 + b"chunked", 200),
    (b"X-A:" + b" " * 200_000 + b"\x01", 400),
])
def test_an_adversarial_head_gets_a_quick_answer_and_delays_nobody(
        port: int, field: bytes, status: int) -> None:
    """The head is parsed on waitress's main loop, which every connection
    shares: a slow parse would stall the probe on the other connection."""
    data = HEAD + b"Connection: close\r\n" + field + b"\r\n\r\n0\r\n\r\n"
    result: dict[str, float] = {}

    def probe() -> None:
        time.sleep(0.05)
        started = time.monotonic()
        res = requests.get(f"http://127.0.0.1:{port}/live", timeout=10)
        assert res.status_code == 200
        result["probe"] = time.monotonic() - started

    prober = threading.Thread(target=probe)
    prober.start()
    reply = exchange(port, data, timeout=10)
    prober.join(15)
    assert statuses(reply) == [status], reply[:200]
    assert reply.closed and reply.elapsed < 1.0, f"answered after {reply.elapsed:.2f} s"
    assert result.get("probe", 99.0) < 0.5, result
