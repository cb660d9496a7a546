"""CSV shape and decoding costs (issues 9 and 13). Prints numbers; asserts nothing.

- the 1.7 MB CSV with 200,000 columns (issue 13 point 4: held a worker for
  223 s before): time to the "too many columns" rejection; target well
  under a second;
- a CSV at the column cap (16,384 columns), read in full;
- decoding a 5 MB Windows-1252 CSV (code page detected by
  charset-normalizer) against the same text in UTF-8.

Inputs are built here. Each figure is the median of 5 runs; on a shared
machine single runs vary.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _median_seconds(fn, runs: int = 5) -> tuple[float, str]:
    times, outcome = [], ""
    for _ in range(runs):
        t = time.perf_counter()
        try:
            result = fn()
            outcome = f"{len(result.questions)} questions" if hasattr(result, "questions") else result.label
        except Exception as e:  # the rejection is the outcome being timed
            outcome = f"{type(e).__name__}: {str(e)[:70]}…"
        times.append(time.perf_counter() - t)
    return statistics.median(times), outcome


def main() -> None:
    from ingest import read_questionnaire
    from ingest.encoding import decode_text

    wide = (",".join(f"q{i:06d}" for i in range(200_000)) + "\n").encode()
    at_cap = ("ID,Question,Answer," + ",".join(f"Extra {j}" for j in range(16_381)) + "\n"
              + "".join(f"Q-{i},Do you review access rights every quarter ({i})?,\n" for i in range(50))).encode()
    rows = "".join(f"Q-{i},Les données sont-elles chiffrées au repos — sauvegardes comprises ({i}) ?,\n"
                   for i in range(60_000))
    text = "ID,Question,Réponse\n" + rows
    cp1252, utf8 = text.encode("cp1252"), text.encode()
    cases = [
        (f"200,000-column CSV ({len(wide) / 1e6:.1f} MB), rejected (target well under 1 s)",
         lambda: read_questionnaire(wide, "wide.csv")),
        (f"16,384-column CSV ({len(at_cap) / 1e6:.1f} MB, 50 questions), read",
         lambda: read_questionnaire(at_cap, "cap.csv")),
        (f"decode a Windows-1252 CSV ({len(cp1252) / 1e6:.1f} MB)", lambda: decode_text(cp1252)),
        (f"decode the same text in UTF-8 ({len(utf8) / 1e6:.1f} MB)", lambda: decode_text(utf8)),
    ]
    print(f"{'CSV':<72} {'median s':>8}  outcome")
    for label, fn in cases:
        seconds, outcome = _median_seconds(fn)
        print(f"{label:<72} {seconds:>8.3f}  {outcome}")


if __name__ == "__main__":
    main()
