"""Export in the web app: the counts are what reached the file, the page after
an export lists written / kept / skipped / pending questions, and exporting
with open questions asks first. Flask test client; the FAKE embedder of
web_helpers proposes the answers (the browser test runs the real model)."""
from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from openpyxl.worksheet.datavalidation import DataValidation

from tests.web_helpers import client_as, csrf_token, starter_questions, store_of, uploaded_and_matched


def _dropdown_xlsx(questions) -> bytes:
    """ID | Question | Answer (a Yes/No dropdown) | Comments; the last answer cell is computed."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Questionnaire"
    ws.append(["ID", "Question", "Answer", "Comments"])
    for ref, text in questions:
        ws.append([ref, text, None, None])
    last = len(questions) + 1
    ws[f"C{last}"] = f'=IF(A{last}="","","No")'
    dv = DataValidation(type="list", formula1='"Yes,No"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add(f"C2:C{last}")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _values(data: bytes) -> dict:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    out = {(ws.title, c.coordinate): c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
           if c.value not in (None, "")}
    wb.close()
    return out


def _act(c, qn_id, q, action, **fields):
    token = csrf_token(c, f"/q/{qn_id}/review")
    data = {"csrf_token": token, "version": q.version, "action": action, **fields}
    r = c.post(f"/q/{qn_id}/questions/{q.id}", data=data, headers={"X-Requested-With": "fetch"})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]


@pytest.fixture
def reviewed(app):
    """Six questions: Partial on a Yes/No dropdown, two good answers, one left
    blank, one not reviewed, one whose answer cell holds a formula."""
    c = client_as(app, "editor")
    data = _dropdown_xlsx(starter_questions(6))
    qn_id = uploaded_and_matched(app, c, data, "Dropdowns.xlsx")
    store = store_of(app)
    q = store.questions(qn_id)
    assert q[0].options == ["Yes", "No"]
    _act(c, qn_id, q[0], "edit", short_answer="Partial", narrative="")
    _act(c, qn_id, q[1], "edit", short_answer="Yes", narrative="Encrypted at rest with AES-256.")
    _act(c, qn_id, q[2], "edit", short_answer="No", narrative="")
    _act(c, qn_id, q[3], "blank")
    _act(c, qn_id, q[5], "edit", short_answer="Yes", narrative="")
    return c, qn_id, store, data


def test_export_with_open_questions_asks_first_and_changes_nothing_until_confirmed(app, reviewed):
    c, qn_id, store, _ = reviewed
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/export", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/q/{qn_id}/export")
    assert store.latest_export(qn_id) is None and store.get(qn_id).status == "review"
    page = c.get(f"/q/{qn_id}/export")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and store.latest_export(qn_id) is None  # GET changes nothing
    assert "1 of 6 questions is still open" in text and 'id="confirm-export"' in text
    assert 'name="csrf_token"' in text and f"#q-{store.questions(qn_id)[4].id}" in text
    # the confirmation without its CSRF token is refused
    assert c.post(f"/q/{qn_id}/export", data={"confirm": "1"}).status_code == 400
    assert store.latest_export(qn_id) is None
    viewer = client_as(app, "viewer")
    assert viewer.get(f"/q/{qn_id}/export").status_code == 403


def test_export_counts_what_reached_the_file_and_lists_every_question(reviewed):
    c, qn_id, store, original = reviewed
    token = csrf_token(c, f"/q/{qn_id}/export")
    r = c.post(f"/q/{qn_id}/export", data={"csrf_token": token, "confirm": "1"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert r.request.path == f"/q/{qn_id}/exported"
    # Partial (no such option), the formula cell and the blank one are skipped; one still open
    assert "Exported: 2 answers written, 0 kept, 3 skipped, 1 pending." in page
    record = store.latest_export(qn_id)
    assert (record.report["written"], record.report["skipped"], record.report["pending"]) == (2, 3, 1)
    filled = c.get(f"/q/{qn_id}/download").data
    before, after = _values(original), _values(filled)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert len(changed) == record.report["cells_written"] == 3  # Q-2 answer + comment, Q-3 answer
    assert after[("Questionnaire", "C7")] == before[("Questionnaire", "C7")]  # the formula stays
    qs = store.questions(qn_id)
    skipped = re.search(r'id="export-skipped".*?</table>', page, re.S).group(0)
    assert "&#39;Partial&#39;" in skipped and "Yes, No" in skipped
    assert "is a formula" in skipped and "left blank in the review" in skipped
    written = re.search(r'id="export-written".*?</table>', page, re.S).group(0)
    assert "Questionnaire!C3: Yes" in written and "Questionnaire!D3: Encrypted at rest" in written
    pending = re.search(r'id="export-pending".*?</table>', page, re.S).group(0)
    assert f"#q-{qs[4].id}" in pending and "not reviewed yet" in pending
    assert "What to do next" in page
    body = re.search(r"<main.*</main>", page, re.S).group(0)
    body = re.sub(r'<time datetime="[^"]*"', "<time", body)  # machine-readable for the browser's locale, not shown
    assert not re.search(r"\bNone\b|\bTrue\b|\bFalse\b|--\w|\d{4}-\d\d-\d\dT", body)
    # the review page says the same, with a link to the details
    review = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    assert "2 answers written, 0 kept, 3 skipped, 1 pending" in review and f"/q/{qn_id}/exported" in review
    # the review summary carries the outcome and its reason per question
    text = c.get(f"/q/{qn_id}/summary").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["position", "ref"]  # a plain table: the header on the first line
    outcomes = [row[-2] for row in rows[1:]]
    assert [outcomes.count(k) for k in ("written", "kept", "skipped", "pending")] == [2, 0, 3, 1]
    header = 0
    by_ref = {row[1]: row for row in rows[header + 1:]}
    assert by_ref["Q-1"][-2] == "skipped" and "Yes, No" in by_ref["Q-1"][-1]
    assert by_ref["Q-2"][-2] == "written" and "Questionnaire!C3: Yes" in by_ref["Q-2"][-1]


def test_each_export_starts_from_the_original_file(reviewed):
    c, qn_id, store, _ = reviewed
    token = csrf_token(c, f"/q/{qn_id}/review")
    c.post(f"/q/{qn_id}/export", data={"csrf_token": token, "confirm": "1"})
    first = store.latest_export(qn_id)
    assert first.report["written"] == 2
    # every export starts from the customer's original: the same answers are written again
    c.post(f"/q/{qn_id}/export", data={"csrf_token": token, "confirm": "1"})
    assert store.latest_export(qn_id).report["written"] == 2


def test_export_without_open_questions_needs_no_confirmation(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, _dropdown_xlsx(starter_questions(2)), "Two.xlsx")
    store = store_of(app)
    for q in store.questions(qn_id):
        _act(c, qn_id, q, "edit", short_answer="Yes", narrative="")
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/export", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/q/{qn_id}/exported")
    report = store.latest_export(qn_id).report
    assert (report["written"], report["skipped"], report["pending"]) == (1, 1, 0)  # Q-2's cell is a formula


def test_summary_page_before_any_export_is_404(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, _dropdown_xlsx(starter_questions(2)), "Two.xlsx")
    r = c.get(f"/q/{qn_id}/exported")
    assert r.status_code == 404 and "Nothing was exported yet" in r.get_data(as_text=True)
