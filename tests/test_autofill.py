"""questionnaire.autofill with a FAKE matcher (unit tests only: it matches by keyword).

The real matcher is exercised by the CLI tests; here the point is the policy:
which tiers are written, what is kept, what the report says.
"""
from __future__ import annotations

import io
import json

import openpyxl
import pytest

from answer_bank.model import BankEntry
from questionnaire.autofill import autofill
from tests.ingest_fixtures import FakeMatcher, sheet_xml, xlsx_package


ENC = BankEntry("ENC-1", "Do you encrypt data at rest?", "AES-256 on every volume.", short_answer="Yes")
MFA = BankEntry("MFA-1", "Do you enforce MFA?", "=Enforced for all staff via SSO.", short_answer="Yes")
PEN = BankEntry("PEN-1", "Do you run pen tests?", "Yearly, by an external firm.", short_answer="Partial")
AI = BankEntry("AI-1", "Do you train on customer data?", "Never.", short_answer="No")


def _questionnaire() -> bytes:
    rows = {1: {1: "ID", 2: "Question", 3: "Answer", 4: "Comments"},
            2: {1: "Q1", 2: "Do you encrypt data at rest?"},
            3: {1: "Q2", 2: "Is MFA enforced for administrators?"},
            4: {1: "Q3", 2: "Do you run penetration tests (pen tests)?"},
            5: {1: "Q4", 2: "Do you train AI models on customer data?"},
            6: {1: "Q5", 2: "Do you have a cafeteria?"},
            7: {1: "Q6", 2: "Do you encrypt backups as well?", 3: "No", 4: "Customer's own answer"}}
    return xlsx_package([("Q", sheet_xml(rows, validations=[("C2:C7", '"Yes,No,N/A"')]))])


@pytest.fixture
def matcher():
    return FakeMatcher({"encrypt": ("high", ENC), "mfa": ("medium", MFA), "pen": ("low", PEN), "ai ": ("high", AI)})


def test_tiers_written_and_blank(matcher):
    report = autofill(_questionnaire(), "q.xlsx", matcher)
    assert matcher.calls == 1  # one batch for the whole questionnaire
    status = {o.question.ref: o.status for o in report.outcomes}
    assert status == {"Q1": "written", "Q2": "written", "Q3": "blank", "Q4": "written", "Q5": "blank", "Q6": "kept"}
    ws = openpyxl.load_workbook(io.BytesIO(report.output))["Q"]
    assert [ws[f"C{r}"].value for r in range(2, 8)] == ["Yes", "Yes", None, "No", None, "No"]
    assert ws["D3"].value == "=Enforced for all staff via SSO." and ws["D3"].data_type == "s"
    assert ws["D7"].value == "Customer's own answer"
    assert [o.question.ref for o in report.unanswered] == ["Q3", "Q5"]
    q3 = next(o for o in report.outcomes if o.question.ref == "Q3")
    assert q3.entry_id == "PEN-1" and q3.tier == "low"  # suggested, not written


def test_min_tier_and_overwrite(matcher):
    report = autofill(_questionnaire(), "q.xlsx", matcher, min_tier="high", overwrite=True)
    status = {o.question.ref: o.status for o in report.outcomes}
    assert status["Q2"] == "blank" and status["Q6"] == "written"
    ws = openpyxl.load_workbook(io.BytesIO(report.output))["Q"]
    assert ws["D7"].value == "AES-256 on every volume." and ws["C3"].value is None
    with pytest.raises(ValueError):
        autofill(_questionnaire(), "q.xlsx", matcher, min_tier="none")


def test_report_json_says_what_was_written_where(matcher):
    report = autofill(_questionnaire(), "q.xlsx", matcher)
    out = json.loads(json.dumps(report.to_json()))
    q1 = out["questions"][0]
    assert q1["ref"] == "Q1" and q1["entry"] == "ENC-1" and q1["tier"] == "high"
    assert q1["written"] == [
        {"at": {"sheet": "Q", "cell": "C2"}, "value": "Yes", "role": "answer"},
        {"at": {"sheet": "Q", "cell": "D2"}, "value": "AES-256 on every volume.", "role": "comment"},
    ]
    assert out["written"] == 3 and out["unanswered"] == ["Q3", "Q5"]


def test_option_the_dropdown_lacks_is_not_written():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q1", 2: "Do you run pen tests?"}}
    data = xlsx_package([("Q", sheet_xml(rows, validations=[("C2", '"Yes,No"')]))])
    report = autofill(data, "q.xlsx", FakeMatcher({"pen": ("high", PEN)}))
    o = report.outcomes[0]
    assert o.status == "not written" and "no option for 'Partial'" in o.notes[0]
    assert openpyxl.load_workbook(io.BytesIO(report.output))["Q"]["C2"].value is None


def test_csv_autofill():
    data = b"ID,Question,Answer\nQ1,Do you encrypt data at rest?,\nQ2,Anything else?,\n"
    report = autofill(data, "q.csv", FakeMatcher({"encrypt": ("high", ENC)}))
    assert report.format == "csv"
    assert report.output == b"ID,Question,Answer\nQ1,Do you encrypt data at rest?,Yes. AES-256 on every volume.\nQ2,Anything else?,\n"
