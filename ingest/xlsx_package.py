"""The parts of an XLSX package as the reader needs them: workbook, sheets,
relationships, shared strings and defined names, and one streaming pass per
sheet (`_SheetParser`) giving cell texts, formulas, merges, hidden rows and
columns and list validations, rows counted as they come. See
ingest/xlsx_format.py."""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from functools import cached_property

from ingest.errors import DamagedFile, FileTooLarge, IngestError
from ingest.errors import DAMAGED_MESSAGE
from ingest.guard import Limits
from ingest.macros import has_macros
from ingest.ooxml import iter_member, open_zip, read_member, resolve_part, safe_expat_parser
from ingest.xlsx_refs import _local, _ranges, _unescape, col_index, shift_formula


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
                out[el[1].get("Id", "")] = (el[1].get("Type", ""), resolve_part(folder, target))
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
