"""CSV: read the questions, write the answers back into a copy.

Decoding is `ingest.encoding.decode_text`, shared by every CSV aimsq reads:
BOM, UTF-16 by its NUL bytes, strict UTF-8, else the code page
charset-normalizer finds (Windows-1252 preferred when it fits as well), with
a warning naming it. UTF-32 and binary data are refused. The text itself is
never altered.

The delimiter is the one of `, ; TAB |` that splits the first lines into the
most consistent number of fields (Excel writes `;` in many locales).

Shape is capped while reading: at most `Limits.max_csv_columns` fields in a
record and `Limits.max_cells` fields in all. Fields longer than the csv
module's default limit (131,072 characters) are read in full and flagged,
never cut; question text over 32,767 characters or with control characters
is flagged as in every format (`ingest.cells.flag_odd_text`).

Locators are `{"row": n, "column": header}`: n counts records (a quoted
field spanning lines is one record), 1-based, header = the first row of the
table. A table without an answer column gets one, named "Answer", appended
on the right when the answers are written.

Writing keeps the encoding, BOM, delimiter and line ending; every other field
keeps its value (quoting may be normalised). An answer that starts with
= + - @ TAB or CR is prefixed with a single quote so a spreadsheet opening
the file shows it as text instead of running it as a formula. An answer
longer than 32,767 characters fails the export: Excel cuts longer cells when
it opens a CSV.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ingest.cells import CELL_LIMIT, flag_odd_text, neutralise
from ingest.encoding import decode_text, encoding_label
from ingest.errors import ExportError, FileTooLarge, IngestError
from ingest.guard import Limits
from ingest.layout import ColumnHints, Grid, detect_questions
from ingest.model import AnswerFill, IngestHints, IngestResult, Locator, Question
from ingest.vocabulary import is_yes_no_options, norm, short_answer_family
from ingest.xlsx_refs import col_index

CSV_MODULE_LIMIT = 131_072  # csv.field_size_limit() default
EXCEL_CELL_LIMIT = CELL_LIMIT
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class Decoded:
    text: str
    encoding: str  # codec used to encode it back
    bom: bytes
    delimiter: str
    newline: str
    warning: str | None = None  # the encoding was inferred: name it to the user


def decode(data: bytes) -> Decoded:
    """Text, encoding, BOM, delimiter and line ending of a CSV file.

    Raises UnsupportedFormat (UTF-32, binary data) or IngestError (text that
    does not decode), from `ingest.encoding.decode_text`.
    """
    d = decode_text(data)
    text = d.text
    head = text[:65536]
    newline = "\r\n" if "\r\n" in head else ("\r" if "\r" in head and "\n" not in head else "\n")
    return Decoded(text, d.encoding, d.bom, _sniff_delimiter(text), newline, d.warning)


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text[:65536].splitlines()[:30] if ln.strip()]
    if not lines:
        return ","
    best, best_score = ",", -1.0
    for d in _DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=d))
        except csv.Error:
            continue
        counts = [len(r) for r in rows if r]
        if not counts or max(counts) < 2:
            continue
        mode = max(set(counts), key=counts.count)
        consistency = counts.count(mode) / len(counts)
        score = consistency * 10 + min(mode, 10) / 10
        if score > best_score:
            best, best_score = d, score
    return best


def parse(decoded: Decoded, limits: Limits) -> tuple[list[list[str]], list[str]]:
    """All records, and warnings about oversize fields."""
    warnings: list[str] = []
    # The limit is process-wide: raise it, never lower it back, so two files
    # parsed at once in the web app cannot cut each other off. Oversize
    # fields are reported below, by this module's own check.
    csv.field_size_limit(max(csv.field_size_limit(), len(decoded.text) + 1))
    reader = csv.reader(io.StringIO(decoded.text, newline=""), delimiter=decoded.delimiter)
    records: list[list[str]] = []
    cells = 0
    try:
        for rec in reader:
            records.append(rec)
            cells += len(rec)
            if len(rec) > limits.max_csv_columns:
                raise FileTooLarge(
                    f"Row {len(records)} of the CSV has {len(rec):,} columns; aimsq reads at most "
                    f"{limits.max_csv_columns:,} (as many as Excel has). Check that the file is the questionnaire "
                    "and that its separator is a comma, semicolon, tab or bar; remove the extra columns and try again."
                )
            if cells > limits.max_cells:
                raise FileTooLarge(
                    f"The CSV has more than {limits.max_cells:,} cells (by row {len(records):,}) — too many for a "
                    "questionnaire. Split it into smaller files, or remove columns it does not need, and try again."
                )
            if len(records) > limits.max_csv_rows:
                raise FileTooLarge(
                    f"The CSV has more than {limits.max_csv_rows:,} rows — too many rows for a questionnaire."
                )
    except csv.Error as e:
        raise IngestError(f"The CSV cannot be read near row {len(records) + 1}: {e}.") from None
    for i, rec in enumerate(records, start=1):
        for j, value in enumerate(rec):
            if len(value) > CSV_MODULE_LIMIT:
                warnings.append(
                    f"Row {i}, column {j + 1} holds {len(value):,} characters, more than the csv module's "
                    f"limit of {CSV_MODULE_LIMIT:,}; it was read in full — check the file."
                )
    return records, warnings


def read_csv(data: bytes, hints: IngestHints | None = None, limits: Limits | None = None) -> IngestResult:
    """Questions from a CSV file. Raises IngestError for unreadable text or a bad hint."""
    hints = hints or IngestHints()
    limits = limits or Limits.from_env()
    decoded = decode(data)
    records, warnings = parse(decoded, limits)
    if decoded.warning:
        warnings.insert(0, decoded.warning)
    if not any(any(v.strip() for v in rec) for rec in records):
        return IngestResult("csv", [], ["The CSV file is empty."])
    header_row, header = _header(records)
    rows = {
        i: {j + 1: v for j, v in enumerate(rec) if v.strip()}
        for i, rec in enumerate(records, start=1)
        if i >= header_row and any(v.strip() for v in rec)
    }
    names = _column_names(header, max((len(r) for r in records), default=0))
    grid = Grid("CSV", rows, col_name=lambda c: names[c - 1] if c - 1 < len(names) else "Answer")
    layout = detect_questions(grid, _hints(hints, names))
    warnings.extend(w.replace("CSV: ", "") for w in layout.warnings)
    questions: list[Question] = []
    yn = sum(1 for fq in layout.questions if short_answer_family(fq.existing_answer))
    answered = sum(1 for fq in layout.questions if fq.existing_answer)
    kind_default = "yes_no_na" if answered >= 3 and yn >= 0.8 * answered else "text"
    for fq in layout.questions:
        if fq.marks:
            marks = tuple((label, _locator(cell, names)) for label, cell in fq.marks)
            answer_at = Locator(row=fq.row, column=marks[0][1].column, col=marks[0][1].col, marks=marks)
        elif fq.answer_cell:
            answer_at = _locator(fq.answer_cell, names)
        else:
            answer_at = Locator(row=fq.row, column="Answer", col=len(names))
        kind = "yes_no_na" if is_yes_no_options(fq.options) else ("choice" if fq.marks else kind_default)
        questions.append(Question(
            text=fq.text, answer_at=answer_at, ref=fq.ref, section=fq.section, answer_kind=kind,
            options=list(fq.options) if fq.marks else None,
            comment_at=_locator(fq.comment_cell, names) if fq.comment_cell else None,
            existing_answer=fq.existing_answer, existing_comment=fq.existing_comment, notes=fq.notes,
        ))
    flag_odd_text(questions, warnings, lambda q: f"{q.ref or q.text[:40]!r} in row {q.answer_at.row}")
    if not questions:
        warnings.append("No questions were found. Name the columns with --question-col and --answer-col.")
    roles = layout.roles
    return IngestResult("csv", questions, warnings, layout={
        "encoding": decoded.encoding + (" with BOM" if decoded.bom else ""),
        "delimiter": decoded.delimiter,
        "header_row": header_row,
        "question_col": names[roles.question - 1] if roles.question and roles.question <= len(names) else None,
        "answer_col": grid.col_name(roles.answer) if roles.answer else None,
        "comment_col": grid.col_name(roles.comment) if roles.comment else None,
    })


def _header(records: list[list[str]]) -> tuple[int, list[str]]:
    for i, rec in enumerate(records, start=1):
        if any(v.strip() for v in rec):
            return i, [v.strip() for v in rec]
    return 1, []


def _column_names(header: list[str], width: int) -> list[str]:
    names: list[str] = []
    taken: set[str] = set()  # a list lookup here made wide files quadratic
    for j in range(max(width, len(header))):
        name = header[j] if j < len(header) and header[j] else f"Column {j + 1}"
        base, n = name, 2
        while name in taken:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
        taken.add(name)
    return names


def _locator(cell: tuple[int, int], names: list[str]) -> Locator:
    row, col = cell
    name = names[col - 1] if col - 1 < len(names) else "Answer"
    return Locator(row=row, column=name, col=col - 1)


def _hints(hints: IngestHints, names: list[str]) -> ColumnHints:
    def resolve(v: str, value: str, flag: str) -> int:
        for j, name in enumerate(names, start=1):
            if norm(name) == norm(v):
                return j
        if v.isdigit() and 1 <= int(v) <= len(names) + 1:
            return int(v)
        if v.isalpha() and len(v) <= 2:
            return col_index(v)
        raise IngestError(f"{flag} {value!r}: no column with that name (columns: {', '.join(names)}).")

    return ColumnHints.resolved(hints, resolve)


def write_csv(data: bytes, fills: list[AnswerFill], limits: Limits | None = None) -> bytes:
    """A filled copy of the CSV; see write_csv_report."""
    return write_csv_report(data, fills, limits)[0]


def write_csv_report(data: bytes, fills: list[AnswerFill], limits: Limits | None = None) -> tuple[bytes, "ExportReport"]:
    """A filled copy of the CSV (same encoding, BOM, delimiter, line ending) and
    what happened to every fill: a value equal to what the field holds is not
    written ("kept"), a field another fill already writes is refused.

    Raises ExportError for an answer over 32,767 characters or one the file's
    encoding cannot hold.
    """
    from ingest.fill import ExportReport, ExportTally, cleared_marks, plan_export

    limits = limits or Limits.from_env()
    report = ExportReport()
    if not fills:
        return data, report
    decoded = decode(data)
    records, _ = parse(decoded, limits)
    header_row, header = _header(records)
    names = _column_names(header, max((len(r) for r in records), default=0))
    claimed: dict[tuple[int, int], Question] = {}
    for fill in fills:
        planned, notes, refusal = plan_export(fill)

        def is_marked(loc: Locator) -> bool:
            if loc.row is None or loc.row > len(records):
                return False
            rec = records[loc.row - 1]
            col = _write_column(loc, names)
            return col < len(rec) and bool(rec[col].strip())

        planned += cleared_marks(fill.question, planned, is_marked)
        tally = ExportTally(fill, notes, refusal)
        for w in planned:
            loc = w.at
            if loc.row is None:
                tally.refuse(w, "not a place in this file")
                continue
            col = _write_column(loc, names)
            if len(w.value) > EXCEL_CELL_LIMIT:
                raise ExportError(
                    f"The answer to {_qname(fill.question)} is {len(w.value):,} characters; a spreadsheet cell "
                    f"holds at most {EXCEL_CELL_LIMIT:,}. Shorten it and export again."
                )
            if (loc.row, col) in claimed:
                tally.refuse(w, f"the same field takes the answer to {_qname(claimed[(loc.row, col)])}")
                continue
            value = neutralise(w.value) if w.value else ""
            current = records[loc.row - 1] if loc.row <= len(records) else []
            if (current[col] if col < len(current) else "") == value:
                tally.same.append(w)
                continue
            if col >= len(names):
                names.append(loc.column or "Answer")
                while len(names) <= col:
                    names.append(f"Column {len(names) + 1}")
                hdr = records[header_row - 1]
                hdr.extend([""] * (len(names) - len(hdr)))
                hdr[col] = loc.column or "Answer"
            while len(records) < loc.row:
                records.append([])
            rec = records[loc.row - 1]
            rec.extend([""] * (col + 1 - len(rec)))
            rec[col] = value
            claimed[(loc.row, col)] = fill.question
            tally.changed.append(w)
        report.questions.append(tally.result())
    if not claimed:
        return data, report
    text = "".join(_format_record(rec, decoded.delimiter) + decoded.newline for rec in records)
    if not decoded.text.endswith(("\n", "\r")) and text.endswith(decoded.newline):
        text = text[: -len(decoded.newline)]
    try:
        body = text.encode(decoded.encoding, errors="aimsq-cp1252" if decoded.encoding == "cp1252" else "strict")
    except UnicodeEncodeError as e:
        bad = text[e.start:e.end]
        raise ExportError(
            f"An answer contains {bad!r}, which the file's encoding ({encoding_label(decoded.encoding)}) cannot hold. "
            "Edit the answer, or save the questionnaire as 'CSV UTF-8' and start again."
        ) from None
    return decoded.bom + body, report


def _format_record(rec: list[str], delimiter: str) -> str:
    """One CSV record, quoted as csv.QUOTE_MINIMAL does, and also whenever a
    field holds CR or LF (csv.writer only quotes the line terminator's own
    characters, so a lone CR would split the record)."""
    special = (delimiter, '"', "\r", "\n")
    return delimiter.join(
        '"' + f.replace('"', '""') + '"' if any(ch in f for ch in special) else f for f in rec
    )


def _write_column(loc: Locator, names: list[str]) -> int:
    if loc.column is not None and loc.column in names:
        return names.index(loc.column)
    if loc.col is not None:
        return loc.col
    return len(names)


def _qname(q: Question) -> str:
    if q.ref:
        return f"question {q.ref}"
    return f"question {' '.join(q.text.split())[:60]!r}"
