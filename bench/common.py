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


def score_results(rows: list[dict], results: list) -> dict:
    """The measures of ../shared/bench/README.md for match results against rows
    with an `expected` column (ids joined by '|', or NONE).

    Ranking (top-1, top-3, MRR) is over answerable rows; accuracy (right answers
    plus abstentions on NONE) over all rows; wrong_share over answers given.
    """
    answerable = top1 = top3 = given = right = wrong = abstain_ok = 0
    mrr = 0.0
    tiers: dict[str, int] = {}
    for row, r in zip(rows, results):
        tiers[r.tier] = tiers.get(r.tier, 0) + 1
        expected = set(row["expected"].split("|"))
        none_expected = expected == {"NONE"}
        if r.answer is None:
            abstain_ok += none_expected
        else:
            given += 1
            if r.answer.ext_id in expected and not none_expected:
                right += 1
            else:
                wrong += 1
        if none_expected:
            continue
        answerable += 1
        ranked = [c.entry.ext_id for c in r.candidates]
        top1 += bool(ranked) and ranked[0] in expected
        top3 += any(x in expected for x in ranked[:3])
        mrr += next((1 / rank for rank, x in enumerate(ranked, start=1) if x in expected), 0.0)
    n = len(rows)
    return {
        "questions": n,
        "top1": top1 / answerable if answerable else 0.0,
        "top3": top3 / answerable if answerable else 0.0,
        "mrr": mrr / answerable if answerable else 0.0,
        "answered": given / n if n else 0.0,
        "accuracy": (right + abstain_ok) / n if n else 0.0,
        "wrong_share": wrong / given if given else 0.0,
        "has_none": answerable < n,
        "tiers": tiers,
    }
