"""Writing answers into a copy of an XLSX workbook: only the target cells of
the sheets that receive answers change (inline strings, styles kept); every
other member is copied unchanged. See ingest/xlsx_format.py."""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from typing import Iterable

from ingest.cells import CELL_LIMIT
from ingest.errors import DAMAGED_MESSAGE, DamagedFile, ExportError
from ingest.guard import Limits
from ingest.macros import strip_macros
from ingest.ooxml import copy_zipinfo, safe_expat_parser, safe_member_name
from ingest.model import AnswerFill, Locator, Question
from ingest.xlsx_package import _Package, _parse
from ingest.xlsx_refs import _CELL_REF, _ESCAPED, _ranges, cell_name, col_index, split_cell

EXCEL_CELL_LIMIT = CELL_LIMIT


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
