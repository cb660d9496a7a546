"""XLSX / XLSM: read the questions, write the answers back into a copy.

Reading does not use openpyxl. One streaming pass per sheet over the package
XML (expat with defusedxml's protections, `guard.safe_expat_parser`) gives
what a questionnaire needs and openpyxl loses or makes slow:

- the cached value of every formula cell AND the fact that it is a formula
  (HECVAT builds its question text with VLOOKUP) in the same pass, where
  openpyxl needs two full loads (`data_only` and not);
- list validations from both `<dataValidations>` and the x14 extension
  (`<x14:dataValidation>`, which openpyxl drops with a warning), with list
  sources inline (`"Yes,No,NA"`), as a range (`Values!$A$4:$A$5`) or a
  defined name (`yes`), resolved against the workbook; an external or
  computed source is reported, never fetched or evaluated;
- rows counted as they stream (a forged `<dimension>` changes nothing) and
  the read stopped at `Limits.max_sheet_rows`;
- merged ranges, hidden rows, columns and sheets.
Loading the 15-sheet HECVAT this way takes a fraction of a second where
openpyxl takes six.

Writing patches the XML of the sheets that receive answers and copies every
other member of the package unchanged, because a load-and-save through
openpyxl would drop x14 validations, conditional-format extensions, slicers
and anything else it does not model. In a patched sheet only the target
`<c>` elements change: each becomes an inline string (`t="inlineStr"`), so an
answer starting with `=`, `+`, `-` or `@` can never become a formula (no
`<f>` element), the shared-string table is untouched, and the cell keeps its
style. A missing cell or row is inserted in order with the column's style.
A cell holding a formula is never written: the question is reported as
skipped ("formula cell"), so a sheet's computed cells (scores, guidance,
mirrored answers) keep working. When the workbook has formulas
`fullCalcOnLoad` is set so results that depend on the answers are
recalculated on opening. `write_xlsx_report` says, per fill, what was
written where, kept or skipped and why (`ingest.fill.ExportReport`).

Macros: an .xlsm is read without running or keeping anything from its VBA
project, and the filled copy is written as a plain .xlsx package (VBA
project removed, main part re-typed), so it must be saved with a .xlsx name.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from io import BytesIO
from typing import Iterable

from ingest.cells import CELL_LIMIT, flag_odd_text
from ingest.errors import DamagedFile, ExportError, FileTooLarge, IngestError
from ingest.guard import (
    DAMAGED_MESSAGE,
    Limits,
    copy_zipinfo,
    has_macros,
    iter_member,
    open_zip,
    read_member,
    safe_expat_parser,
    safe_member_name,
    strip_macros,
)
from ingest.layout import (
    ColumnHints,
    Grid,
    SheetLayout,
    asks,
    detect_questions,
    is_yes_no_options,
    norm,
    short_answer_family,
)
from ingest.model import AnswerFill, IngestHints, IngestResult, Locator, Question, SkippedSheet

EXCEL_CELL_LIMIT = CELL_LIMIT
_REL_NS_SUFFIX = "/relationships"
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_RANGE_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})(?::\$?([A-Za-z]{1,3})\$?(\d{1,7}))?$")
_COL_RANGE = re.compile(r"^\$?([A-Za-z]{1,3}):\$?([A-Za-z]{1,3})$")
_SHEET_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!(.+)$")
# Sheet names that hold no questions for a vendor to answer; read only when no
# other sheet has questions (or when named with --sheet).
_NOT_QUESTION_SHEET = re.compile(
    r"instruc|introduc|read ?me|guid(e|ance)|scor(e|es|ing)\b|summary|report|analyst|dashboard|change ?log|"
    r"revision|history|acknowledg|glossary|definitions?\b|lookup|^values?$|^lists?$|drop ?-?downs?|crosswalk|"
    r"mapping|^cover|^about|contents|legend|^config|^settings|^library|^metadata|^data ?validation",
    re.IGNORECASE,
)
_QUESTION_SHEET_WORDS = re.compile(r"question|pregunta|assessment|response|survey|cuestionario|fragebogen", re.IGNORECASE)


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


# ---- the package ---------------------------------------------------------------------


@dataclass
class SheetInfo:
    name: str
    part: str
    state: str  # visible | hidden | veryHidden
    index: int  # position among the workbook's <sheet> elements (localSheetId)


@dataclass
class Validation:
    ranges: list[tuple[int, int, int, int]]
    type: str
    formula1: str | None
    extension: bool = False  # x14


@dataclass
class SheetData:
    rows: dict[int, dict[int, str]] = field(default_factory=dict)
    formulas: set[tuple[int, int]] = field(default_factory=set)
    formula_text: dict[tuple[int, int], str] = field(default_factory=dict)  # shared formulas expanded
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)
    errors: set[tuple[int, int]] = field(default_factory=set)
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    row_count: int = 0
    cell_count: int = 0


class TooManyRows(FileTooLarge):
    """A sheet too big to read (rows, or filled cells in one row): skipped
    with a warning when another sheet holds the questions."""


class _Package:
    """The parts of an XLSX package the reader and writer need."""

    def __init__(self, data: bytes, limits: Limits):
        self.limits = limits
        self.zf = open_zip(data)
        self.names = set(self.zf.namelist())
        self.workbook_part = self._officedocument()
        wb_rels = self._rels(self.workbook_part)
        self.sheets: list[SheetInfo] = []
        self.defined_names: list[tuple[str, int | None, str]] = []
        self.shared_strings_part = None
        self.calc_chain_part = None
        for rid, (rtype, target) in wb_rels.items():
            if rtype.endswith("/sharedStrings"):
                self.shared_strings_part = target
            elif rtype.endswith("/calcChain"):
                self.calc_chain_part = target
        self._parse_workbook(wb_rels)
        self._shared: list[str] | None = None
        self._sheet_cache: dict[str, SheetData] = {}
        self.cells_read = 0
        self.cell_elements = 0  # <c> elements streamed, filled or not (the cells cap counts them as they come)

    # -- structure
    def _officedocument(self) -> str:
        for rtype, target in self._rels("").values():
            if rtype.endswith("/officeDocument"):
                return target
        if "xl/workbook.xml" in self.names:
            return "xl/workbook.xml"
        raise DamagedFile(DAMAGED_MESSAGE)

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        folder, _, base = part.rpartition("/")
        rels_name = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels" if base else "_rels/.rels"
        if rels_name not in self.names:
            return {}
        out: dict[str, tuple[str, str]] = {}
        for el in self._elements(rels_name):
            if el[0] == "Relationship" and el[1].get("TargetMode") != "External":
                target = el[1].get("Target", "")
                out[el[1].get("Id", "")] = (el[1].get("Type", ""), _resolve_target(folder, target))
        return out

    def _elements(self, part: str) -> list[tuple[str, dict[str, str]]]:
        """(local name, attributes) of every element of a small part."""
        out: list[tuple[str, dict[str, str]]] = []
        parser = safe_expat_parser()
        parser.StartElementHandler = lambda name, attrs: out.append((_local(name), {_local(k): v for k, v in attrs.items()}))
        _parse(parser, self.read(part))
        return out

    def read(self, part: str) -> bytes:
        if part not in self.names:
            raise DamagedFile(DAMAGED_MESSAGE)
        return read_member(self.zf, part, self.limits.max_member_bytes)

    def _parse_workbook(self, wb_rels) -> None:
        parser = safe_expat_parser()
        sheets = self.sheets
        names = self.defined_names
        state = {"name": None, "local": None, "text": []}

        def start(name, attrs):
            local = _local(name)
            if local == "sheet":
                position = state.setdefault("position", 0)
                state["position"] = position + 1
                rid = next((v for k, v in attrs.items() if _local(k) == "id" and k != "id"), attrs.get("id"))
                rel = wb_rels.get(rid or "")
                if rel is None:
                    raise DamagedFile(DAMAGED_MESSAGE)
                # chart and dialog sheets keep their position (localSheetId counts them) but hold no cells
                if position >= self.limits.max_sheets:
                    raise FileTooLarge(
                        f"The workbook has more than {self.limits.max_sheets:,} sheets, far more than a questionnaire; "
                        "it was not read. Delete the sheets that hold no questions and upload it again."
                    )
                if rel[0].endswith("/worksheet"):
                    sheets.append(SheetInfo(attrs.get("name", ""), rel[1], attrs.get("state", "visible"), position))
            elif local == "definedName":
                state["name"] = attrs.get("name")
                state["local"] = int(attrs["localSheetId"]) if attrs.get("localSheetId", "").isdigit() else None
                state["text"] = []

        def end(name):
            if _local(name) == "definedName" and state["name"]:
                names.append((state["name"], state["local"], "".join(state["text"])))
                state["name"] = None

        def chars(data):
            if state["name"]:
                state["text"].append(data)

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = chars
        _parse(parser, self.read(self.workbook_part))

    @cached_property
    def has_macros(self) -> bool:
        return has_macros(self.zf)

    # -- contents
    def shared_strings(self) -> list[str]:
        if self._shared is None:
            self._shared = []
            if self.shared_strings_part and self.shared_strings_part in self.names:
                self._shared = _read_shared_strings(self.zf, self.shared_strings_part, self.limits)
        return self._shared

    def sheet_by_name(self, name: str) -> SheetInfo | None:
        for s in self.sheets:
            if s.name == name:
                return s
        low = name.strip().lower()
        for s in self.sheets:
            if s.name.strip().lower() == low:
                return s
        return None

    def sheet_data(self, info: SheetInfo) -> SheetData:
        if info.part not in self._sheet_cache:
            if info.part not in self.names:
                raise DamagedFile(DAMAGED_MESSAGE)
            data = _SheetParser(self, info).run()
            self.cells_read += data.cell_count
            if self.cells_read > self.limits.max_cells:
                raise FileTooLarge(
                    f"The workbook has more than {self.limits.max_cells:,} filled cells; "
                    "that is far larger than a questionnaire. Remove the data sheets and try again."
                )
            self._sheet_cache[info.part] = data
        return self._sheet_cache[info.part]


def _resolve_target(folder: str, target: str) -> str:
    if target.startswith("/"):
        path = target.lstrip("/")
    else:
        path = f"{folder}/{target}" if folder else target
    parts: list[str] = []
    for piece in path.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _parse(parser, data: bytes) -> None:
    try:
        parser.Parse(data, True)
    except IngestError:
        raise
    except Exception as e:  # ExpatError and friends: a broken part
        raise DamagedFile(DAMAGED_MESSAGE) from e


def _parse_member(parser, zf: zipfile.ZipFile, part: str, limits: Limits) -> None:
    """_parse over a member streamed in chunks (a big sheet is never held whole)."""
    try:
        for block in iter_member(zf, part, limits.max_member_bytes):
            parser.Parse(block, False)
        parser.Parse(b"", True)
    except IngestError:
        raise
    except Exception as e:
        raise DamagedFile(DAMAGED_MESSAGE) from e


def _read_shared_strings(zf: zipfile.ZipFile, part: str, limits: Limits) -> list[str]:
    strings: list[str] = []
    buf: list[str] = []
    state = {"in_t": False, "phonetic": 0}
    parser = safe_expat_parser()

    def start(name, attrs):
        local = _local(name)
        if local == "t":
            state["in_t"] = not state["phonetic"]
        elif local == "rPh":
            state["phonetic"] += 1
        elif local == "si":
            buf.clear()

    def end(name):
        local = _local(name)
        if local == "t":
            state["in_t"] = False
        elif local == "rPh":
            state["phonetic"] -= 1
        elif local == "si":
            strings.append(_unescape("".join(buf)))
            if len(strings) > limits.max_cells:
                raise FileTooLarge("The workbook holds more text than any questionnaire; it was not read.")

    def chars(data):
        if state["in_t"]:
            buf.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    _parse_member(parser, zf, part, limits)
    return strings


class _SheetParser:
    """One streaming pass over a worksheet part."""

    def __init__(self, pkg: _Package, info: SheetInfo):
        self.pkg = pkg
        self.info = info
        self.out = SheetData()
        self.row = 0
        self.col = 0
        self.cell_type = "n"
        self.has_formula = False
        self.value: list[str] | None = None
        self.inline: list[str] | None = None
        self.capture: list[str] | None = None
        self.phonetic = 0
        self.in_is = False
        self.dv: Validation | None = None
        self.dv_formula: list[str] | None = None
        self.dv_sqref: list[str] | None = None
        self.in_dv_formula1 = False
        self.max_rows = pkg.limits.max_sheet_rows
        self.max_row_cells = pkg.limits.max_row_cells
        self.row_cells = 0
        self._locals: dict[str, str] = {}
        self.f_text: list[str] | None = None
        self.f_shared: str | None = None  # si of a shared formula
        self.f_master = False
        self.shared_masters: dict[str, tuple[int, int, str]] = {}
        self.shared_followers: list[tuple[int, int, str]] = []

    def _local(self, name: str) -> str:
        local = self._locals.get(name)
        if local is None:
            local = self._locals[name] = name[name.rfind(" ") + 1:]
        return local

    def run(self) -> SheetData:
        parser = safe_expat_parser()
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.chars
        _parse_member(parser, self.pkg.zf, self.info.part, self.pkg.limits)
        for r, c, si in self.shared_followers:
            master = self.shared_masters.get(si)
            if master is not None:
                self.out.formula_text[(r, c)] = shift_formula(master[2], r - master[0], c - master[1])
        return self.out

    def start(self, name, attrs):
        local = self._locals.get(name) or self._local(name)
        if local == "c":
            self.pkg.cell_elements += 1
            if self.pkg.cell_elements > self.pkg.limits.max_cells:
                raise FileTooLarge(
                    f"The workbook has more than {self.pkg.limits.max_cells:,} cells; "
                    "that is far larger than a questionnaire. Remove the data sheets and try again."
                )
            ref = attrs.get("r")
            letters = ref.rstrip("0123456789") if ref else None
            if letters and letters.isalpha() and len(letters) < len(ref):
                self.col = col_index(letters)
                self.row = int(ref[len(letters):])
            else:
                self.col += 1
            self.cell_type = attrs.get("t", "n")
            self.has_formula = False
            self.f_text = None
            self.f_shared = None
            self.value = None
            self.inline = None
        elif local == "v":
            self.value = []
            self.capture = self.value
        elif local == "row":
            r = attrs.get("r")
            self.row = int(r) if r and r.isdigit() else self.row + 1
            self.col = 0
            self.row_cells = 0
            self.out.row_count += 1
            if self.out.row_count > self.max_rows:
                raise TooManyRows(
                    f"Sheet '{self.info.name}' has more than {self.max_rows:,} rows — too many rows for a "
                    "questionnaire. Delete the unused rows (or the data sheet) and upload it again."
                )
            if attrs.get("hidden") in ("1", "true"):
                self.out.hidden_rows.add(self.row)
        elif local == "f":
            if self.in_dv_formula1:
                self.dv_formula = []
                self.capture = self.dv_formula
            else:
                self.has_formula = True
                self.f_text = []
                self.capture = self.f_text
                self.f_shared = attrs.get("si") if attrs.get("t") == "shared" else None
        elif local == "is":
            self.inline = []
            self.in_is = True
        elif local == "t":
            if self.in_is and not self.phonetic:
                self.capture = self.inline
        elif local == "rPh":
            self.phonetic += 1
        elif local == "mergeCell":
            rng = _ranges(attrs.get("ref", ""))
            if rng:
                self.out.merges.append(rng[0])
        elif local == "col":
            if attrs.get("hidden") in ("1", "true"):
                try:
                    lo, hi = int(attrs.get("min", "0")), int(attrs.get("max", "0"))
                except ValueError:
                    lo = hi = 0
                self.out.hidden_cols.update(range(lo, min(hi, 16384) + 1) if lo else [])
        elif local == "dataValidation":
            extension = "spreadsheetml/2009" in name or "x14" in name
            self.dv = Validation(_ranges(attrs.get("sqref", "")), attrs.get("type", "none"), None, extension)
        elif local == "formula1" and self.dv is not None:
            self.in_dv_formula1 = True
            self.dv_formula = []
            self.capture = self.dv_formula
        elif local == "sqref" and self.dv is not None:
            self.dv_sqref = []
            self.capture = self.dv_sqref

    def end(self, name):
        local = self._locals.get(name) or self._local(name)
        if local == "c":
            self._store()
        elif local == "v" or local == "t":
            self.capture = None
        elif local == "is":
            self.in_is = False
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "formula1":
            if self.dv is not None and self.dv_formula is not None:
                self.dv.formula1 = "".join(self.dv_formula).strip()
            self.in_dv_formula1 = False
            self.capture = None
        elif local == "f" and self.in_dv_formula1:
            if self.dv is not None and self.dv_formula is not None:
                self.dv.formula1 = "".join(self.dv_formula).strip()
            self.capture = None
        elif local == "f":
            self.capture = None
        elif local == "sqref" and self.dv is not None:
            self.dv.ranges.extend(_ranges("".join(self.dv_sqref or [])))
            self.capture = None
        elif local == "dataValidation" and self.dv is not None:
            self.out.validations.append(self.dv)
            self.dv = None

    def chars(self, data):
        if self.capture is not None:
            self.capture.append(data)

    def _store(self):
        t = self.cell_type
        text: str | None = None
        if t == "inlineStr" or self.inline is not None:
            text = _unescape("".join(self.inline or []))
        elif self.value is not None:
            raw = "".join(self.value)
            if t == "s":
                try:
                    text = self.pkg.shared_strings()[int(raw)]
                except (ValueError, IndexError):
                    text = None
            elif t == "str":
                text = _unescape(raw)
            elif t == "b":
                text = "TRUE" if raw.strip() in ("1", "true") else "FALSE"
            elif t == "e":
                self.out.errors.add((self.row, self.col))
                text = None
            else:
                text = _number_text(raw)
        key = (self.row, self.col)
        if self.has_formula:
            self.out.formulas.add(key)
            ftext = "".join(self.f_text or []).strip()
            if ftext:
                self.out.formula_text[key] = ftext
                if self.f_shared is not None:
                    self.shared_masters.setdefault(self.f_shared, (self.row, self.col, ftext))
            elif self.f_shared is not None:
                self.shared_followers.append((self.row, self.col, self.f_shared))
            if self.value is None and self.inline is None:
                self.out.formulas_without_value.add(key)
        if text is not None and text.strip():
            self.out.rows.setdefault(self.row, {})[self.col] = text
            self.out.cell_count += 1
            self.row_cells += 1
            if self.row_cells > self.max_row_cells:
                raise TooManyRows(
                    f"Sheet '{self.info.name}' has more than {self.max_row_cells:,} filled cells in row {self.row} — "
                    "far wider than a questionnaire. Delete the unused columns (or the data sheet) and upload it again."
                )


def _number_text(raw: str) -> str:
    raw = raw.strip()
    if raw.endswith(".0") and raw[:-2].lstrip("-").isdigit():
        return raw[:-2]
    return raw


# ---- formulas: where a formula cell takes its value from ----------------------------------

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


# ---- reading ------------------------------------------------------------------------------


def sheet_rows(data: bytes, limits: Limits, prefer: str | None = None) -> tuple[str, dict[int, dict[int, str]]]:
    """(sheet name, {row: {column: text}}) of one sheet of a package that passed
    the guard: the sheet named `prefer` when there is one, else the first
    worksheet. The same streaming reader as questionnaires, so rows are counted
    as they come (a forged `<dimension>` changes nothing) and every cap of
    `limits` applies. Raises DamagedFile, FileTooLarge or IngestError."""
    pkg = _Package(data, limits)
    if not pkg.sheets:
        raise IngestError("The workbook has no worksheets.")
    info = (pkg.sheet_by_name(prefer) if prefer else None) or pkg.sheets[0]
    return info.name, pkg.sheet_data(info).rows


def read_xlsx(data: bytes, hints: IngestHints | None = None, limits: Limits | None = None) -> IngestResult:
    """Questions from an XLSX/XLSM package that passed the guard.

    Raises DamagedFile, FileTooLarge (too many rows / cells) or IngestError
    (an unknown --sheet or column hint).
    """
    hints = hints or IngestHints()
    limits = limits or Limits.from_env()
    pkg = _Package(data, limits)
    warnings: list[str] = []
    if pkg.has_macros:
        warnings.append("The workbook contains macros; they were not run, and the filled copy is saved without them (.xlsx).")
    if not pkg.sheets:
        raise IngestError("The workbook has no worksheets.")

    skipped: dict[str, tuple[str, int]] = {}  # sheet -> (reason, question-like rows)
    chosen = _chosen_sheets(pkg, hints)
    if chosen is not None:
        first, later = chosen, []
        for s in pkg.sheets:
            if s not in chosen:
                skipped[s.name] = ("not among the sheets chosen to read", 0)
    else:
        first, later = [], []
        for s in pkg.sheets:
            if s.state != "visible":
                skipped[s.name] = ("hidden in the workbook (a back-end or helper sheet)", 0)
                continue
            looks_aside = _NOT_QUESTION_SHEET.search(s.name) and not _QUESTION_SHEET_WORDS.search(s.name)
            (later if looks_aside else first).append(s)
        hidden = [s.name for s in pkg.sheets if s.state != "visible"]
        if hidden:
            warnings.append(
                "Hidden sheets were not read: " + ", ".join(f"'{n}'" for n in hidden)
                + " (use --sheet NAME to read one)."
            )

    layouts: list[tuple[SheetInfo, SheetLayout, SheetData, _Options]] = []
    too_big: list[TooManyRows] = []
    for group in (first, later):
        if layouts:
            for info in group:
                skipped[info.name] = ("named like instructions, scoring or reference material, "
                                      "and other sheets hold the questions", 0)
            continue
        for info in group:
            try:
                sheet = pkg.sheet_data(info)
            except TooManyRows as e:
                too_big.append(e)
                skipped[info.name] = ("too many rows for a questionnaire", 0)
                continue
            options = _Options(pkg, info, sheet, warnings)
            grid = Grid(
                info.name, sheet.rows, sheet.hidden_rows, sheet.hidden_cols, sheet.merges,
                options_at=options.at, col_name=col_letter,
            )
            col_hints = _column_hints(grid, hints)
            layout = detect_questions(grid, col_hints)
            if layout.questions:
                layouts.append((info, layout, sheet, options))
            else:
                skipped[info.name] = ("no question rows found", 0)
    if not layouts and too_big:
        raise too_big[0]
    for e in too_big:
        warnings.append(str(e) + " It was skipped.")

    # A sheet that defines the answer types of another one is not a questionnaire.
    definition_sheets: set[str] = set()
    for info, layout, _, _ in layouts:
        definition_sheets |= _apply_answer_codes(pkg, layout, layout.questions, warnings)
    for t in layouts:
        if t[0].name in definition_sheets:
            skipped[t[0].name] = ("it defines the answer types another sheet uses", len(t[1].questions))
    layouts = [t for t in layouts if t[0].name not in definition_sheets]
    if chosen is None:
        layouts = _vendor_facing(pkg, layouts, skipped, warnings)

    # Formula answer cells: a mirror of another question's answer cell is dropped
    # (that question is answered once, where the vendor types); any other formula
    # cell is kept and marked not writable.
    formula_notes = _formula_answers(pkg, layouts)

    questions: list[Question] = []
    seen: set[tuple[str | None, str]] = set()
    # Keep each question once: the best-scoring sheet wins a duplicate.
    keep: dict[int, set[int]] = {}
    for i, (info, layout, _, _) in sorted(enumerate(layouts), key=lambda t: -t[1][1].score):
        rows = set()
        for fq in layout.questions:
            note = formula_notes.get((info.name, fq.row))
            if note is not None and note[0] == "mirror":
                continue
            key = (fq.ref, norm(fq.text))
            if key in seen:
                continue
            seen.add(key)
            rows.add(fq.row)
        keep[i] = rows
    layout_report: dict[str, dict] = {}
    for i, (info, layout, sheet, options) in enumerate(layouts):
        kept = [fq for fq in layout.questions if fq.row in keep[i]]
        mirrors = sum(1 for fq in layout.questions if formula_notes.get((info.name, fq.row), ("",))[0] == "mirror")
        if not kept:
            skipped[info.name] = ("its questions are all answered on other sheets", len(layout.questions))
            continue
        warnings.extend(layout.warnings)
        kind_default = _column_kind(kept)
        if len(layouts) > 1:  # one sheet per domain: the sheet name is the section when the sheet has none
            for fq in kept:
                fq.section = fq.section or info.name
        for fq in kept:
            q = _to_question(info, fq, kind_default, sheet)
            note = formula_notes.get((info.name, fq.row))
            if note is not None:
                q.not_writable = note[1]
                q.notes = [n for n in q.notes if "holds a formula" not in n] + [f"not writable: {note[1]}"]
            questions.append(q)
        hidden_rows = [fq.row for fq in kept if fq.hidden]
        if hidden_rows:
            warnings.append(
                f"{info.name}: {len(hidden_rows)} question(s) are in hidden rows "
                f"({_row_list(hidden_rows)}); they are included and marked 'hidden in source'."
            )
        for role, col in (("question", layout.roles.question), ("answer", layout.roles.answer)):
            if col is not None and col in sheet.hidden_cols:
                warnings.append(f"{info.name}: the {role} column {col_letter(col)} is hidden in the file.")
        no_value = sorted(r for r, c in sheet.formulas_without_value if c == layout.roles.question)
        if no_value:
            warnings.append(
                f"{info.name}: {len(no_value)} question cell(s) are formulas without a saved result "
                f"({_row_list(no_value)}); open the file in Excel, save it, and upload it again."
            )
        layout_report[info.name] = {
            "ref_col": col_letter(layout.roles.ref) if layout.roles.ref else None,
            "question_col": col_letter(layout.roles.question) if layout.roles.question else None,
            "answer_col": col_letter(layout.roles.answer) if layout.roles.answer else None,
            "comment_col": col_letter(layout.roles.comment) if layout.roles.comment else None,
            "header_rows": layout.header_rows,
            "questions": len(kept),
            "mirrors": mirrors,
            "not_writable": sum(1 for fq in kept if (info.name, fq.row) in formula_notes),
        }
    _flag_odd_text(questions, warnings)
    if not questions:
        warnings.append(
            "No questions were found. If the workbook is a questionnaire, name the sheet and columns "
            "with --sheet, --question-col and --answer-col."
        )
    order = {s.name: i for i, s in enumerate(pkg.sheets)}
    skipped_list = [SkippedSheet(name, reason, n) for name, (reason, n) in
                    sorted(skipped.items(), key=lambda kv: order.get(kv[0], 0)) if name not in layout_report]
    layout = {"sheets": layout_report, "skipped": [s.to_json() for s in skipped_list]}
    return IngestResult("xlsx", questions, warnings, layout=layout, skipped_sheets=skipped_list)


def _chosen_sheets(pkg: _Package, hints: IngestHints) -> list[SheetInfo] | None:
    """The sheets a person named (--sheet / the review app's choice), in workbook order, or None."""
    names = list(hints.sheets or []) + ([hints.sheet] if hints.sheet else [])
    if not names:
        return None
    out: list[SheetInfo] = []
    for name in names:
        info = pkg.sheet_by_name(name)
        if info is None:
            listed = ", ".join(f"'{s.name}'" for s in pkg.sheets)
            raise IngestError(f"There is no sheet named '{name}'. The sheets are: {listed}.")
        if info not in out:
            out.append(info)
    return sorted(out, key=lambda s: s.index)


# Column headers that are field identifiers (ig_id, control_text): a data table for a program
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
# A sheet whose answer cells are this share formulas shows answers, it does not collect them
_FORMULA_SHEET_SHARE = 0.8


def _vendor_facing(pkg: _Package, layouts: list, skipped: dict[str, tuple[str, int]], warnings: list[str]) -> list:
    """The sheets meant for the vendor's answers; the others go to `skipped` with the reason.

    Evidence, per sheet, that holds for any workbook: its answer cells are
    formulas (an evaluation or summary view of answers typed elsewhere); other
    sheets look values up in it while it has no answer column of its own (a
    lookup table); its columns are named by field identifiers (a data table);
    a couple of question-like rows without an answer column beside real
    questionnaire sheets (notes).
    """
    out = []
    names = {t[0].name.lower() for t in layouts}
    for t in layouts:
        info, layout, sheet, _ = t
        copied_from = _copied_from(pkg, info, layout, sheet, names)
        if copied_from and len(layouts) > 1:
            skipped[info.name] = (
                f"its questions are copied by formula from {_name_list(copied_from)}: "
                "it shows that sheet again (for evaluation or reporting), it does not collect answers",
                len(layout.questions))
            continue
        cells = [fq.answer_cell for fq in layout.questions if fq.answer_cell]
        formulas = sum(1 for c in cells if c in sheet.formulas)
        if cells and formulas >= _FORMULA_SHEET_SHARE * len(cells) and len(layouts) > 1:
            sources = set()
            for c in cells:
                sources |= formula_sheets(sheet.formula_text.get(c, ""))
            where = f" from {_name_list(sources)}" if sources else ""
            skipped[info.name] = (
                f"its answer cells are formulas ({formulas} of {len(cells)}) that show values{where}: "
                "it reports or evaluates answers (for the receiving side), it does not collect them",
                len(layout.questions))
            continue
        out.append(t)
    if not out:  # every sheet's answers are formulas: nothing better to read, so read them (marked not writable)
        for t in layouts:
            skipped.pop(t[0].name, None)
        out = list(layouts)
    labelled = [t for t in out if t[1].roles.marks or (t[1].roles.answer is not None and not t[1].roles.answer_guessed)]
    if not labelled:
        return out
    referenced: dict[str, set[str]] = {}
    for info, layout, sheet, _ in out:
        texts = list(sheet.formula_text.values()) + [v.formula1 or "" for v in sheet.validations]
        for text in texts:
            for name in formula_sheets(text) | _named_sheets(pkg, text):
                if name.lower() != info.name.lower():
                    referenced.setdefault(name.lower(), set()).add(info.name)
    open_answers = sum(1 for t in labelled for fq in t[1].questions if not fq.existing_answer)
    labelled_open = open_answers >= 0.5 * max(1, sum(len(t[1].questions) for t in labelled))
    kept = []
    for t in out:
        info, layout, sheet, _ = t
        if t in labelled:
            kept.append(t)
            continue
        n = len(layout.questions)
        filled = sum(1 for fq in layout.questions if fq.existing_answer)
        users = referenced.get(info.name.lower())
        if users:
            skipped[info.name] = (
                f"other sheets ({_name_list(users)}) look values up in it and it has no answer column: "
                "a lookup table", n)
        elif _identifier_headers(sheet):
            skipped[info.name] = ("its columns are named by field identifiers and it has no answer column: "
                                  "a data table", n)
        elif labelled_open and n >= 3 and filled >= 0.9 * n:
            skipped[info.name] = ("every row is already filled in and it has no answer column, while the "
                                  "questionnaire's answers are still open: reference content", n)
        elif sum(1 for fq in layout.questions if asks(fq.text)) < 0.5 * n and not _column_used(sheet, layout.roles.answer):
            skipped[info.name] = ("its rows state things rather than ask, and no column is there for answers: "
                                  "reference content", n)
        elif n <= 2:
            warnings.append(f"Sheet '{info.name}' has {n} question-like row(s) but no answer column; it was not read.")
            skipped[info.name] = (f"{n} question-like row(s) and no answer column", n)
        else:
            kept.append(t)
    return kept


def _name_list(names: Iterable[str], limit: int = 3) -> str:
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def _copied_from(pkg: _Package, info: SheetInfo, layout: SheetLayout, sheet: SheetData, names: set[str]) -> set[str]:
    """The other question sheets this sheet's questions are pulled from by formula, when
    most of them are (an evaluation view repeats the questionnaire); else empty."""
    n = len(layout.questions)
    if n < 3:
        return set()
    sources: set[str] = set()
    copied = 0
    for fq in layout.questions:
        for col in (layout.roles.ref, layout.roles.question):
            text = sheet.formula_text.get((fq.row, col)) if col is not None else None
            src = formula_source(pkg, info.name, text) if text else None
            if src is not None and src[0].lower() in names and src[0].lower() != info.name.lower():
                sources.add(src[0])
                copied += 1
                break
    return sources if copied >= _FORMULA_SHEET_SHARE * n else set()


def _column_used(sheet: SheetData, col: int | None) -> bool:
    """Any cell of the column holds something (a heading, an answer)."""
    return col is not None and any(col in cells for cells in sheet.rows.values())


def _named_sheets(pkg: _Package, text: str) -> set[str]:
    """Sheets behind a defined name used as a list source (=yes_no)."""
    f = text.strip().lstrip("=")
    if not re.fullmatch(r"[A-Za-z_\\][\w.\\]*", f):
        return set()
    low = f.lower()
    return set().union(*[formula_sheets(t) for n, _, t in pkg.defined_names if n.lower() == low] or [set()])


def _identifier_headers(sheet: SheetData) -> bool:
    for r in sorted(sheet.rows)[:5]:
        cells = [t.strip() for t in sheet.rows[r].values() if t.strip()]
        if len(cells) >= 2:
            return sum(1 for t in cells if _IDENTIFIER.match(t)) >= 0.6 * len(cells)
    return False


def _formula_answers(pkg: _Package, layouts: list) -> dict[tuple[str, int], tuple[str, str]]:
    """(sheet, row) -> ("mirror" | "formula", reason) for questions whose answer cell is a formula."""
    typed: dict[tuple[str, tuple[int, int]], str] = {}
    for info, layout, sheet, _ in layouts:
        for fq in layout.questions:
            if fq.answer_cell and fq.answer_cell not in sheet.formulas:
                typed[(info.name.lower(), fq.answer_cell)] = info.name
    out: dict[tuple[str, int], tuple[str, str]] = {}
    for info, layout, sheet, _ in layouts:
        for fq in layout.questions:
            cell = fq.answer_cell
            if not cell or cell not in sheet.formulas:
                continue
            here = f"{info.name}!{cell_name(*cell)}"
            text = sheet.formula_text.get(cell)
            src = formula_source(pkg, info.name, text) if text else None
            if src is not None:
                target = pkg.sheet_by_name(src[0])
                where = f"{target.name if target else src[0]}!{cell_name(*src[1])}"
                if target is not None and (target.name.lower(), src[1]) in typed:
                    out[(info.name, fq.row)] = ("mirror", f"its answer cell {here} shows the answer given at {where}")
                    continue
                out[(info.name, fq.row)] = (
                    "formula", f"the answer cell {here} is a formula that shows {where}; "
                    "Excel fills it in, so it is left as it is")
            else:
                out[(info.name, fq.row)] = (
                    "formula", f"the answer cell {here} is a formula whose value Excel computes; "
                    "it is left as it is")
    return out


def _row_list(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _column_hints(grid: Grid, hints: IngestHints) -> ColumnHints:
    def resolve(value: str | None, flag: str) -> int | None:
        if value is None or not str(value).strip():
            return None
        v = str(value).strip()
        if re.fullmatch(r"[A-Za-z]{1,3}", v):
            return col_index(v)
        if v.isdigit():
            return int(v)
        low = norm(v)
        for r in sorted(grid.rows)[:200]:
            for c, text in sorted(grid.rows[r].items()):
                if norm(text) == low:
                    return c
        for r in sorted(grid.rows)[:200]:
            for c, text in sorted(grid.rows[r].items()):
                if len(text) < 80 and low in norm(text):
                    return c
        raise IngestError(f"{flag} {value!r}: no column with that letter or heading in sheet '{grid.name}'.")

    return ColumnHints(
        question=resolve(hints.question_col, "--question-col"),
        answer=resolve(hints.answer_col, "--answer-col"),
        comment=resolve(hints.comment_col, "--comment-col"),
    )


def _column_kind(found) -> str:
    """yes_no_na for an answer column without a dropdown whose answers are Yes/No-like."""
    answers = [fq.existing_answer for fq in found if fq.existing_answer]
    if len(answers) >= 3 and sum(1 for a in answers if short_answer_family(a)) >= 0.8 * len(answers):
        return "yes_no_na"
    return "text"


def _to_question(info: SheetInfo, fq, kind_default: str, sheet: SheetData) -> Question:
    options = fq.options
    if options:
        kind = "yes_no_na" if is_yes_no_options(options) else "choice"
    else:
        kind = kind_default
    notes = list(fq.notes)
    if fq.marks:
        marks = tuple((label, Locator(sheet=info.name, cell=cell_name(*cell))) for label, cell in fq.marks)
        answer_at = Locator(sheet=info.name, cell=marks[0][1].cell, marks=marks)
        kind = "yes_no_na" if is_yes_no_options(options) else "choice"
    elif fq.answer_cell:
        answer_at = Locator(sheet=info.name, cell=cell_name(*fq.answer_cell))
    else:
        answer_at = Locator(sheet=info.name)
    comment_at = Locator(sheet=info.name, cell=cell_name(*fq.comment_cell)) if fq.comment_cell else None
    if fq.answer_cell and fq.answer_cell in sheet.formulas:
        notes.append("the answer cell holds a formula; writing an answer replaces it")
    return Question(
        text=fq.text, answer_at=answer_at, ref=fq.ref, section=fq.section, answer_kind=kind,
        options=list(options) if options else None, comment_at=comment_at,
        existing_answer=fq.existing_answer, existing_comment=fq.existing_comment,
        hidden=fq.hidden or info.state != "visible", notes=notes,
    )


def _apply_answer_codes(pkg: _Package, layout: SheetLayout, found, warnings: list[str]) -> set[str]:
    """An 'answer' column that holds answer-type codes (RESP01, TEXT) defined in another
    sheet, as GRC library templates do: the codes give the options, not answers.
    Returns the names of the sheets that define the codes."""
    values = [fq.existing_answer for fq in found if fq.existing_answer]
    if len(values) < 3 or len(found) < 3:
        return set()
    codes = set(values)
    if len(codes) > 12 or not all(re.fullmatch(r"[A-Z][A-Z0-9_\-]{2,30}", v) for v in codes):
        return set()
    if len(values) < 0.8 * len(found) or short_answer_family(next(iter(codes))):
        return set()
    definitions: dict[str, tuple[list[str] | None, str]] = {}
    sources: set[str] = set()
    for info in pkg.sheets:
        if info.name == layout.name:
            continue
        try:
            data = pkg.sheet_data(info)
        except IngestError:
            continue
        if data.row_count > 2000:
            continue
        header = data.rows.get(min(data.rows), {}) if data.rows else {}
        choice_cols = [c for c, t in header.items() if re.search(r"choice|option|values|opciones|valores", t, re.I)]
        type_cols = [c for c, t in header.items() if re.search(r"type|tipo", t, re.I)]
        for r, cells in data.rows.items():
            code = (cells.get(min(cells)) or "").strip() if cells else ""
            if code in codes:
                choices = None
                for c in choice_cols:
                    raw = cells.get(c)
                    if raw:
                        choices = _dedupe(p.strip() for p in re.split(r"[\n;|]", raw) if p.strip())
                kind = " ".join(cells.get(c, "") for c in type_cols).lower()
                definitions[code] = (choices, kind)
                sources.add(info.name)
    if not codes <= set(definitions):
        return set()
    for fq in found:
        code = fq.existing_answer
        if code in definitions:
            choices, kind = definitions[code]
            fq.existing_answer = None
            fq.options = choices if choices and "text" not in kind else None
    warnings.append(
        f"{layout.name}: column {col_letter(layout.roles.answer)} holds answer-type codes "
        f"({', '.join(sorted(codes))}) defined in another sheet; their options are used, and answers "
        "are written in that column in place of the code."
    )
    return sources


def _flag_odd_text(questions: list[Question], warnings: list[str]) -> None:
    flag_odd_text(questions, warnings, _where)


def _where(q: Question) -> str:
    loc = q.answer_at
    return f"{q.ref or q.text[:40]!r} in sheet '{loc.sheet}'"


# ---- writing ------------------------------------------------------------------------------


def write_xlsx(data: bytes, fills: list[AnswerFill], limits: Limits | None = None) -> bytes:
    """A filled copy of the workbook; see write_xlsx_report."""
    return write_xlsx_report(data, fills, limits)[0]


def write_xlsx_report(data: bytes, fills: list[AnswerFill], limits: Limits | None = None) -> tuple[bytes, "ExportReport"]:
    """A filled copy of the workbook and what happened to every fill; see the
    module docstring for what changes.

    A cell holding a formula is never written (the question is skipped,
    reason "formula cell"), nor is a question whose place is not writable, nor
    a cell another fill already writes; a value equal to what the cell holds
    is not written ("kept"). Raises ExportError when an answer cannot be
    written at all (longer than an Excel cell, an unknown sheet or cell).
    """
    from ingest.fill import ExportReport, ExportTally, plan_export

    limits = limits or Limits.from_env()
    pkg = _Package(data, limits)
    writes: dict[str, dict[tuple[int, int], tuple[str, Question]]] = {}
    report = ExportReport()
    for fill in fills:
        planned, notes, refusal = plan_export(fill)
        planned = planned + _cleared_marks(pkg, fill.question, planned)
        tally = ExportTally(fill, notes, refusal)
        for w in planned:
            loc = w.at
            if loc.sheet is None or loc.cell is None:
                tally.refuse(w, "not a place in a worksheet")
                continue
            info = pkg.sheet_by_name(loc.sheet)
            if info is None:
                raise ExportError(f"Cannot write the answer to {_qname(fill.question)}: there is no sheet '{loc.sheet}'.")
            try:
                key = split_cell(loc.cell)
            except ValueError:
                raise ExportError(f"Cannot write the answer to {_qname(fill.question)}: {loc.cell!r} is not a cell.") from None
            if len(w.value) > EXCEL_CELL_LIMIT:
                raise ExportError(
                    f"The answer to {_qname(fill.question)} is {len(w.value):,} characters; an Excel cell holds "
                    f"at most {EXCEL_CELL_LIMIT:,}. Shorten it and export again."
                )
            sheet = pkg.sheet_data(info)
            if key in sheet.formulas:
                tally.refuse(w, "formula cell (a formula is never replaced by an answer)")
                continue
            if key in writes.get(info.part, {}):
                other = writes[info.part][key][1]
                tally.refuse(w, f"the same cell takes the answer to {_qname(other)}")
                continue
            if sheet.rows.get(key[0], {}).get(key[1], "") == w.value:
                tally.same.append(w)
                continue
            writes.setdefault(info.part, {})[key] = (w.value, fill.question)
            tally.changed.append(w)
        report.questions.append(tally.result())
    replaced: dict[str, bytes] = {}
    formula_replaced = False
    for part, cells in writes.items():
        new, hit_formula = patch_sheet_xml(pkg.read(part), {k: v[0] for k, v in cells.items()},
                                           sheet=next(s.name for s in pkg.sheets if s.part == part))
        replaced[part] = new
        formula_replaced = formula_replaced or hit_formula
    if not replaced and not pkg.has_macros:
        return data, report
    drop: set[str] = set()
    if formula_replaced and pkg.calc_chain_part and pkg.calc_chain_part in pkg.names:
        drop.add(pkg.calc_chain_part)
        replaced.update(_without_calc_chain(pkg))
    if replaced and _has_formulas(pkg, replaced):
        wb = replaced.get(pkg.workbook_part) or pkg.read(pkg.workbook_part)
        replaced[pkg.workbook_part] = _full_calc_on_load(wb)
    out = _rezip(pkg.zf, replaced, drop)
    if pkg.has_macros:
        out = strip_macros(out)
    return out, report


def _cleared_marks(pkg: _Package, q: Question, planned) -> list:
    from ingest.fill import cleared_marks

    def is_marked(loc: Locator) -> bool:
        if loc.sheet is None or loc.cell is None:
            return False
        info = pkg.sheet_by_name(loc.sheet)
        if info is None:
            return False
        r, c = split_cell(loc.cell)
        return bool(pkg.sheet_data(info).rows.get(r, {}).get(c))

    return cleared_marks(q, planned, is_marked)


def _qname(q: Question) -> str:
    if q.ref:
        return f"question {q.ref}"
    text = " ".join(q.text.split())
    return f"question {text[:60]!r}" + ("…" if len(text) > 60 else "")


def _rezip(zf: zipfile.ZipFile, replaced: dict[str, bytes], drop: set[str]) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zf.infolist():
            if info.filename in drop or not safe_member_name(info.filename):
                continue
            body = replaced.get(info.filename)
            if body is None:
                body = zf.read(info.filename)
            zout.writestr(copy_zipinfo(info), body)
    return out.getvalue()


def _without_calc_chain(pkg: _Package) -> dict[str, bytes]:
    """The workbook rels and content types without the calculation chain (Excel rebuilds it)."""
    out: dict[str, bytes] = {}
    folder, _, base = pkg.workbook_part.rpartition("/")
    rels = f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"
    target = pkg.calc_chain_part.rsplit("/", 1)[-1]
    if rels in pkg.names:
        out[rels] = re.sub(
            rb'<Relationship\b[^>]*Target="[^"]*' + re.escape(target.encode()) + rb'"[^>]*/>', b"", pkg.read(rels)
        )
    if "[Content_Types].xml" in pkg.names:
        out["[Content_Types].xml"] = re.sub(
            rb'<Override\b[^>]*PartName="/' + re.escape(pkg.calc_chain_part.encode()) + rb'"[^>]*/>', b"",
            pkg.read("[Content_Types].xml"),
        )
    return out


def _has_formulas(pkg: _Package, replaced: dict[str, bytes]) -> bool:
    for s in pkg.sheets:
        body = replaced.get(s.part)
        if body is None:
            body = pkg.read(s.part)
        if re.search(rb"<(?:\w+:)?f[ >/]", body):
            return True
    return False


def _full_calc_on_load(wb: bytes) -> bytes:
    m = re.search(rb"<((?:\w+:)?)calcPr\b([^>]*?)(/?)>", wb)
    if m:
        if b"fullCalcOnLoad" in m.group(2):
            return wb
        return wb[: m.end(2)] + b' fullCalcOnLoad="1"' + wb[m.end(2):]
    m = re.search(rb"<((?:\w+:)?)workbook\b", wb)
    prefix = m.group(1) if m else b""
    for follower in (b"oleSize", b"customWorkbookViews", b"pivotCaches", b"smartTagPr", b"smartTagTypes",
                     b"webPublishing", b"fileRecoveryPr", b"webPublishObjects", b"extLst"):
        pos = wb.find(b"<" + prefix + follower)
        if pos >= 0:
            return wb[:pos] + b"<" + prefix + b'calcPr fullCalcOnLoad="1"/>' + wb[pos:]
    pos = wb.rfind(b"</" + prefix + b"workbook>")
    if pos < 0:
        return wb
    return wb[:pos] + b"<" + prefix + b'calcPr fullCalcOnLoad="1"/>' + wb[pos:]


# -- sheet XML patching


_TAG_END = re.compile(rb'"[^"]*"|\'[^\']*\'|>')


def _tag_end(data: bytes, pos: int) -> int:
    """Index just past the '>' closing the tag that starts at `pos` (quote-aware)."""
    while True:
        m = _TAG_END.search(data, pos)
        if m is None:
            raise DamagedFile(DAMAGED_MESSAGE)
        if m.group(0) == b">":
            return m.end()
        pos = m.end()


@dataclass
class _Elem:
    start: int
    name: str
    attrs: dict[str, str]
    end: int = -1  # index just past the element
    empty: bool = False
    raw_end: int = -1  # where expat reported the end event


@dataclass
class _Cell(_Elem):
    col: int = 0
    formula: dict[str, str] | None = None


@dataclass
class _Row(_Elem):
    number: int = 0
    cells: list[_Cell] = field(default_factory=list)


def patch_sheet_xml(xml: bytes, values: dict[tuple[int, int], str], sheet: str = "") -> tuple[bytes, bool]:
    """Set cell texts in one worksheet part; returns (new xml, a formula was replaced).

    Only the target <c> elements change (or are inserted); every other byte
    of the part stays as it was.
    """
    xml = _as_utf8(xml)
    target_rows = {r for r, _ in values}
    rows: list[_Row] = []
    cols: list[tuple[int, int, str | None]] = []
    state: dict = {"sheetData": None, "row": None, "cell": None, "dimension": None, "prefix": ""}
    parser = safe_expat_parser(namespaces=False)

    def start(name, attrs):
        local = name.rpartition(":")[2]
        idx = parser.CurrentByteIndex
        if local == "row":
            prev = rows[-1].number if rows else 0
            r = attrs.get("r")
            row = _Row(idx, name, attrs, number=int(r) if r and r.isdigit() else prev + 1)
            rows.append(row)
            state["row"] = row
            state["col"] = 0
        elif local == "c" and state["row"] is not None:
            state["col"] = state.get("col", 0) + 1
            ref = attrs.get("r")
            if ref:
                m = _CELL_REF.match(ref)
                if m:
                    state["col"] = col_index(m.group(1))
            if state["row"].number in target_rows:
                cell = _Cell(idx, name, attrs, col=state["col"])
                state["row"].cells.append(cell)
                state["cell"] = cell
        elif local == "f" and state["cell"] is not None:
            state["cell"].formula = dict(attrs)
        elif local == "sheetData":
            state["sheetData"] = _Elem(idx, name, attrs)
            state["prefix"] = name[: -len("sheetData")]
        elif local == "col":
            try:
                cols.append((int(attrs.get("min", "0")), int(attrs.get("max", "0")), attrs.get("style")))
            except ValueError:
                pass
        elif local == "dimension":
            state["dimension"] = _Elem(idx, name, attrs)

    def end(name):
        local = name.rpartition(":")[2]
        idx = parser.CurrentByteIndex
        if local == "c" and state["cell"] is not None:
            state["cell"].raw_end = idx  # resolved by _close only for the cells that change
            state["cell"] = None
        elif local == "row" and state["row"] is not None:
            if state["row"].number in target_rows:
                _close(xml, state["row"], idx)
            state["row"] = None
        elif local == "sheetData" and state["sheetData"] is not None:
            _close(xml, state["sheetData"], idx)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    _parse(parser, xml)
    sheet_data = state["sheetData"]
    if sheet_data is None:
        raise DamagedFile(DAMAGED_MESSAGE)
    prefix = state["prefix"]
    edits: list[tuple[int, int, bytes]] = []
    formula_replaced = False
    by_number = {row.number: row for row in rows}
    new_rows: dict[int, dict[int, str]] = {}
    for (r, c), text in sorted(values.items()):
        row = by_number.get(r)
        if row is None:
            new_rows.setdefault(r, {})[c] = text
            continue
        cell = next((x for x in row.cells if x.col == c), None)
        if cell is not None:
            _close(xml, cell, cell.raw_end)
            if cell.formula is not None:
                if cell.formula.get("ref") and cell.formula.get("t") in ("shared", "array"):
                    raise ExportError(
                        f"Cell {sheet}!{cell_name(r, c)} holds a formula that other cells depend on; "
                        "aimsq will not overwrite it. Check the answer column (--answer-col)."
                    )
                formula_replaced = True
            attrs = {k: v for k, v in cell.attrs.items() if k not in ("t", "cm", "vm", "ph")}
            edits.append((cell.start, cell.end, _cell_xml(prefix, attrs, text)))
        else:
            style = _column_style(cols, c) or (row.attrs.get("s") if row.attrs.get("customFormat") in ("1", "true") else None)
            attrs = {"r": cell_name(r, c)}
            if style:
                attrs["s"] = style
            new = _cell_xml(prefix, attrs, text)
            after = next((x for x in row.cells if x.col > c), None)
            if after is not None:
                edits.append((after.start, after.start, new))
            elif row.empty:
                tag_end = row.end
                edits.append((tag_end - 2, tag_end, b">" + new + b"</" + row.name.encode() + b">"))
            else:
                close_at = xml.rfind(b"</", row.start, row.end)
                edits.append((close_at, close_at, new))
            spans = row.attrs.get("spans")
            if spans and re.fullmatch(r"\d+:\d+", spans):
                lo, hi = (int(x) for x in spans.split(":"))
                if not lo <= c <= hi:
                    tag_end = _tag_end(xml, row.start)
                    head = xml[row.start:tag_end]
                    new_head = head.replace(f'spans="{spans}"'.encode(), f'spans="{min(lo, c)}:{max(hi, c)}"'.encode(), 1)
                    edits.append((row.start, tag_end, new_head))
    if new_rows:
        for r, cells in sorted(new_rows.items()):
            body = b"".join(
                _cell_xml(prefix, {"r": cell_name(r, c), **({"s": s} if (s := _column_style(cols, c)) else {})}, text)
                for c, text in sorted(cells.items())
            )
            row_xml = f"<{prefix}row r=\"{r}\">".encode() + body + f"</{prefix}row>".encode()
            after = next((x for x in rows if x.number > r), None)
            if after is not None:
                edits.append((after.start, after.start, row_xml))
            elif sheet_data.empty:
                edits.append((sheet_data.start, sheet_data.end,
                              f"<{prefix}sheetData>".encode() + row_xml + f"</{prefix}sheetData>".encode()))
            else:
                close_at = xml.rfind(b"</", sheet_data.start, sheet_data.end)
                edits.append((close_at, close_at, row_xml))
    dim = state["dimension"]
    if dim is not None and dim.attrs.get("ref"):
        new_ref = _grown_dimension(dim.attrs["ref"], values.keys())
        if new_ref != dim.attrs["ref"]:
            tag_end = _tag_end(xml, dim.start)
            head = xml[dim.start:tag_end]
            edits.append((dim.start, tag_end, head.replace(f'ref="{dim.attrs["ref"]}"'.encode(), f'ref="{new_ref}"'.encode(), 1)))
    # Apply from the end so earlier offsets stay valid; inserts at the same
    # offset keep their order (rows and cells were sorted above).
    edits.sort(key=lambda e: (e[0], e[1]))
    out = bytearray(xml)
    for start, stop, new in _merge_same_offset(edits)[::-1]:
        out[start:stop] = new
    return bytes(out), formula_replaced


def _merge_same_offset(edits: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    merged: list[tuple[int, int, bytes]] = []
    for e in edits:
        if merged and merged[-1][0] == e[0] and merged[-1][1] == merged[-1][0] and e[1] == e[0]:
            merged[-1] = (e[0], e[1], merged[-1][2] + e[2])
        else:
            merged.append(e)
    return merged


def _close(xml: bytes, el: _Elem, end_index: int) -> None:
    tag_end = _tag_end(xml, el.start)
    if xml[tag_end - 2:tag_end] == b"/>":
        el.empty = True
        el.end = tag_end
    else:
        el.end = _tag_end(xml, end_index)


def _as_utf8(xml: bytes) -> bytes:
    if xml[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = xml.decode("utf-16")
        text = re.sub(r'^(<\?xml[^>]*?encoding=")[^"]*(")', r"\1UTF-8\2", text)
        return text.encode("utf-8")
    return xml


def _column_style(cols: list[tuple[int, int, str | None]], c: int) -> str | None:
    for lo, hi, style in cols:
        if lo <= c <= hi:
            return style
    return None


def _grown_dimension(ref: str, cells: Iterable[tuple[int, int]]) -> str:
    rng = _ranges(ref)
    if not rng:
        return ref
    r1, c1, r2, c2 = rng[0]
    for r, c in cells:
        r1, c1, r2, c2 = min(r1, r), min(c1, c), max(r2, r), max(c2, c)
    return f"{cell_name(r1, c1)}:{cell_name(r2, c2)}" if (r1, c1) != (r2, c2) else cell_name(r1, c1)


def _attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def excel_text(text: str) -> str:
    """Text as Excel stores it in XML: literal _xHHHH_ sequences and characters
    XML cannot hold (control characters, CR) escaped as _xHHHH_."""
    text = _ESCAPED.sub(lambda m: "_x005F" + m.group(0), text)
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]", lambda m: f"_x{ord(m.group(0)):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell_xml(prefix: str, attrs: dict[str, str], text: str) -> bytes:
    attrs = dict(attrs)
    if text == "":  # a cleared cell keeps its style and holds nothing
        head = " ".join(f'{k}="{_attr(v)}"' for k, v in attrs.items())
        return f"<{prefix}c {head}/>".encode("utf-8")
    attrs["t"] = "inlineStr"
    head = " ".join(f'{k}="{_attr(v)}"' for k, v in attrs.items())
    body = excel_text(text)
    return (f"<{prefix}c {head}><{prefix}is><{prefix}t xml:space=\"preserve\">{body}</{prefix}t></{prefix}is></{prefix}c>"
            .encode("utf-8", "replace"))

