"""Reading and writing bank files (CSV, XLSX, JSON).

One entry point per direction: `read_entries(fp, fmt)` takes a binary file
object and returns validated `BankEntry` objects, or raises `BankFileError`
naming the row and the reason; nothing is half-read. `write_entries` writes
the same columns back, so an export re-imports to the same bank.

CSV text is decoded as every CSV aimsq reads (`ingest.encoding`). A CSV
export puts a ' before text a spreadsheet would run as a formula
(`ingest.cells.neutralise`); import takes it off, so the bank keeps the raw
text.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from answer_bank.model import SHORT_ANSWERS, STATUSES, BankEntry, Evidence
from ingest.cells import CELL_LIMIT, neutralise, unneutralise
from ingest.encoding import decode_text
from ingest.errors import IngestError

FORMATS = ("csv", "xlsx", "json")
COLUMNS = ["id", "question", "answer", "short_answer", "variants", "evidence", "frameworks",
           "tags", "owner", "status", "review_by", "source",
           # where an entry imported from a questionnaire was asked (docs/matching.md, "Repeats")
           "origin_family", "origin_ref", "origin_section"]
REQUIRED = ("id", "question", "answer")
# Excel's own cell limit: an answer longer than this could never be written
# into a customer's spreadsheet, and a cell of megabytes is a broken file.
MAX_CELL_CHARS = CELL_LIMIT
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ID_CHARS = 200
MAX_BANK_ROWS = 200_000  # rows read from a bank workbook or CSV (a 100,000-entry bank fits)
LIST_SEP = ";"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SHORT = {s.lower(): s for s in SHORT_ANSWERS} | {"na": "N/A", "n/a": "N/A", "not applicable": "N/A"}


class BankFileError(Exception):
    """A bank file that cannot be imported; `row` is 1-based as a person counts it."""

    def __init__(self, reason: str, row: int | None = None, where: str = "row"):
        self.row = row
        self.reason = reason
        super().__init__(f"{where} {row}: {reason}" if row is not None else reason)


def format_of(name: str | Path) -> str:
    ext = Path(str(name)).suffix.lower().lstrip(".")
    if ext in ("xlsx", "xlsm"):
        return "xlsx"
    if ext in FORMATS:
        return ext
    raise BankFileError(f"cannot tell the format of {Path(str(name)).name!r}: use a .csv, .xlsx or .json file")


def read_entries(fp: IO[bytes], fmt: str, warnings: list[str] | None = None) -> list[BankEntry]:
    """Parse and validate a whole bank file. Raises BankFileError.

    Things the user should check (a CSV's text encoding inferred from its
    bytes) are appended to `warnings` when a list is given.
    """
    data = fp.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise BankFileError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it")
    if fmt == "csv":
        rows, where = _csv_rows(data, warnings if warnings is not None else []), "row"
    elif fmt == "xlsx":
        rows, where = _xlsx_rows(data), "row"
    elif fmt == "json":
        rows, where = _json_rows(data), "entry"
    else:
        raise BankFileError(f"unknown format {fmt!r}: use csv, xlsx or json")
    entries: list[BankEntry] = []
    seen: dict[str, int] = {}
    for rownum, row in _readable(rows, where, first=1 if where == "entry" else 2):
        try:
            entry = entry_from_mapping(row)
        except ValueError as e:
            raise BankFileError(str(e), rownum, where) from None
        if entry.ext_id in seen:
            raise BankFileError(f"duplicate id {entry.ext_id!r} (first seen at {where} {seen[entry.ext_id]})", rownum, where)
        seen[entry.ext_id] = rownum
        entries.append(entry)
    if not entries:
        raise BankFileError("the file has no entries")
    return entries


def _readable(rows: Iterable[tuple[int, dict]], where: str, first: int) -> Iterator[tuple[int, dict]]:
    """The rows, with any error of the reader beneath turned into a
    BankFileError naming the row it stopped at (never a bare Python error)."""
    last = first - 1
    iterator = iter(rows)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except BankFileError:
            raise
        except RecursionError:
            raise BankFileError("the file is nested too deeply to be a bank file (a list of entries, "
                                "each with text and lists of text)") from None
        except (ValueError, TypeError, IndexError, KeyError, OverflowError, csv.Error) as e:
            raise BankFileError(_unreadable(e), last + 1, where) from None
        last = item[0]
        yield item


def _unreadable(e: Exception) -> str:
    if isinstance(e, ValueError) and "integer string conversion" in str(e):
        return "a number has more digits than can be read; store it as text or shorten it"
    return "this part of the file cannot be read; check it is a bank file saved by a spreadsheet or aimsq"


def entry_from_mapping(row: dict[str, Any]) -> BankEntry:
    """Validate one row (CSV/XLSX strings or JSON values). Raises ValueError with the reason."""
    row = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for key, value in row.items():
        _check_size(key, value)

    def text(key: str, required: bool = False) -> str | None:
        value = row.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise ValueError(f"{key} is empty")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"{key} must be text")
        value = str(value).strip()
        if _CONTROL.search(value):
            raise ValueError(f"{key} contains control characters")
        return value

    ext_id = text("id", True)
    if len(ext_id) > MAX_ID_CHARS:
        raise ValueError(f"id is longer than {MAX_ID_CHARS} characters")
    short = text("short_answer")
    if short is not None:
        if short.lower() not in _SHORT:
            raise ValueError(f"short_answer {short!r} is not one of {', '.join(SHORT_ANSWERS)}")
        short = _SHORT[short.lower()]
    status = (text("status") or "draft").lower()
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    review_by = text("review_by")
    if review_by is not None:
        review_by = review_by[:10] if re.match(r"\d{4}-\d{2}-\d{2}", review_by) else review_by
        try:
            review_by = dt.date.fromisoformat(review_by).isoformat()
        except ValueError:
            raise ValueError(f"review_by {review_by!r} is not a date like 2027-06-30") from None
    evidence = []
    for item in _as_list(row.get("evidence"), "evidence", objects=True):
        if isinstance(item, dict):
            if not all(isinstance(item.get(k), (str, int, float, type(None))) for k in ("title", "ref")):
                raise ValueError("an evidence item's title and ref must be text")
            title, ref = str(item.get("title") or "").strip(), (str(item.get("ref") or "").strip() or None)
        else:
            title, _, ref = str(item).partition("|")
            title, ref = title.strip(), (ref.strip() or None)
        if not title:
            raise ValueError("an evidence item has no title")
        evidence.append(Evidence(title, ref))
    frameworks = [str(ref) for ref in _as_list(row.get("frameworks"), "frameworks")]
    for ref in frameworks:
        if not re.fullmatch(r"[A-Za-z0-9-]+:\S.*", ref):
            raise ValueError(f"framework reference {ref!r} is not like ISO42001:A.6.2.4")
    return BankEntry(
        ext_id=ext_id,
        question=" ".join(text("question", True).split()),
        answer=text("answer", True),
        short_answer=short,
        variants=_dedupe(" ".join(str(v).split()) for v in _as_list(row.get("variants"), "variants")),
        evidence=evidence,
        frameworks=_dedupe(frameworks),
        tags=_dedupe(str(t) for t in _as_list(row.get("tags"), "tags")),
        owner=text("owner"),
        status=status,
        review_by=review_by,
        source=text("source"),
        origin_family=text("origin_family"),
        origin_ref=text("origin_ref"),
        origin_section=text("origin_section"),
        status_given=text("status") is not None,
    )


def write_entries(entries: Iterable[BankEntry], fp: IO[bytes], fmt: str) -> None:
    entries = list(entries)
    if fmt == "json":
        payload = [_json_shape(e) for e in entries]
        fp.write(json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8"))
    elif fmt == "csv":
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        for e in entries:  # formula-like text gets a ' that import takes off again
            writer.writerow({k: neutralise(v) for k, v in _flat_shape(e).items()})
        fp.write(text.getvalue().encode("utf-8"))
    elif fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "bank"
        ws.append(COLUMNS)
        for e in entries:
            ws.append([None] * len(COLUMNS))
            for col, key in enumerate(COLUMNS, start=1):
                value = _flat_shape(e)[key]
                cell = ws.cell(row=ws.max_row, column=col)
                cell.value = value or None
                if value:
                    cell.data_type = "s"  # text that starts with '=' stays text
        wb.save(fp)
    else:
        raise BankFileError(f"unknown format {fmt!r}: use csv, xlsx or json")


# ---- helpers ------------------------------------------------------------


def _check_size(key: str, value: Any) -> None:
    sizes = [len(str(v)) for v in (value if isinstance(value, list) else [value]) if v is not None]
    if sizes and max(sizes) > MAX_CELL_CHARS:
        raise ValueError(f"{key} has {max(sizes):,} characters; the limit is {MAX_CELL_CHARS:,}")


def _as_list(value: Any, key: str = "a list", objects: bool = False) -> list:
    """A list column's items: a JSON array of text (objects too where `objects`),
    or text split at ';'. Raises ValueError naming the column for anything else."""
    if value is None:
        return []
    if isinstance(value, list):
        allowed = (str, int, float, dict) if objects else (str, int, float)
        for v in value:
            if v is not None and (isinstance(v, bool) or not isinstance(v, allowed)):
                kind = {list: "lists", dict: "objects", bool: "true/false"}.get(type(v), type(v).__name__)
                raise ValueError(f"{key} must be a list of text, not of {kind}")
        return [v.strip() if isinstance(v, str) else v for v in value if v not in (None, "")]
    if isinstance(value, dict):
        raise ValueError(f"{key} must be text or a list of text, not an object")
    return [part.strip() for part in str(value).split(LIST_SEP) if part.strip()]


def _dedupe(items: Iterable[str]) -> list[str]:
    """The non-empty items, each once, in their first order."""
    return [item for item in dict.fromkeys(items) if item]


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BankFileError(
            f"text is not valid UTF-8 (byte {e.start}); save the file as CSV UTF-8 and import again", line, "line"
        ) from None


def _csv_rows(data: bytes, warnings: list[str]) -> Iterator[tuple[int, dict]]:
    """Rows of a bank CSV, read by the questionnaires' decoder and capped record
    reader (SECURITY.md cases 31 and 34): a wide or flooded file is refused as
    it is read. Bank files are comma-separated."""
    import dataclasses

    from ingest.csv_format import Decoded, parse
    from ingest.guard import Limits

    try:
        decoded = decode_text(data)
        if decoded.warning:
            warnings.append(decoded.warning)
        limits = Limits.from_env()
        # A bank may hold more rows than a questionnaire; the column and cell caps still apply.
        limits = dataclasses.replace(limits, max_csv_rows=max(limits.max_csv_rows, MAX_BANK_ROWS))
        records, _ = parse(Decoded(decoded.text, decoded.encoding, decoded.bom, ",", "\n"), limits)
    except IngestError as e:
        raise BankFileError(str(e)) from None
    if not records:
        raise BankFileError("the file is empty")
    header, *rest = records
    rows = ([unneutralise(v) for v in values] for values in rest)
    yield from _rows_with_header([h.strip().lower() for h in header], rows, start=2)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, dict]]:
    """Rows of the sheet named "bank" (else the first), read by the questionnaire
    reader behind the upload guard (SECURITY.md case 34): bombs, entities and
    oversize shapes are refused, rows are counted as they stream (a forged
    `<dimension>` drops none). Row numbers are the sheet's own."""
    import dataclasses

    from ingest.errors import IngestError
    from ingest.guard import Limits, check_upload
    from ingest.xlsx_format import sheet_rows

    limits = Limits.from_env()
    # A bank may hold more rows than a questionnaire sheet; the cell and byte caps still apply.
    limits = dataclasses.replace(limits, max_sheet_rows=max(limits.max_sheet_rows, MAX_BANK_ROWS))
    try:
        if check_upload(data, None, limits).format != "xlsx":
            raise BankFileError("the file is not an Excel workbook (.xlsx); save it as .xlsx, or import it as .csv or .json")
        _, rows = sheet_rows(data, limits, prefer="bank")
    except IngestError as e:
        raise BankFileError(str(e)) from None
    if not rows:
        raise BankFileError("the first sheet is empty")
    first = min(rows)
    width = max(rows[first])
    header = [str(rows[first].get(c, "")).strip().lower() for c in range(1, width + 1)]
    review_col = header.index("review_by") + 1 if "review_by" in header else None

    def values(row: dict[int, str]) -> list[str | None]:
        out = [row.get(c) for c in range(1, max(row) + 1)]
        if review_col and review_col <= len(out) and out[review_col - 1] and _EXCEL_DATE.fullmatch(out[review_col - 1]):
            out[review_col - 1] = _excel_date(out[review_col - 1])
        return out

    missing = [c for c in REQUIRED if c not in header]
    if missing:  # say so before any row is looked at, as for CSV
        yield from _rows_with_header(header, [], start=first + 1)
    for rownum in sorted(r for r in rows if r > first):
        yield from _rows_with_header(header, [values(rows[rownum])], start=rownum)


_EXCEL_DATE = re.compile(r"\d{4,6}(?:\.\d+)?")


def _excel_date(serial: str) -> str:
    """A date cell as Excel stores it (days since 1899-12-30) as 2027-06-30."""
    try:
        return (dt.date(1899, 12, 30) + dt.timedelta(days=int(float(serial)))).isoformat()
    except (ValueError, OverflowError):
        return serial


def _rows_with_header(header: list[str], rows: Iterable[list], start: int) -> Iterator[tuple[int, dict]]:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BankFileError(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
                            f"(the first row must name the columns id, question, answer)", 1)
    for rownum, values in enumerate(rows, start=start):
        if not any(v not in (None, "") and str(v).strip() for v in values):
            continue  # blank lines are not entries
        if len(values) > len(header):
            extra = values[len(header):]
            if any(v not in (None, "") for v in extra):
                raise BankFileError(f"{len(values)} cells but the header names {len(header)} columns", rownum)
        yield rownum, {h: v for h, v in zip(header, values) if h}


def _json_rows(data: bytes) -> Iterator[tuple[int, dict]]:
    try:
        # Numbers stay as written (an id of 5,000 digits is text, not an int
        # Python refuses to convert); NaN and Infinity are not JSON values.
        payload = json.loads(_decode(data), parse_int=str, parse_float=str, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise BankFileError(f"not valid JSON: {e.msg}", e.lineno, "line") from None
    except RecursionError:
        raise BankFileError("the JSON is nested too deeply to be a bank file (a list of entries, "
                            "each an object of text and lists of text)") from None
    if isinstance(payload, dict) and isinstance(payload.get("entries"), list):
        payload = payload["entries"]
    if not isinstance(payload, list):
        raise BankFileError('JSON must be a list of entries (or {"entries": [...]})')
    for n, item in enumerate(payload, start=1):
        if not isinstance(item, dict):
            raise BankFileError("an entry must be an object with id, question and answer", n, "entry")
        missing = [c for c in REQUIRED if c not in item]
        if missing:
            raise BankFileError(f"missing {', '.join(missing)}", n, "entry")
        yield n, item


def _no_constant(name: str):
    raise BankFileError(f"not valid JSON: {name} is not a value a bank file holds; write it as text in quotes")


def _json_shape(e: BankEntry) -> dict[str, Any]:
    return {
        "id": e.ext_id, "question": e.question, "variants": e.variants, "answer": e.answer,
        "short_answer": e.short_answer, "evidence": [{"title": v.title, "ref": v.ref} for v in e.evidence],
        "frameworks": e.frameworks, "tags": e.tags, "owner": e.owner, "status": e.status,
        "review_by": e.review_by, "source": e.source,
        "origin_family": e.origin_family, "origin_ref": e.origin_ref, "origin_section": e.origin_section,
    }


def _flat_shape(e: BankEntry) -> dict[str, str]:
    shape = _json_shape(e)
    shape["variants"] = LIST_SEP.join(e.variants)
    shape["evidence"] = LIST_SEP.join(v.to_text() for v in e.evidence)
    shape["frameworks"] = LIST_SEP.join(e.frameworks)
    shape["tags"] = LIST_SEP.join(e.tags)
    return {k: ("" if v is None else v) for k, v in shape.items()}
