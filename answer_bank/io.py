"""Reading and writing bank files (CSV, XLSX, JSON).

One entry point per direction: `read_entries(fp, fmt)` takes a binary file
object and returns validated `BankEntry` objects, or raises `BankFileError`
naming the row and the reason; nothing is half-read. `write_entries` writes
the same columns back, so an export re-imports to the same bank.
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

FORMATS = ("csv", "xlsx", "json")
COLUMNS = ["id", "question", "answer", "short_answer", "variants", "evidence", "frameworks",
           "tags", "owner", "status", "review_by", "source",
           # where an entry imported from a questionnaire was asked (docs/matching.md, "Repeats")
           "origin_family", "origin_ref", "origin_section"]
REQUIRED = ("id", "question", "answer")
# Excel's own cell limit: an answer longer than this could never be written
# into a customer's spreadsheet, and a cell of megabytes is a broken file.
MAX_CELL_CHARS = 32_767
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ID_CHARS = 200
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


def read_entries(fp: IO[bytes], fmt: str) -> list[BankEntry]:
    """Parse and validate a whole bank file. Raises BankFileError."""
    data = fp.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise BankFileError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it")
    if fmt == "csv":
        rows, where = _csv_rows(data), "row"
    elif fmt == "xlsx":
        rows, where = _xlsx_rows(data), "row"
    elif fmt == "json":
        rows, where = _json_rows(data), "entry"
    else:
        raise BankFileError(f"unknown format {fmt!r}: use csv, xlsx or json")
    entries: list[BankEntry] = []
    seen: dict[str, int] = {}
    for rownum, row in rows:
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
        if not isinstance(value, (str, int, float)):
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
    for item in _as_list(row.get("evidence")):
        if isinstance(item, dict):
            title, ref = str(item.get("title") or "").strip(), (str(item.get("ref") or "").strip() or None)
        else:
            title, _, ref = str(item).partition("|")
            title, ref = title.strip(), (ref.strip() or None)
        if not title:
            raise ValueError("an evidence item has no title")
        evidence.append(Evidence(title, ref))
    frameworks = _as_list(row.get("frameworks"))
    for ref in frameworks:
        if not re.fullmatch(r"[A-Za-z0-9-]+:\S.*", ref):
            raise ValueError(f"framework reference {ref!r} is not like ISO42001:A.6.2.4")
    return BankEntry(
        ext_id=ext_id,
        question=" ".join(text("question", True).split()),
        answer=text("answer", True),
        short_answer=short,
        variants=_dedupe(" ".join(v.split()) for v in _as_list(row.get("variants"))),
        evidence=evidence,
        frameworks=_dedupe(frameworks),
        tags=_dedupe(_as_list(row.get("tags"))),
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
        for e in entries:
            writer.writerow(_flat_shape(e))
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


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return [v.strip() if isinstance(v, str) else v for v in value if v not in (None, "")]
    return [part.strip() for part in str(value).split(LIST_SEP) if part.strip()]


def _dedupe(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return out


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BankFileError(
            f"text is not valid UTF-8 (byte {e.start}); save the file as CSV UTF-8 and import again", line, "line"
        ) from None


def _csv_rows(data: bytes) -> Iterator[tuple[int, dict]]:
    text = _decode(data)
    # A larger limit than csv's default so an oversize cell is reported by
    # _check_size with its row, not by csv with a bare message.
    csv.field_size_limit(max(MAX_FILE_BYTES, csv.field_size_limit()))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise BankFileError("the file is empty") from None
    yield from _rows_with_header([h.strip().lower() for h in header], reader, start=2)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, dict]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise BankFileError("the XLSX file cannot be opened (damaged, encrypted or not a workbook)") from None
    ws = wb["bank"] if "bank" in wb.sheetnames else wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    try:
        header = [str(h).strip().lower() if h is not None else "" for h in next(rows)]
    except StopIteration:
        raise BankFileError("the first sheet is empty") from None
    cleaned = ([None if v is None else str(v) for v in r] for r in rows)
    yield from _rows_with_header(header, cleaned, start=2)
    wb.close()


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
        payload = json.loads(_decode(data))
    except json.JSONDecodeError as e:
        raise BankFileError(f"not valid JSON: {e.msg}", e.lineno, "line") from None
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
