"""The standardized response pack: the organisation's approved answers for one
framework, organised by its structure (group → control → entries), with a
cover page and the list of controls not covered. DOCX or XLSX.

This is what procurement sends instead of filling a form, so it holds text
only: an answer that starts with `=` is written to XLSX as a string, never a
formula (SECURITY.md 14), and an answer a format cannot hold fails loudly
with the entry named (SECURITY.md 15).
"""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

from answer_bank.coverage import CoverageReport, coverage
from answer_bank.curation_db import get_setting
from answer_bank.db import read_snapshot
from answer_bank.model import BankEntry
from answer_bank.store import Bank, BankError
from ingest.cells import CELL_LIMIT

FORMATS = ("docx", "xlsx")
XLSX_CELL_LIMIT = CELL_LIMIT
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


class PackError(BankError):
    pass


@dataclass
class PackInfo:
    framework: str
    framework_name: str
    organisation: str
    date: str
    revision: int
    entries: int
    controls: int
    covered: int
    stale: list[str]
    gaps: list[str]

    def summary(self) -> str:
        return (f"{self.framework_name} pack for {self.organisation}: {self.entries} approved answers, "
                f"{self.covered} of {self.controls} controls covered, {len(self.gaps)} not covered")


def pack_format(path: str | Path) -> str:
    ext = Path(str(path)).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise PackError(f"a pack is a .docx or .xlsx file, not {Path(str(path)).name!r}")
    return ext


def organisation_name(bank: Bank, given: str | None = None) -> str:
    """The name for the cover: given, else the bank's `organisation` setting. Raises PackError."""
    name = " ".join((given or get_setting(bank, "organisation") or "").split())
    if not name:
        raise PackError("name the organisation for the cover: --org NAME, or once for all packs "
                        "with `aimsq bank setting organisation NAME`")
    return name


def build_pack(bank: Bank, framework: str, fmt: str, *, organisation: str | None = None,
               today: dt.date | None = None) -> tuple[bytes, PackInfo]:
    """The pack as bytes, and what is in it. Raises UnknownFramework, PackError."""
    if fmt not in FORMATS:
        raise PackError(f"a pack is docx or xlsx, not {fmt!r}")
    org = organisation_name(bank, organisation)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    # One consistent read: the revision on the cover is the one the answers came from.
    with read_snapshot(bank.db):
        revision = bank.revision()
        report = coverage(bank, framework, today=today)
    entries = report.entries()
    for entry in entries:
        _check_text(entry)
    info = PackInfo(
        framework=framework, framework_name=report.framework.name, organisation=org,
        date=today.isoformat(), revision=revision, entries=len(entries), controls=len(report.controls),
        covered=report.count("covered") + report.count("stale"),
        stale=[c.control.id for c in report.controls if c.state == "stale"],
        gaps=[c.control.id for c in report.controls if c.state == "gap"],
    )
    buffer = io.BytesIO()
    (_write_docx if fmt == "docx" else _write_xlsx)(report, info, buffer)
    return buffer.getvalue(), info


def write_pack(bank: Bank, framework: str, path: str | Path, *, organisation: str | None = None) -> PackInfo:
    """Write the pack to `path` (.docx or .xlsx). Raises UnknownFramework, PackError."""
    data, info = build_pack(bank, framework, pack_format(path), organisation=organisation)
    Path(path).write_bytes(data)
    return info


# ---- shared -------------------------------------------------------------------


def _check_text(entry: BankEntry) -> None:
    for name, value in [("question", entry.question), ("answer", entry.answer),
                        *(("evidence", ev.to_text()) for ev in entry.evidence)]:
        if _XML_ILLEGAL.search(value or ""):
            raise PackError(f"entry {entry.ext_id}: the {name} contains control characters; edit the entry")
    if len(entry.answer) > XLSX_CELL_LIMIT or len(_evidence_text(entry)) > XLSX_CELL_LIMIT:
        raise PackError(f"entry {entry.ext_id}: the answer or its evidence list is longer than "
                        f"{XLSX_CELL_LIMIT:,} characters; shorten it")


def _evidence_lines(entry: BankEntry) -> list[str]:
    return [f"{ev.title} — {ev.ref}" if ev.ref else ev.title for ev in entry.evidence]


def _evidence_text(entry: BankEntry) -> str:
    return "\n".join(_evidence_lines(entry))


def _cover_lines(info: PackInfo) -> list[tuple[str, str]]:
    return [
        ("Organisation", info.organisation),
        ("Framework", info.framework_name),
        ("Date", info.date),
        ("Bank version", f"revision {info.revision}"),
        ("Approved answers", str(info.entries)),
        ("Controls answered", f"{info.covered} of {info.controls}"),
        ("Controls not covered", str(len(info.gaps))),
    ]


# ---- DOCX -------------------------------------------------------------------


def _write_docx(report: CoverageReport, info: PackInfo, fp) -> None:
    from docx import Document
    from docx.enum.text import WD_BREAK

    doc = Document()
    styles = _StyleIds(doc)
    doc.core_properties.title = f"{info.framework_name} — response pack"
    doc.core_properties.author = info.organisation
    doc.add_paragraph(f"{info.organisation}", style="Title")
    doc.add_paragraph(f"AI governance response pack — {info.framework_name}", style="Subtitle")
    table = doc.add_table(rows=0, cols=2)
    for label, value in _cover_lines(info):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    doc.add_paragraph(
        "The answers below are the organisation's approved answers, organised by the framework's "
        "structure. Each lists the evidence it rests on; evidence is available on request."
    )
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    for group, cells in report.by_group():
        styles.add(f"{group.id} {group.title}" if any(ch.isdigit() for ch in group.id) else group.title,
                   "Heading 1")
        for cell in cells:
            styles.add(f"{cell.control.id} {cell.control.title}", "Heading 2")
            if not cell.entries:
                doc.add_paragraph().add_run("No approved answer for this control yet.").italic = True
                continue
            for entry in cell.entries:
                _docx_entry(doc, styles, entry)
    if report.unmatched:
        styles.add(f"Other answers citing {info.framework_name}", "Heading 1")
        seen = set()
        for entry, ref in report.unmatched:
            if entry.ext_id not in seen:
                seen.add(entry.ext_id)
                styles.add(ref.partition(":")[2].strip(), "Heading 2")
                _docx_entry(doc, styles, entry)
    styles.add("Controls not covered", "Heading 1")
    gaps = [c.control for c in report.controls if c.state == "gap"]
    if not gaps:
        doc.add_paragraph("Every control of the framework has at least one approved answer.")
    for control in gaps:
        styles.add(f"{control.id} {control.title}", "List Bullet")
    doc.save(fp)


class _StyleIds:
    """Adds styled paragraphs by style id: python-docx looks a style up by name
    with a scan of the whole styles part on every paragraph, which made a
    200-answer pack take seconds."""

    def __init__(self, doc):
        self.doc = doc
        self.ids = {name: doc.styles[name].style_id for name in ("Heading 1", "Heading 2", "List Bullet")}

    def add(self, text: str, style: str):
        paragraph = self.doc.add_paragraph(text)
        paragraph._p.get_or_add_pPr().style = self.ids[style]
        return paragraph


def _docx_entry(doc, styles: _StyleIds, entry: BankEntry) -> None:
    question = doc.add_paragraph()
    question.add_run(entry.question).bold = True
    if entry.short_answer:
        p = doc.add_paragraph()
        p.add_run("Short answer: ").bold = True
        p.add_run(entry.short_answer)
    for block in re.split(r"\n\s*\n", entry.answer):
        doc.add_paragraph(block.strip())
    if entry.evidence:
        doc.add_paragraph().add_run("Evidence").bold = True
        for line in _evidence_lines(entry):
            styles.add(line, "List Bullet")
    meta = doc.add_paragraph()
    run = meta.add_run(f"Answer {entry.ext_id}, version {entry.version}"
                       + (f", approved {entry.approved_at[:10]}" if entry.approved_at else ""))
    run.italic = True


# ---- XLSX -------------------------------------------------------------------

ANSWER_COLUMNS = ["Group", "Group title", "Control", "Control title", "Answer id", "Question",
                  "Short answer", "Answer", "Evidence", "Version"]


def _write_xlsx(report: CoverageReport, info: PackInfo, fp) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    cover = wb.active
    cover.title = "Cover"
    _row(cover, [info.organisation])
    cover["A1"].font = Font(bold=True, size=16)
    _row(cover, [f"AI governance response pack — {info.framework_name}"])
    _row(cover, [])
    for label, value in _cover_lines(info):
        _row(cover, [label, value])
    cover.column_dimensions["A"].width, cover.column_dimensions["B"].width = 24, 60

    answers = wb.create_sheet("Answers")
    _row(answers, ANSWER_COLUMNS)
    for cell in answers[1]:
        cell.font = Font(bold=True)
    for group, cells in report.by_group():
        for cov in cells:
            c = cov.control
            if not cov.entries:
                _row(answers, [group.id, group.title, c.id, c.title, "", "", "", "(no approved answer yet)", "", ""])
            for e in cov.entries:
                _row(answers, [group.id, group.title, c.id, c.title, e.ext_id, e.question, e.short_answer or "",
                               e.answer, _evidence_text(e), str(e.version)])
    seen = set()
    for e, ref in report.unmatched:
        if e.ext_id not in seen:
            seen.add(e.ext_id)
            _row(answers, ["", "(other)", ref.partition(":")[2].strip(), "", e.ext_id, e.question,
                           e.short_answer or "", e.answer, _evidence_text(e), str(e.version)])
    widths = [10, 28, 12, 30, 16, 50, 12, 80, 40, 8]
    for i, w in enumerate(widths):
        answers.column_dimensions[chr(ord("A") + i)].width = w
    for row in answers.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    answers.freeze_panes = "A2"

    gaps = wb.create_sheet("Not covered")
    _row(gaps, ["Control", "Control title", "Group"])
    for cell in gaps[1]:
        cell.font = Font(bold=True)
    for cov in report.controls:
        if cov.state == "gap":
            _row(gaps, [cov.control.id, cov.control.title, cov.control.group_title])
    wb.save(fp)


def _row(ws, values: list[str]) -> None:
    """Append a row of TEXT cells: a value starting with '=' stays a string."""
    row = getattr(ws, "_pack_rows", 0) + 1
    ws._pack_rows = row
    for col, value in enumerate(values, start=1):
        if value in (None, ""):
            continue
        cell = ws.cell(row=row, column=col)
        cell.value = str(value)
        cell.data_type = "s"
