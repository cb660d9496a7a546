"""answer_bank.pack and `aimsq pack`: the standardized response pack (DOCX, XLSX)."""
from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from click.testing import CliRunner
from docx import Document
from openpyxl import load_workbook

from answer_bank.coverage import coverage
from answer_bank.curation_db import set_setting
from answer_bank.model import BankEntry
from answer_bank.pack import PackError, build_pack
from cli import main
from tests.curation_fixtures import small_bank_entries, starter_bank


@pytest.fixture
def small(bank):
    bank.import_entries(small_bank_entries(), user="ana", keep_status=True)
    return bank


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    parts += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def xlsx_rows(data: bytes, sheet: str) -> list[tuple]:
    wb = load_workbook(io.BytesIO(data))
    return [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]


def test_docx_pack_is_organised_by_the_framework_with_a_cover_and_gaps(small):
    data, info = build_pack(small, "iso42001", "docx", organisation="Brightwater Analytics Ltd.",
                            today=dt.date(2026, 7, 1))
    doc = Document(io.BytesIO(data))
    text = docx_text(data)
    assert doc.paragraphs[0].text == "Brightwater Analytics Ltd."
    for expected in ("ISO/IEC 42001", "2026-07-01", f"revision {small.revision()}", "POL-AI-01"):
        assert expected in text
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings.index("A.2 Policies related to AI") < headings.index("A.2.2 AI policy") < headings.index(
        "A.3 Internal organization")
    assert headings[-1] == "Controls not covered"
    gaps_start = [p.text for p in doc.paragraphs].index("Controls not covered")
    gap_lines = [p.text for p in doc.paragraphs[gaps_start + 1:]]
    assert any(line.startswith("A.5.2 ") for line in gap_lines)
    assert not any(line.startswith(("A.2.2 ", "A.2.4 ")) for line in gap_lines)
    # An answer that looks like a formula is literal text in Word.
    assert "=Every year (formula-looking text)." in text
    # POL-1, POL-2, ROLE-1, and ART-1 under "Other answers" (it cites ISO42001:B.9.9).
    assert (info.entries, info.stale, len(info.gaps)) == (4, ["A.2.4"], 35)
    assert "Other answers citing ISO/IEC 42001:2023 Annex A" in headings


def test_xlsx_pack_holds_text_only(small):
    data, info = build_pack(small, "iso42001", "xlsx", organisation="=cmd|' /C calc'!A0")
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Cover", "Answers", "Not covered"]
    assert wb["Cover"]["A1"].value == "=cmd|' /C calc'!A0" and wb["Cover"]["A1"].data_type == "s"
    answers = xlsx_rows(data, "Answers")
    assert answers[0][:6] == ("Group", "Group title", "Control", "Control title", "Answer id", "Question")
    pol2 = next(r for r in answers if r[4] == "POL-2")
    assert pol2[7] == "=Every year (formula-looking text)."
    # SECURITY.md 14: no formula element anywhere in the workbook.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert sheets and not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in sheets)
    gaps = xlsx_rows(data, "Not covered")
    assert len(gaps) == 1 + len(info.gaps)


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_every_approved_entry_of_the_framework_is_in_the_pack(tmp_path, fmt):
    bank = starter_bank(tmp_path / "starter.db")
    runner = CliRunner()
    for framework in ("iso42001", "nist-ai-rmf", "eu-ai-act"):
        out = tmp_path / f"{framework}.{fmt}"
        result = runner.invoke(main, ["--db", bank.path, "pack", "--framework", framework, "-o", str(out),
                                      "--org", "Brightwater Analytics Ltd."])
        assert result.exit_code == 0, result.output
        expected = {e.ext_id for e in coverage(bank, framework).entries()}
        assert expected
        data = out.read_bytes()
        if fmt == "docx":
            text = docx_text(data)
            missing = [x for x in expected if f"Answer {x}," not in text]
        else:
            ids = {r[4] for r in xlsx_rows(data, "Answers")}
            missing = sorted(expected - ids)
        assert missing == [], f"{framework}: {missing}"


def test_the_organisation_comes_from_the_setting_or_is_asked_for(small, tmp_path):
    runner = CliRunner()
    out = tmp_path / "pack.docx"
    result = runner.invoke(main, ["--db", small.path, "pack", "-f", "iso42001", "-o", str(out)])
    assert result.exit_code == 1 and "--org" in result.output and not out.exists()
    set_setting(small, "organisation", "Brightwater Analytics Ltd.", user="ana")
    result = runner.invoke(main, ["--db", small.path, "pack", "-f", "iso42001", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "past their review date" in result.stderr  # A.2.4 is answered only by an overdue entry
    assert Document(str(out)).paragraphs[0].text == "Brightwater Analytics Ltd."


@pytest.mark.parametrize("name", ["pack.pdf", "pack"])
def test_only_docx_and_xlsx_are_written(small, tmp_path, name):
    result = CliRunner().invoke(main, ["--db", small.path, "pack", "-f", "iso42001", "-o", str(tmp_path / name),
                                       "--org", "X"])
    assert result.exit_code == 1 and ".docx or .xlsx" in result.output


@pytest.mark.parametrize("answer, message", [
    ("x" * 32_800, "longer than 32,767"),
    ("bell \x07 in the text", "control characters"),
])
def test_an_answer_a_format_cannot_hold_fails_loudly_naming_the_entry(bank, answer, message):
    bank.save_entry(BankEntry("BIG-1", "q?", answer, status="approved", frameworks=["ISO42001:A.2.2"]), user="ana")
    with pytest.raises(PackError, match=f"BIG-1.*{message}"):
        build_pack(bank, "iso42001", "xlsx", organisation="X")
