"""`make bench`: matching quality, matching speed, then the other benchmarks.

Prints numbers; asserts nothing. Sets under ../shared/bench/sets are used
when present and skipped (with a line saying so) when not.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> int:
    import matching_bench

    matching_bench.quality()
    matching_bench.caiq_round_trip()
    matching_bench.speed()
    for script in ("ingest_bench.py", "csv_bench.py", "hostile_bench.py", "web_bench.py", "web_load_bench.py", "curation_bench.py"):
        path = HERE / script
        if path.exists():
            print(f"\n== {script}", flush=True)
            subprocess.run([sys.executable, str(path)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
