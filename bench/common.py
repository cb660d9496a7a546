"""Helpers shared by the benchmark scripts."""
from __future__ import annotations

import csv
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SETS = SHARED / "bench" / "sets"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fp:
        return list(csv.DictReader(fp))


def reference_scores() -> dict[str, dict[str, float]]:
    """The reference table of ../shared/bench/README.md, by set name."""
    readme = SHARED / "bench" / "README.md"
    if not readme.exists():
        return {}
    out: dict[str, dict[str, float]] = {}
    header: list[str] | None = None
    for line in readme.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0] == "set" and any("top-1" in c for c in cells):
            header = cells
            continue
        if header and len(cells) == len(header) and re.fullmatch(r"[0-9.]+", cells[1] or ""):
            out[cells[0]] = {h: float(c) for h, c in zip(header[1:], cells[1:])}
    return out
