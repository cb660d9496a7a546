"""Framework coverage: for each control of ISO/IEC 42001 Annex A, NIST AI RMF or
the EU AI Act, the approved entries that answer it, and whether it is
covered, stale (every entry past its review-by date) or a gap.

The catalogue ships in `answer_bank/frameworks/*.json`; an entry answers a
control through a framework reference such as `ISO42001:A.6.2.4`,
`NIST-AI-RMF:GOVERN 1.1` or `EU-AI-ACT:Art.13` (a paragraph such as
`Art.13(3)` counts for its article).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape

from answer_bank.model import BankEntry
from answer_bank.store import Bank, BankError

FRAMEWORKS = ("iso42001", "nist-ai-rmf", "eu-ai-act")
STATES = ("covered", "stale", "gap")
STATE_COLOURS = {"covered": "#2e7d32", "stale": "#f9a825", "gap": "#c62828"}
# A mark besides the colour, for readers who cannot tell the colours apart.
_MARKS = {"covered": "", "stale": " !", "gap": " ✕"}
_TEXT_COLOURS = {"covered": "#fff", "stale": "#222", "gap": "#fff"}
STATE_LABELS = {"covered": "covered", "stale": "stale (review overdue)", "gap": "gap (no approved answer)"}


class UnknownFramework(BankError):
    def __init__(self, key: str):
        super().__init__(f"unknown framework {key!r}; use one of {', '.join(FRAMEWORKS)}")


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    description: str
    group_id: str
    group_title: str


@dataclass(frozen=True)
class ControlGroup:
    id: str
    title: str
    controls: tuple[Control, ...]


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    ref_prefix: str
    groups: tuple[ControlGroup, ...]

    @property
    def controls(self) -> list[Control]:
        return [c for g in self.groups for c in g.controls]

    def control_for(self, ref: str) -> Control | None:
        """The control a framework reference points at, or None (another
        framework, or an id the catalogue does not list)."""
        prefix, sep, rest = ref.partition(":")
        if not sep or prefix.strip().casefold() != self.ref_prefix.casefold():
            return None
        wanted = _norm_id(rest)
        # Longest id first, so A.6.2.4 wins over a shorter id it starts with.
        for norm, control in self._ids:
            if wanted == norm or (wanted.startswith(norm) and wanted[len(norm)] in " (.-/"):
                return control
        return None

    @cached_property
    def _ids(self) -> list[tuple[str, Control]]:
        """(normalised id, control), longest id first; worked out once per framework."""
        return sorted(((_norm_id(c.id), c) for c in self.controls), key=lambda p: -len(p[0]))


def _norm_id(value: str) -> str:
    value = " ".join(value.split()).upper()
    return re.sub(r"\.\s+", ".", value)  # "Art. 13" → "ART.13"


@lru_cache(maxsize=None)
def load_framework(key: str) -> Framework:
    """The framework catalogue by key (iso42001, nist-ai-rmf, eu-ai-act). Raises UnknownFramework."""
    if key not in FRAMEWORKS:
        raise UnknownFramework(key)
    with resources.files("answer_bank").joinpath("frameworks", f"{key}.json").open("rb") as fp:
        data = json.load(fp)
    groups = tuple(
        ControlGroup(g["id"], g["title"], tuple(
            Control(c["id"], c["title"], c.get("description", ""), g["id"], g["title"]) for c in g["controls"]
        ))
        for g in data["groups"]
    )
    return Framework(key, data["name"], data["ref_prefix"], groups)


# ---- coverage -------------------------------------------------------------


@dataclass
class ControlCoverage:
    control: Control
    state: str  # covered | stale | gap
    entries: list[BankEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.control.id, "title": self.control.title, "state": self.state,
                "entries": [e.ext_id for e in self.entries]}


@dataclass
class CoverageReport:
    framework: Framework
    controls: list[ControlCoverage]
    # Approved entries citing this framework with an id the catalogue lacks.
    unmatched: list[tuple[BankEntry, str]] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for c in self.controls if c.state == state)

    def by_group(self) -> list[tuple[ControlGroup, list[ControlCoverage]]]:
        by_id = {c.control.id: c for c in self.controls}
        return [(g, [by_id[c.id] for c in g.controls]) for g in self.framework.groups]

    def entries(self) -> list[BankEntry]:
        """Every approved entry citing the framework, once, in catalogue order."""
        seen: dict[str, BankEntry] = {}
        for c in self.controls:
            for e in c.entries:
                seen.setdefault(e.ext_id, e)
        for e, _ in self.unmatched:
            seen.setdefault(e.ext_id, e)
        return list(seen.values())

    def to_json(self) -> dict[str, Any]:
        return {"framework": self.framework.key, "controls": [c.to_json() for c in self.controls]}

    def summary(self) -> str:
        return (f"{self.framework.name}: {self.count('covered')} covered, {self.count('stale')} stale, "
                f"{self.count('gap')} gaps of {len(self.controls)} controls")


def coverage(bank: Bank, framework: str, today: dt.date | None = None,
             entries: list[BankEntry] | None = None) -> CoverageReport:
    """Coverage of one framework by the bank's approved entries. Raises UnknownFramework."""
    fw = load_framework(framework)
    entries = bank.list_entries(status="approved") if entries is None else entries
    mapped: dict[str, list[BankEntry]] = {c.id: [] for c in fw.controls}
    unmatched: list[tuple[BankEntry, str]] = []
    for entry in entries:
        for ref in entry.frameworks:
            control = fw.control_for(ref)
            if control is not None:
                if all(e.ext_id != entry.ext_id for e in mapped[control.id]):
                    mapped[control.id].append(entry)
            elif ref.partition(":")[0].strip().casefold() == fw.ref_prefix.casefold():
                unmatched.append((entry, ref))
    controls = []
    for control in fw.controls:
        answering = mapped[control.id]
        if not answering:
            state = "gap"
        elif all(e.is_overdue(today) for e in answering):
            state = "stale"
        else:
            state = "covered"
        controls.append(ControlCoverage(control, state, answering))
    return CoverageReport(fw, controls, unmatched)


# ---- chart ------------------------------------------------------------------

_CELL_W, _CELL_H, _GAP, _LABEL_W, _TOP, _LEGEND_H = 92, 34, 4, 310, 44, 34


def coverage_svg(framework: str, bank: Bank | None = None, report: CoverageReport | None = None) -> str:
    """A self-contained SVG grid: one row per objective / category, one cell per
    control, coloured by state, each with a tooltip (title, state, entries).
    Uses presentation attributes only, so a strict Content-Security-Policy
    (no inline styles) still renders it. Raises UnknownFramework."""
    if report is None:
        if bank is None:
            raise ValueError("coverage_svg needs a bank or a report")
        report = coverage(bank, framework)
    rows = report.by_group()
    columns = max(len(cells) for _, cells in rows)
    width = _LABEL_W + columns * (_CELL_W + _GAP) + 10
    height = _TOP + len(rows) * (_CELL_H + _GAP) + _LEGEND_H + 10
    fw = report.framework
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="cov-title" '
        f'font-family="system-ui, -apple-system, Segoe UI, sans-serif">',
        f'<title id="cov-title">{escape(fw.name)} coverage: {escape(report.summary())}</title>',
        f'<text x="0" y="18" font-size="16" font-weight="bold" fill="#222">{escape(fw.name)}</text>',
        f'<text x="0" y="36" font-size="12" fill="#444">{report.count("covered")} covered, '
        f'{report.count("stale")} stale, {report.count("gap")} gaps of {len(report.controls)} controls</text>',
    ]
    y = _TOP
    for group, cells in rows:
        label = f"{_short_group(group.id)} {group.title}".strip()
        label = label if len(label) <= 44 else label[:43] + "…"
        out.append(f'<text x="0" y="{y + _CELL_H / 2 + 4:.0f}" font-size="12" fill="#222">'
                   f'<title>{escape(group.id)} {escape(group.title)}</title>{escape(label)}</text>')
        x = _LABEL_W
        for cell in cells:
            c = cell.control
            tip = f"{c.id} {c.title} — {STATE_LABELS[cell.state]}"
            if cell.entries:
                tip += ": " + ", ".join(e.ext_id for e in cell.entries)
            out.append(
                f'<g class="control state-{cell.state}" data-control="{escape(c.id)}" data-state="{cell.state}">'
                f'<title>{escape(tip)}</title>'
                f'<rect x="{x}" y="{y}" width="{_CELL_W}" height="{_CELL_H}" rx="4" '
                f'fill="{STATE_COLOURS[cell.state]}"/>'
                f'<text x="{x + _CELL_W / 2:.0f}" y="{y + _CELL_H / 2 + 4:.0f}" font-size="11" '
                f'text-anchor="middle" fill="{_TEXT_COLOURS[cell.state]}">'
                f'{escape(_short_control(c.id))}{_MARKS[cell.state]}</text></g>'
            )
            x += _CELL_W + _GAP
        y += _CELL_H + _GAP
    y += 10
    x = 0
    for state in STATES:
        out.append(f'<rect x="{x}" y="{y}" width="14" height="14" rx="2" fill="{STATE_COLOURS[state]}"/>'
                   f'<text x="{x + 20}" y="{y + 12}" font-size="12" fill="#222">'
                   f'{escape(STATE_LABELS[state])}{_MARKS[state]} ({report.count(state)})</text>')
        x += 230
    out.append("</svg>")
    return "\n".join(out)


def _short_group(group_id: str) -> str:
    return group_id if any(ch.isdigit() for ch in group_id) else ""


def _short_control(control_id: str) -> str:
    return control_id if len(control_id) <= 12 else control_id[:11] + "…"
