"""CSV: read the questions, write the answers back into a copy.

Decoding: a BOM decides (UTF-8, UTF-16 LE/BE); UTF-16 without a BOM is
recognised by its NUL bytes; then strict UTF-8; then Windows-1252 (what
Excel writes on Western Windows), with Latin-1 for the five bytes cp1252
leaves undefined. The text itself is never altered.

The delimiter is the one of `, ; TAB |` that splits the first lines into the
most consistent number of fields (Excel writes `;` in many locales).

Fields longer than the csv module's default limit (131,072 characters) are
read in full and flagged, never cut.

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

import codecs
import csv
import io
from dataclasses import dataclass

from ingest.errors import ExportError, FileTooLarge, IngestError
from ingest.guard import Limits
from ingest.layout import ColumnHints, Grid, detect_questions, is_yes_no_options, norm, short_answer_family
from ingest.model import AnswerFill, IngestHints, IngestResult, Locator, Question

CSV_MODULE_LIMIT = 131_072  # csv.field_size_limit() default
EXCEL_CELL_LIMIT = 32_767
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class Decoded:
    text: str
    encoding: str  # codec used to encode it back
    bom: bytes
    delimiter: str
    newline: str


def decode(data: bytes) -> Decoded:
    """Text, encoding, BOM, delimiter and line ending of a CSV file."""
    bom = b""
    if data.startswith(b"\xef\xbb\xbf"):
        bom, encoding = b"\xef\xbb\xbf", "utf-8"
    elif data.startswith(b"\xff\xfe"):
        bom, encoding = b"\xff\xfe", "utf-16-le"
    elif data.startswith(b"\xfe\xff"):
        bom, encoding = b"\xfe\xff", "utf-16-be"
    else:
        encoding = _guess_encoding(data)
    body = data[len(bom):]
    if encoding == "cp1252":
        text = _decode_cp1252(body)
    else:
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            if encoding.startswith("utf-16"):
                raise IngestError(
                    "The file looks like UTF-16 text but cannot be decoded. Save it as 'CSV UTF-8' and upload it again."
                ) from None
            encoding, text = "cp1252", _decode_cp1252(body)
    newline = "\r\n" if "\r\n" in text[:65536] else ("\r" if "\r" in text[:65536] and "\n" not in text[:65536] else "\n")
    return Decoded(text, encoding, bom, _sniff_delimiter(text), newline)


def _guess_encoding(data: bytes) -> str:
    head = data[:4096]
    if len(head) >= 4:
        half = len(head) // 2
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > 0.3 * half and even < 0.05 * half:
            return "utf-16-le"
        if even > 0.3 * half and odd < 0.05 * half:
            return "utf-16-be"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


_CP1252_GAPS = (0x81, 0x8D, 0x8F, 0x90, 0x9D)


def _cp1252_gaps(err):
    """cp1252 leaves five bytes undefined; map them 1:1 (as Latin-1 does) both ways."""
    if isinstance(err, UnicodeDecodeError) and err.object[err.start] in _CP1252_GAPS:
        return chr(err.object[err.start]), err.start + 1
    if isinstance(err, UnicodeEncodeError) and ord(err.object[err.start]) in _CP1252_GAPS:
        return bytes([ord(err.object[err.start])]), err.start + 1
    raise err


codecs.register_error("aimsq-cp1252", _cp1252_gaps)


def _decode_cp1252(body: bytes) -> str:
    return body.decode("cp1252", errors="aimsq-cp1252")


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
    try:
        for rec in reader:
            records.append(rec)
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
    for q in questions:
        if len(q.text) > EXCEL_CELL_LIMIT:
            q.notes.append(f"the question holds {len(q.text):,} characters")
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
    for j in range(max(width, len(header))):
        name = header[j] if j < len(header) and header[j] else f"Column {j + 1}"
        base, n = name, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
    return names


def _locator(cell: tuple[int, int], names: list[str]) -> Locator:
    row, col = cell
    name = names[col - 1] if col - 1 < len(names) else "Answer"
    return Locator(row=row, column=name, col=col - 1)


def _hints(hints: IngestHints, names: list[str]) -> ColumnHints:
    def resolve(value: str | None, flag: str) -> int | None:
        if value is None or not str(value).strip():
            return None
        v = str(value).strip()
        for j, name in enumerate(names, start=1):
            if norm(name) == norm(v):
                return j
        if v.isdigit() and 1 <= int(v) <= len(names) + 1:
            return int(v)
        if v.isalpha() and len(v) <= 2:
            n = 0
            for ch in v.upper():
                n = n * 26 + ord(ch) - 64
            return n
        raise IngestError(f"{flag} {value!r}: no column with that name (columns: {', '.join(names)}).")

    return ColumnHints(
        question=resolve(hints.question_col, "--question-col"),
        answer=resolve(hints.answer_col, "--answer-col"),
        comment=resolve(hints.comment_col, "--comment-col"),
    )


def neutralise(value: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula."""
    return "'" + value if value.startswith(FORMULA_LEADS) else value


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
            f"An answer contains {bad!r}, which the file's encoding ({decoded.encoding}) cannot hold. "
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
