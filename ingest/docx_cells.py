"""Table cells and grids of a Word document as the docx readers see them:
merges resolved to their top-left cell, each cell's text, checkboxes,
dropdown and whether it is a place for an answer; the words that name
header columns and options; what the readers find (`_Found`, `_TableResult`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from ingest.docx_xml import (_MARKS, _SDTPR, _TC, _TCPR, _TR, _TRPR, _VAL, _block_paragraphs, _child_val, _clean, _int,
                             _scan_paragraph, _w)
from ingest.model import Question
from ingest.vocabulary import OPTION_WORDS, PROMPT_IMPERATIVES, PROMPT_INTERROGATIVES, YES_NO_NA


_BRACKETS = re.compile(r"\[([^\[\]]{2,400})\]")
_PLACEHOLDER_TEXT = re.compile(
    r"^(?:\[[^\[\]]*\]|<[^<>]*>|\{[^{}]*\}|«[^«»]*»|_{3,}|\.{4,}|…+|"
    r"click (?:or tap )?here to enter (?:a )?(?:text|date)\.?|enter (?:your )?(?:text|answer|response) here\.?|"
    r"type (?:here|your answer)\.?|insert (?:text|answer) here\.?|choose an item\.?|select (?:an? )?(?:item|option)\.?)$",
    re.I,
)
_CELL_REF = re.compile(
    r"^\(?(?:[A-Za-z]{1,6}[-&. ]?)?\d{1,3}(?:[.\-]\d{1,3}){0,4}[a-z]?[.):]?$|^\(?[A-Za-z][.)]$|^\(?[ivxIVX]{1,5}[.)]$"
)
_LEAD_REF = re.compile(
    r"^\s*((?:Q(?:uestion)?\s?)\d{1,3}(?:\.\d{1,3})*[a-z]?[.):]?|\d{1,3}(?:\.\d{1,3})+\.?[a-z]?[.)]?|\d{1,3}[a-z]?[.)]|"
    r"[A-Z]{1,5}[-.]\d{1,3}(?:[.\-]\d{1,3})*[.):]?|\(?[a-z]\))\s+(?=\S)"
)


def _norm_option(text: str) -> str:
    t = " ".join(text.lower().replace("’", "'").split()).strip(" .:;")
    return OPTION_WORDS.get(t, t)


class _Cell:
    """A cell of the layout grid (the top-left cell of a merge)."""

    def __init__(self, tc, row: int, col: int, span: int):
        self.tc = tc
        self.row = row
        self.col = col
        self.span = span
        self.paras, self.nested = _block_paragraphs(tc)
        self.scans = [_scan_paragraph(p) for p in self.paras]
        self.boxes = [b for s in self.scans for b in s.boxes]
        self.marker = any(s.marker for s in self.scans)
        self.showing_placeholder = any(s.placeholder for s in self.scans)
        self.text = "\n".join(s.text for s in self.scans).strip()
        self.flat = _clean(self.text)
        self.dropdown = _dropdown_options(tc)

    @property
    def empty(self) -> bool:
        return not self.flat and not self.boxes and not self.nested

    @property
    def placeholder(self) -> bool:
        return self.showing_placeholder or bool(self.flat and _PLACEHOLDER_TEXT.match(self.flat))

    @property
    def mark(self) -> bool:
        return self.flat.lower() in _MARKS

    @property
    def hint_options(self) -> list[str] | None:
        return None if self.marker or self.boxes or self.dropdown else _options_hint(self.flat)

    @property
    def answerish(self) -> bool:
        """Empty, a placeholder, checkboxes, a dropdown or an answer aimsq wrote: a place for an answer."""
        return self.empty or self.placeholder or bool(self.boxes) or self.marker or bool(self.dropdown)

    @property
    def answer_slot(self) -> bool:
        """A place for an answer when it sits where answers go (a hint listing choices counts too)."""
        return self.answerish or self.hint_options is not None

    @property
    def texty(self) -> bool:
        return bool(self.flat) and not self.answerish

    @property
    def label(self) -> str:
        """Text the cell holds before any answer written into it (a label like "Comments:")."""
        label = self.label_and_answer()[0]
        return "" if _PLACEHOLDER_TEXT.match(label or "-") else label

    def label_and_answer(self) -> tuple[str, str | None]:
        """For a cell that holds its own label: (label, text written after it)."""
        texts = [s.text.strip() for s in self.scans]
        marked = [i for i, s in enumerate(self.scans) if s.marker]
        if marked:
            first = marked[0]
            label = _clean(" ".join(texts[:first]))
            answer = "\n".join(t for t in texts[first:] if t).strip()
            return label, answer or None
        nonempty = [i for i, t in enumerate(texts) if t]
        if not nonempty:
            return "", None
        label = _clean(texts[nonempty[0]])
        rest = [texts[i] for i in nonempty[1:] if not _PLACEHOLDER_TEXT.match(_clean(texts[i]))]
        return label, ("\n".join(rest).strip() or None)


class _Grid:
    """A table's rows placed on its layout grid, merges resolved to their top-left cell."""

    def __init__(self, tbl):
        self.tbl = tbl
        self.trs = list(tbl.iterchildren(_TR))
        grid_cols = tbl.find(_w("tblGrid"))
        ncols = len(grid_cols.findall(_w("gridCol"))) if grid_cols is not None else 0
        rows: list[list[_Cell | None]] = []
        for r, tr in enumerate(self.trs):
            trpr = tr.find(_TRPR)
            c = _int(_child_val(trpr, "gridBefore"), 0) if trpr is not None else 0
            row: list[_Cell | None] = [None] * c
            for tc in tr.iterchildren(_TC):
                tcpr = tc.find(_TCPR)
                span = max(1, _int(_child_val(tcpr, "gridSpan"), 1)) if tcpr is not None else 1
                vmerge = tcpr.find(_w("vMerge")) if tcpr is not None else None
                above = rows[r - 1][c] if r > 0 and c < len(rows[r - 1]) else None
                if vmerge is not None and vmerge.get(_VAL, "continue") == "continue" and above is not None:
                    cell = above
                else:
                    cell = _Cell(tc, r, c, span)
                row.extend([cell] * span)
                c += span
            rows.append(row)
            ncols = max(ncols, len(row))
        for row in rows:
            row.extend([None] * (ncols - len(row)))
        self.rows = rows
        self.ncols = ncols

    def row_cells(self, r: int) -> list[_Cell]:
        """The cells that start in row r (merges counted once), left to right."""
        out: list[_Cell] = []
        for cell in self.rows[r]:
            if cell is not None and cell.row == r and (not out or out[-1] is not cell):
                out.append(cell)
        return out

    def cell(self, r: int, c: int) -> _Cell | None:
        if 0 <= r < len(self.rows) and 0 <= c < self.ncols:
            return self.rows[r][c]
        return None

    def full_width(self, r: int) -> bool:
        cells = self.row_cells(r)
        return len(cells) == 1 and cells[0].span >= self.ncols and self.ncols > 0

    def all_cells(self) -> Iterable[_Cell]:
        for r in range(len(self.rows)):
            yield from self.row_cells(r)


_STOPWORDS = {"of", "the", "and", "to", "for", "in", "on", "by", "with", "a", "an", "at", "from", "is", "are", "be"}


def _options_hint(text: str) -> list[str] | None:
    """Choices written into an answer cell as a hint: "Yes/no", "Remote, possible or probable", "Low medium high"."""
    t = text.strip().strip("[]()").strip()
    if not t or len(t) > 60 or any(ch in t for ch in "?:.;") and not t.lower().startswith("n.a"):
        return None
    words = t.split()
    if len(words) > 8 or any(w.lower() in _STOPWORDS for w in words):
        return None
    parts = [p.strip() for p in re.split(r"\s*(?:/|,|\||\bor\b)\s*", t) if p.strip()]
    if len(parts) < 2:
        if 3 <= len(words) <= 5 and all(w.isalpha() and len(w) <= 12 for w in words):
            parts = words
        else:
            return None
    if not 2 <= len(parts) <= 6 or any(len(p.split()) > 2 for p in parts):
        return None
    # "n/a" split on "/" gives "n" and "a"
    merged: list[str] = []
    for p in parts:
        if merged and merged[-1].lower() == "n" and p.lower() == "a":
            merged[-1] = merged[-1] + "/" + p
        else:
            merged.append(p)
    if len(merged) < 2:
        return None
    return [m[:1].upper() + m[1:] for m in merged]


def _kind_for(options: list[str]) -> str:
    return "yes_no_na" if options and {_norm_option(o) for o in options} <= YES_NO_NA else "choice"


def _promptish(text: str) -> bool:
    t = text.strip()
    if not t:
        return False
    if t.endswith(("?", ":")) or "?" in t:
        return True
    first = re.sub(r"[^a-z']", "", t.split()[0].lower())
    return first in PROMPT_INTERROGATIVES or first in PROMPT_IMPERATIVES


def _header_key(text: str) -> str:
    t = _clean(text).lower().replace("’", "'")
    t = t.strip(" :*")
    if t.endswith(".") and t not in OPTION_WORDS:
        t = t[:-1]
    return t


def _dropdown_options(tc) -> list[str] | None:
    """The items of a dropdown (or combo box) content control in the cell, without Word's "Choose an item." prompt."""
    for pr in tc.iter(_SDTPR):
        lst = pr.find(_w("dropDownList"))
        if lst is None:
            lst = pr.find(_w("comboBox"))
        if lst is None:
            continue
        items = []
        for item in lst.iterchildren(_w("listItem")):
            shown = item.get(_w("displayText")) or item.get(_w("value")) or ""
            if shown.strip() and item.get(_w("value"), shown) != "" and not _PLACEHOLDER_TEXT.match(shown.strip()):
                items.append(shown.strip())
        return items or None
    return None


def _written(cell: _Cell | None) -> str | None:
    """What a person (or aimsq) wrote in an answer or comment cell: not a placeholder or a hint."""
    if cell is None or not cell.flat or cell.placeholder or cell.boxes or cell.hint_options:
        return None
    return cell.text


@dataclass
class _Found:
    """A question found, with its place in document order for sorting."""

    key: tuple[int, int, int]
    question: Question


@dataclass
class _TableResult:
    layout: str
    found: list[_Found] = field(default_factory=list)
    requirement_rows: int = 0
    requirement_example: str | None = None
    prefilled_columns: list[str] = field(default_factory=list)
    answer_area: dict[str, Any] | None = None  # for a table answering the paragraph before it
