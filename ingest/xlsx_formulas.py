"""What a formula cell shows and what a dropdown offers: the one cell a
formula takes its value from (a reference or a fixed-column lookup), and the
options of a sheet's list validations, resolved against the workbook."""
from __future__ import annotations

import re
from typing import Iterable

from ingest.xlsx_package import SheetData, SheetInfo, _Package
from ingest.xlsx_refs import (_COL_RANGE, _F_DIRECT, _F_INDEX_MATCH, _F_VLOOKUP, _F_CONCAT_EMPTY, _F_WRAP, _RANGE_REF,
                              _SHEET_REF, _ranges, _split_ref, split_cell)


# ---- formulas: where a formula cell takes its value from ----------------------------------


def formula_source(pkg: "_Package", sheet: str, text: str) -> tuple[str, tuple[int, int]] | None:
    """The one cell a formula shows, when it is a plain reference or a lookup
    with a fixed column (VLOOKUP(key, range, n, 0), INDEX(range, MATCH(key, range, 0), n)),
    possibly wrapped in X&"" / IFERROR(X, "") / TRIM(X). None for anything computed."""
    f = text.strip().lstrip("=").strip()
    for _ in range(4):
        m = _F_CONCAT_EMPTY.match(f)
        inner = m.group(1).strip() if m else f
        w = _F_WRAP.match(inner)
        inner = w.group(1).strip() if w else inner
        if inner == f:
            break
        f = inner
    m = _F_DIRECT.match(f)
    if m:
        ref_sheet, cell = _split_ref(m.group(1), sheet)
        try:
            return ref_sheet, split_cell(cell)
        except ValueError:
            return None
    m = _F_VLOOKUP.match(f)
    if m:
        key, rng, n = m.group(1), m.group(2), int(m.group(3))
        return _lookup(pkg, sheet, key, rng, rng, n)
    m = _F_INDEX_MATCH.match(f)
    if m:
        rng, key, match_rng, n = m.group(1), m.group(2), m.group(3), int(m.group(4) or 1)
        return _lookup(pkg, sheet, key, match_rng, rng, n)
    return None


def _lookup(pkg: "_Package", sheet: str, key: str, match_rng: str, value_rng: str, n: int):
    """Where VLOOKUP / INDEX-MATCH finds `key`: (sheet, (row, col)) or None."""
    if key.startswith('"'):
        wanted = key[1:-1].replace('""', '"')
    else:
        key_sheet, key_cell = _split_ref(key, sheet)
        info = pkg.sheet_by_name(key_sheet)
        if info is None:
            return None
        try:
            r, c = split_cell(key_cell)
        except ValueError:
            return None
        wanted = pkg.sheet_data(info).rows.get(r, {}).get(c)
    if not wanted or not wanted.strip():
        return None
    m_sheet, m_cells = _split_ref(match_rng, sheet)
    v_sheet, v_cells = _split_ref(value_rng, sheet)
    m_r, v_r = _ranges(m_cells), _ranges(v_cells)
    info = pkg.sheet_by_name(m_sheet)
    if not m_r or not v_r or info is None or m_sheet != v_sheet:
        return None
    r1, c1, r2, _ = m_r[0]
    data = pkg.sheet_data(info)
    low = wanted.strip().lower()
    for r in sorted(k for k in data.rows if r1 <= k <= r2):
        if (data.rows[r].get(c1) or "").strip().lower() == low:
            return v_sheet, (r, v_r[0][1] + n - 1)
    return None


# ---- list validations -----------------------------------------------------------------


class _Options:
    """Resolves list validations of one sheet to their option texts."""

    def __init__(self, pkg: _Package, info: SheetInfo, data: SheetData, warnings: list[str]):
        self.pkg, self.info, self.data, self.warnings = pkg, info, data, warnings
        self.lists = [v for v in data.validations if v.type == "list" and v.formula1]
        self._cache: dict[str, list[str] | None] = {}
        self._warned: set[str] = set()

    def at(self, row: int, col: int) -> list[str] | None:
        for v in self.lists:
            for r1, c1, r2, c2 in v.ranges:
                if r1 <= row <= r2 and c1 <= col <= c2:
                    return self.resolve(v.formula1)
        return None

    def resolve(self, formula: str) -> list[str] | None:
        if formula not in self._cache:
            self._cache[formula] = self._resolve(formula, depth=0)
        return self._cache[formula]

    def _resolve(self, formula: str, depth: int) -> list[str] | None:
        f = formula.strip().lstrip("=")
        if not f or depth > 3:
            return None
        if f.startswith('"') and f.endswith('"') and len(f) >= 2:
            items = [p.strip() for p in f[1:-1].replace('""', '"').split(",")]
            return _dedupe(items) or None
        m = _SHEET_REF.match(f)
        if m:
            sheet_name = (m.group(1) or "").replace("''", "'") or m.group(2)
            if sheet_name.startswith("[") or "[" in sheet_name:
                return self._unresolved(formula, "it comes from another workbook (an external link, not fetched)")
            return self._range_values(sheet_name.strip(), m.group(3))
        if _RANGE_REF.match(f) or _COL_RANGE.match(f):
            return self._range_values(self.info.name, f)
        if re.fullmatch(r"[A-Za-z_\\][\w.\\]*", f):
            target = self._defined_name(f)
            if target is None:
                return self._unresolved(formula, "its list name is not defined in the workbook")
            if "#REF!" in target:
                return self._unresolved(formula, "its list name points at a deleted range (#REF!)")
            return self._resolve(target, depth + 1)
        return self._unresolved(formula, "the list is computed by a formula (not evaluated)")

    def _defined_name(self, name: str) -> str | None:
        low = name.lower()
        local = [t for n, scope, t in self.pkg.defined_names if n.lower() == low and scope == self.info.index]
        if local:
            return local[0]
        glob = [t for n, scope, t in self.pkg.defined_names if n.lower() == low and scope is None]
        return glob[0] if glob else None

    def _range_values(self, sheet_name: str, ref: str) -> list[str] | None:
        info = self.pkg.sheet_by_name(sheet_name)
        rng = _ranges(ref.replace("$", ""))
        if info is None or not rng:
            return self._unresolved(f"{sheet_name}!{ref}", "its source range is not in the workbook")
        data = self.data if info.part == self.info.part else self.pkg.sheet_data(info)
        r1, c1, r2, c2 = rng[0]
        out: list[str] = []
        for r in sorted(k for k in data.rows if r1 <= k <= r2):
            for c in range(c1, min(c2, c1 + 50) + 1):
                text = data.rows[r].get(c)
                if text and text.strip():
                    out.append(text.strip())
            if len(out) > 1000:
                break
        return _dedupe(out) or None

    def _unresolved(self, formula: str, why: str) -> None:
        if formula not in self._warned:
            self._warned.add(formula)
            self.warnings.append(
                f"{self.info.name}: a dropdown's options could not be read ({formula}: {why}); "
                "its answers are written as plain text"
            )
        return None


def _dedupe(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out
