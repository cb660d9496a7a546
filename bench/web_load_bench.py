"""The review app under concurrent load (`make bench` runs this; prints, asserts nothing).

The load of tests/test_web_load.py: the app served by waitress in a
subprocess, 4 clients x 250 review actions on the same 30 questions (so they
collide), the FAKE embedder. Prints the wall time, the statuses and the
p50 / p95 latency of a review action as the clients saw it. The test checks
that no write is lost; this prints how long it took. Numbers are from the
machine it runs on; on a shared machine they vary.
"""
from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    from tests.test_web_load import ACTIONS_PER_CLIENT, CLIENTS, run_load, start_server, stop_server
    from tests.web_helpers import build_template_db

    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        (tmp / "template").mkdir()
        (tmp / "run").mkdir()
        template = build_template_db(tmp / "template" / "aimsq.db")
        served, proc = start_server(template, tmp / "run")
        try:
            started = time.perf_counter()
            results = run_load(served["base"], served["qn_id"], served["questions"])
            wall = time.perf_counter() - started
        finally:
            stop_server(proc)
    statuses = Counter(r["status"] for r in results)
    latencies = sorted(r["ms"] for r in results)
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
    print(f"web load: {CLIENTS} clients x {ACTIONS_PER_CLIENT} review actions: {len(results)} requests "
          f"in {wall:.1f} s, statuses {dict(statuses)}, p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
