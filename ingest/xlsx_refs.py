"""Cell references in a workbook: column letters, "C3" names, ranges, the
_xHHHH_ escapes Excel stores, and the references inside formula text
(shifting a shared formula, the sheets a formula names)."""
from __future__ import annotations

import re
from functools import lru_cache

_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_RANGE_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})(?::\$?([A-Za-z]{1,3})\$?(\d{1,7}))?$")
_COL_RANGE = re.compile(r"^\$?([A-Za-z]{1,3}):\$?([A-Za-z]{1,3})$")
_SHEET_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!(.+)$")


# ---- column letters ---------------------------------------------------------------------


@lru_cache(maxsize=4096)
def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


@lru_cache(maxsize=4096)
def col_letter(index: int) -> str:
    out = ""
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def split_cell(ref: str) -> tuple[int, int]:
    """"C3" -> (3, 3) as (row, col)."""
    m = _CELL_REF.match(ref.strip())
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    return int(m.group(2)), col_index(m.group(1))


def cell_name(row: int, col: int) -> str:
    return f"{col_letter(col)}{row}"


def _ranges(sqref: str) -> list[tuple[int, int, int, int]]:
    out = []
    for part in sqref.split():
        m = _RANGE_REF.match(part)
        if m:
            c1, r1 = col_index(m.group(1)), int(m.group(2))
            c2, r2 = (col_index(m.group(3)), int(m.group(4))) if m.group(3) else (c1, r1)
            out.append((min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)))
            continue
        m = _COL_RANGE.match(part)
        if m:
            c1, c2 = col_index(m.group(1)), col_index(m.group(2))
            out.append((1, min(c1, c2), 1_048_576, max(c1, c2)))
    return out


def _unescape(text: str) -> str:
    """Excel stores characters XML cannot hold as _xHHHH_."""
    if "_x" not in text:
        return text
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _local(name: str) -> str:
    return name[name.rfind(" ") + 1:]


# ---- formula text -------------------------------------------------------------------------

# A cell reference in a formula, outside string literals: A1, $C$13, 'START HERE'!$A$13:$C$21
_F_STRING = re.compile(r'"(?:[^"]|"")*"')
_F_CELL = re.compile(r"(?<![A-Za-z0-9_.!$'])(\$?)([A-Z]{1,3})(\$?)(\d{1,7})(?![\d(A-Za-z_])")
_F_SHEET = re.compile(r"(?:'((?:[^']|'')+)'|([^\W\d][\w.]*))!")
_F_REF = r"(?:(?:'(?:[^']|'')+'|[^\W\d][\w.]*)!)?\$?[A-Z]{1,3}\$?\d{1,7}"
_F_RANGE = _F_REF + r"(?::\$?[A-Z]{1,3}\$?\d{1,7})?"
_F_DIRECT = re.compile(rf"^\(?({_F_REF})\)?$")
_F_VLOOKUP = re.compile(
    rf"^VLOOKUP\(\s*({_F_REF}|\"(?:[^\"]|\"\")*\")\s*,\s*({_F_RANGE})\s*,\s*(\d{{1,3}})\s*(?:,\s*(?:0|FALSE)\s*)?\)$",
    re.IGNORECASE,
)
_F_INDEX_MATCH = re.compile(
    rf"^INDEX\(\s*({_F_RANGE})\s*,\s*MATCH\(\s*({_F_REF}|\"(?:[^\"]|\"\")*\")\s*,\s*({_F_RANGE})\s*,\s*0\s*\)\s*"
    rf"(?:,\s*(\d{{1,3}})\s*)?\)$",
    re.IGNORECASE,
)
# Wrappers that do not change which cell is shown: X&"", ""&X, IFERROR(X,""), TRIM(X), T(X)
_F_CONCAT_EMPTY = re.compile(r'^(?:""\s*&\s*)?(.+?)(?:\s*&\s*"")?$', re.DOTALL)
_F_WRAP = re.compile(r'^(?:IFERROR|TRIM|T|CLEAN)\((.+?)(?:,\s*"(?:[^"]|"")*")?\)$', re.IGNORECASE | re.DOTALL)


def shift_formula(text: str, drow: int, dcol: int) -> str:
    """A shared formula's text as it reads in a cell `drow` rows, `dcol` columns from its master."""
    if not drow and not dcol:
        return text

    def shift(m: re.Match) -> str:
        col = m.group(2) if m.group(1) else col_letter(max(1, col_index(m.group(2)) + dcol))
        row = m.group(4) if m.group(3) else str(max(1, int(m.group(4)) + drow))
        return f"{m.group(1)}{col}{m.group(3)}{row}"

    return _outside_strings(text, lambda part: _F_CELL.sub(shift, part))


def _outside_strings(text: str, fn) -> str:
    out, pos = [], 0
    for m in _F_STRING.finditer(text):
        out.append(fn(text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(fn(text[pos:]))
    return "".join(out)


def formula_sheets(text: str) -> set[str]:
    """Names of the sheets a formula (or a list source) refers to."""
    found: set[str] = set()

    def collect(part: str) -> str:
        for m in _F_SHEET.finditer(part):
            found.add((m.group(1) or "").replace("''", "'") or m.group(2))
        return part

    _outside_strings(text, collect)
    return found


def _split_ref(ref: str, default_sheet: str) -> tuple[str, str]:
    if "!" in ref:
        sheet, _, cells = ref.rpartition("!")
        if sheet.startswith("'") and sheet.endswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
        return sheet, cells.replace("$", "")
    return default_sheet, ref.replace("$", "")
