"""`aimsq ingest`, `aimsq autofill`, `aimsq bank import-questionnaire`.

Autofill's matcher is the FAKE one from tests.ingest_fixtures (keyword rules)
except in the test marked `model`, which runs the real bank and model.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from answer_bank.model import BankEntry
from cli import main
from tests.ingest_fixtures import FakeMatcher, sheet_xml, simple_questionnaire, xlsx_package


def run(*args, db: Path | None = None):
    argv = (["--db", str(db)] if db else []) + list(args)
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def completed_questionnaire() -> bytes:
    rows = {1: {1: "ID", 2: "Question", 3: "Answer", 4: "Explanation"},
            2: {1: "Security"},
            3: {1: "S-1", 2: "Do you encrypt customer data at rest?", 3: "Yes", 4: "AES-256 on all volumes."},
            4: {1: "S-2", 2: "Do you share data with subprocessors?", 3: "No"},
            5: {1: "S-3", 2: "Describe your incident response process.", 3: "24/7 on-call; customers told within 72h."},
            6: {1: "S-4", 2: "Do you have a bug bounty?"}}
    return xlsx_package([("Answers", sheet_xml(rows, validations=[("C3:C4", '"Yes,No,NA"')]))])


@pytest.fixture
def files(tmp_path):
    (tmp_path / "q.xlsx").write_bytes(simple_questionnaire(3))
    (tmp_path / "done.xlsx").write_bytes(completed_questionnaire())
    data = simple_questionnaire(3)
    (tmp_path / "damaged.xlsx").write_bytes(data[: len(data) // 2])
    return tmp_path


def test_ingest_json_contract(files):
    result = run("ingest", "--json", str(files / "q.xlsx"))
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert set(out) == {"format", "questions", "warnings", "skipped_sheets"} and out["format"] == "xlsx"
    assert out["skipped_sheets"] == []
    q = out["questions"][0]
    assert {"ref", "section", "text", "answer_kind", "options", "answer_at", "comment_at", "existing_answer",
            "not_writable"} <= set(q)
    assert q["not_writable"] is None
    assert q["answer_at"] == {"sheet": "Questions", "cell": "C2"} and q["options"] == ["Yes", "No", "N/A"]


def test_ingest_human_output_and_hints(files):
    result = CliRunner().invoke(main, ["ingest", str(files / "q.xlsx"), "--answer-col", "D", "--comment-col", "C"])
    assert result.exit_code == 0
    assert "Questions!D2" in result.output and "3 questions" in result.output


@pytest.mark.parametrize("args, words", [
    (["ingest", "{d}/damaged.xlsx"], "damaged"),
    (["ingest", "--sheet", "Nope", "{d}/q.xlsx"], "no sheet named 'Nope'"),
    (["ingest", "--answer-col", "Missing heading", "{d}/q.xlsx"], "--answer-col"),
])
def test_ingest_errors_are_one_line(files, args, words):
    result = CliRunner().invoke(main, [a.format(d=files) for a in args])
    assert result.exit_code != 0
    assert words in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def fake(monkeypatch, rules):
    import cli.ingest as cli_ingest

    matcher = FakeMatcher(rules)
    monkeypatch.setattr(cli_ingest, "get_matcher", lambda ctx: matcher)
    return matcher


def test_autofill_writes_copy_and_reports(files, monkeypatch, tmp_path):
    entry = BankEntry("ENC-1", "Do you encrypt data at rest?", "AES-256.", short_answer="Yes")
    fake(monkeypatch, {"category 1": ("high", entry), "category 2": ("low", entry)})
    out = tmp_path / "out" / "filled.xlsx"
    result = run("autofill", str(files / "q.xlsx"), "-o", str(out), "--json", db=tmp_path / "bank.db")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [q["status"] for q in report["questions"]] == ["written", "blank", "blank"]
    assert report["questions"][0]["written"][0] == {"at": {"sheet": "Questions", "cell": "C2"}, "value": "Yes", "role": "answer"}
    ws = openpyxl.load_workbook(out)["Questions"]
    assert (ws["C2"].value, ws["D2"].value, ws["C3"].value) == ("Yes", "AES-256.", None)
    human = run("autofill", str(files / "q.xlsx"), "-o", str(tmp_path / "f2.xlsx"), db=tmp_path / "bank.db")
    assert "Wrote 1 of 3 answers" in human.output and "0 kept, 2 skipped" in human.output
    assert "tier low, below medium" in human.output
    # the outcome per question, and the totals agree with it
    assert [q["outcome"] for q in report["questions"]] == ["written", "skipped", "skipped"]
    assert report["questions"][0]["where"] == ["Questions!C2", "Questions!D2"]
    assert (report["written"], report["kept"], report["skipped"], report["cells_written"]) == (1, 0, 2, 2)
    # autofill into its own output: the answers are already there, nothing is written again
    again = run("autofill", str(out), "-o", str(tmp_path / "f3.xlsx"), "--json", "--overwrite", db=tmp_path / "bank.db")
    report = json.loads(again.stdout)
    assert report["questions"][0]["outcome"] == "kept" and report["written"] == 0 and report["cells_written"] == 0


def test_autofill_never_overwrites_the_original_and_refuses_macro_names(files, monkeypatch, tmp_path):
    fake(monkeypatch, {})
    src = files / "q.xlsx"
    before = src.read_bytes()
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "b.db"), "autofill", str(src), "-o", str(src)])
    assert result.exit_code != 0 and "never overwrites" in result.output
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "b.db"), "autofill", str(src), "-o", str(tmp_path / "x.xlsm")])
    assert result.exit_code != 0 and ".xlsx" in result.output
    assert src.read_bytes() == before


def test_autofill_export_error_writes_nothing(files, monkeypatch, tmp_path):
    huge = BankEntry("BIG-1", "q", "y" * 40_000, short_answer=None)
    fake(monkeypatch, {"category": ("high", huge)})
    out = tmp_path / "never.xlsx"
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "b.db"), "autofill", str(files / "q.xlsx"), "-o", str(out)])
    assert result.exit_code != 0 and "Q-01" in result.output and "32,767" in result.output
    assert not out.exists() and not list(tmp_path.glob(".aimsq-*"))


def test_import_questionnaire_drafts_then_approved(files, tmp_path):
    db = tmp_path / "bank.db"
    result = run("bank", "import-questionnaire", str(files / "done.xlsx"), db=db)
    assert result.exit_code == 0, result.output
    assert "3 answered questions" in result.output and "draft" in result.output
    from answer_bank.store import Bank

    bank = Bank.open(db)
    try:
        entries = {e.ext_id: e for e in bank.list_entries()}
        assert set(entries) == {"done:S-1", "done:S-2", "done:S-3"}
        e1, e2, e3 = entries["done:S-1"], entries["done:S-2"], entries["done:S-3"]
        assert (e1.short_answer, e1.answer, e1.status) == ("Yes", "AES-256 on all volumes.", "draft")
        assert (e2.short_answer, e2.answer) == ("No", "No")
        assert (e3.short_answer, e3.answer) == (None, "24/7 on-call; customers told within 72h.")
        assert e1.source == "done.xlsx" and e1.tags == ["Security"]
        # where each was asked: the next copy of the questionnaire is answered by ref too
        assert (e1.origin_family, e1.origin_ref, e1.origin_section) == ("done.xlsx", "S-1", "Security")
    finally:
        bank.close()
    result = run("bank", "import-questionnaire", "--approve", str(files / "done.xlsx"), db=db)
    assert result.exit_code == 0 and "approved" in result.output
    bank = Bank.open(db)
    try:
        assert {e.status for e in bank.list_entries()} == {"approved"}
    finally:
        bank.close()


@pytest.mark.parametrize("name, words", [("damaged.xlsx", "damaged"), ("q.xlsx", "no answered questions")])
def test_import_questionnaire_errors_write_nothing(files, tmp_path, name, words):
    db = tmp_path / "bank.db"
    result = CliRunner().invoke(main, ["--db", str(db), "bank", "import-questionnaire", str(files / name)])
    assert result.exit_code != 0 and words in result.output and "Traceback" not in result.output
    from answer_bank.store import Bank

    bank = Bank.open(db)
    try:
        assert bank.count() == 0
    finally:
        bank.close()


@pytest.mark.model
def test_autofill_with_the_real_bank_and_model(tmp_path):
    """Integration: the starter bank, the bundled model, a questionnaire asking
    the starter bank's own questions, answered and written."""
    db = tmp_path / "bank.db"
    assert run("init", "--demo", db=db).exit_code == 0
    from answer_bank.store import Bank

    bank = Bank.open(db)
    try:
        entries = [e for e in bank.list_entries(status="approved") if e.short_answer][:4]
    finally:
        bank.close()
    rows = {1: {1: "ID", 2: "Question", 3: "Answer", 4: "Comments"}}
    for i, e in enumerate(entries, start=2):
        rows[i] = {1: f"AI-{i}", 2: e.question}
    src = tmp_path / "ai.xlsx"
    src.write_bytes(xlsx_package([("AI", sheet_xml(rows, validations=[(f"C2:C{len(entries) + 1}", '"Yes,No,N/A,Partial"')]))]))
    out = tmp_path / "ai-filled.xlsx"
    result = run("autofill", str(src), "-o", str(out), "--json", db=db)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    written = [q for q in report["questions"] if q["status"] == "written"]
    assert written, report
    ws = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))["AI"]
    for q in written:
        assert q["entry"] in {e.ext_id for e in entries}
        cell = q["written"][0]["at"]["cell"]
        assert ws[cell].value in ("Yes", "No", "N/A", "Partial")
