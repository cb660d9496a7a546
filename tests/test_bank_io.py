"""Bank import/export: formats, validation, and all-or-nothing imports."""
from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook, load_workbook

from answer_bank.io import BankFileError, read_entries, write_entries
from answer_bank.model import BankEntry, Evidence

GOOD_CSV = (
    "id,question,answer,short_answer,variants,evidence,frameworks,tags,owner,status,review_by\n"
    'ENC-1,Do you encrypt data at rest?,"Yes, AES-256 on every volume.",yes,'
    "Is stored data encrypted?;Encryption at rest?,Crypto policy|POL-7,ISO27001:A.8.24,security,sec,approved,2027-01-31\n"
    "AI-1,Do you train models on customer data?,No. Customer data is never used for training.,No,,,"
    "ISO42001:A.7.2;EU-AI-ACT:Art.10,ai,,draft,\n"
)


def snapshot(bank):
    return [e.to_dict() for e in bank.list_entries()], bank.revision()


def test_csv_import_reads_every_column(bank):
    entries = read_entries(io.BytesIO(GOOD_CSV.encode()), "csv")
    bank.import_entries(entries)
    enc = bank.get_entry("ENC-1")
    assert enc.short_answer == "Yes"
    assert enc.variants == ["Is stored data encrypted?", "Encryption at rest?"]
    assert enc.evidence == [Evidence("Crypto policy", "POL-7")]
    assert enc.frameworks == ["ISO27001:A.8.24"]
    assert enc.status == "approved" and enc.review_by == "2027-01-31"
    ai = bank.get_entry("AI-1")
    assert ai.status == "draft"
    assert ai.frameworks == ["ISO42001:A.7.2", "EU-AI-ACT:Art.10"]


def test_reimporting_the_same_file_changes_nothing(bank):
    for _ in range(2):
        report = bank.import_entries(read_entries(io.BytesIO(GOOD_CSV.encode()), "csv"))
    assert report.unchanged == ["ENC-1", "AI-1"] and not report.added and not report.updated
    assert [v["version"] for v in bank.versions("ENC-1")] == [1]


def test_approve_flag_approves_everything(bank):
    bank.import_entries(read_entries(io.BytesIO(GOOD_CSV.encode()), "csv"), approve=True, user="tess")
    assert {e.status for e in bank.list_entries()} == {"approved"}
    assert bank.get_entry("AI-1").approved_by == "tess"


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_export_then_import_round_trips(bank, tmp_path, fmt):
    from answer_bank.store import Bank

    bank.import_entries(read_entries(io.BytesIO(GOOD_CSV.encode()), "csv"), approve=True)
    buffer = io.BytesIO()
    write_entries(bank.list_entries(), buffer, fmt)
    other = Bank.open(tmp_path / "other.db")
    other.import_entries(read_entries(io.BytesIO(buffer.getvalue()), fmt))
    assert [e.content() for e in other.list_entries()] == [e.content() for e in bank.list_entries()]


def test_xlsx_export_keeps_formula_like_answers_as_text(tmp_path):
    entry = BankEntry("X-1", "Question?", "=HYPERLINK(\"http://evil\")", status="approved")
    buffer = io.BytesIO()
    write_entries([entry], buffer, "xlsx")
    ws = load_workbook(io.BytesIO(buffer.getvalue())).active
    assert ws["C2"].data_type == "s" and ws["C2"].value.startswith("=HYPERLINK")


def _xlsx_bytes(rows, replace: tuple[str, str] | None = None):
    """A workbook built here; `replace` swaps a string in the cell XML
    afterwards (openpyxl itself cuts strings at 32,767 characters)."""
    import zipfile

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    if not replace:
        return out.getvalue()
    src, dst = zipfile.ZipFile(out), io.BytesIO()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/"):
                data = data.replace(replace[0].encode(), replace[1].encode())
            z.writestr(item, data)
    return dst.getvalue()


BIG = "x" * 2_000_000

BAD_FILES = [
    ("missing answer column", "csv", b"id,question\nA,Q?\n", "row 1: missing column: answer"),
    ("duplicate id", "csv", b"id,question,answer\nA,Q1?,a\nB,Q2?,b\nA,Q3?,c\n", "row 4: duplicate id 'A' (first seen at row 2)"),
    ("empty question", "csv", b"id,question,answer\nA,Q1?,a\nB,,b\n", "row 3: question is empty"),
    ("empty answer", "csv", b"id,question,answer\nA,Q1?,a\nB,Q2?,  \n", "row 3: answer is empty"),
    ("undecodable text", "csv", b"id,question,answer\nA,Q1?,a\nB,Caf\xe9 question?,b\n", "line 3: text is not valid UTF-8"),
    ("megabyte cell", "csv", ("id,question,answer\nA,Q1?,a\nB,Q2?," + BIG + "\n").encode(), "row 3: answer has 2,000,000 characters"),
    ("bad short answer", "csv", b"id,question,answer,short_answer\nA,Q1?,a,Maybe\n", "row 2: short_answer 'Maybe' is not one of"),
    ("bad status", "csv", b"id,question,answer,status\nA,Q1?,a,published\n", "row 2: status 'published' is not one of"),
    ("bad review date", "csv", b"id,question,answer,review_by\nA,Q1?,a,next year\n", "row 2: review_by 'next year' is not a date"),
    ("control characters", "csv", b"id,question,answer\nA,Q1?\x07,a\n", "row 2: question contains control characters"),
    ("empty file", "csv", b"", "the file is empty"),
    ("json not a list", "json", b'{"id": "A"}', "JSON must be a list"),
    ("json missing answer", "json", json.dumps([{"id": "A", "question": "Q?", "answer": "a"}, {"id": "B", "question": "Q?"}]).encode(), "entry 2: missing answer"),
    ("json syntax", "json", b'[{"id": "A",', "not valid JSON"),
    ("xlsx duplicate id", "xlsx", _xlsx_bytes([["id", "question", "answer"], ["A", "Q?", "a"], ["A", "Q2?", "b"]]), "row 3: duplicate id 'A'"),
    ("xlsx megabyte cell", "xlsx", _xlsx_bytes([["id", "question", "answer"], ["A", "Q?", "PLACEHOLDER"]], ("PLACEHOLDER", "y" * 40_000)), "row 2: answer has 40,000 characters"),
    ("xlsx not a workbook", "xlsx", b"PK\x03\x04 this is not a zip", "damaged"),
]


@pytest.mark.parametrize("name,fmt,data,message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_rejected_whole_and_the_bank_is_unchanged(bank, name, fmt, data, message):
    bank.import_entries(read_entries(io.BytesIO(GOOD_CSV.encode()), "csv"))
    before = snapshot(bank)
    with pytest.raises(BankFileError) as err:
        bank.import_entries(read_entries(io.BytesIO(data), fmt))
    assert message in str(err.value)
    assert snapshot(bank) == before


def test_a_failure_inside_the_transaction_rolls_back_every_row(bank, monkeypatch):
    """Rows already written in the same import are undone when a later one fails."""
    entries = read_entries(io.BytesIO(GOOD_CSV.encode()), "csv")
    original = bank._insert
    calls = []

    def failing_insert(entry, *args, **kwargs):
        calls.append(entry.ext_id)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(entry, *args, **kwargs)

    monkeypatch.setattr(bank, "_insert", failing_insert)
    with pytest.raises(RuntimeError):
        bank.import_entries(entries)
    assert bank.count() == 0 and bank.revision() == 0
