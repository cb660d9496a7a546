"""Upload, detect, correct, propose, review, export and learn, through
Flask's test client. The embedder is a FAKE (tests/conftest.py); the tiers it
yields are not the point here, so tests that need a tier set it directly."""
from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest

from tests.web_helpers import (client_as, csrf_token, make_docx, make_xlsx, qn_id_from, starter_questions,
                               store_of, upload, uploaded_and_matched)


def _force_tier(app, qn_id: str, tier: str) -> None:
    store = store_of(app)
    store.db.execute(
        "UPDATE review_questions SET tier = ?, proposed = json_extract(candidates, '$[0].id') "
        "WHERE questionnaire_id = ? AND json_array_length(candidates) > 0", [tier, qn_id])


def _act(c, qn_id, q, action, **fields):
    token = csrf_token(c, f"/q/{qn_id}/review")
    data = {"csrf_token": token, "version": q.version, "action": action}
    data.update(fields)
    return c.post(f"/q/{qn_id}/questions/{q.id}", data=data, headers={"X-Requested-With": "fetch"})


def test_upload_detects_and_lists(app):
    c = client_as(app, "editor")
    r = upload(c, make_xlsx(starter_questions(6)), "Acme AI questionnaire.xlsx")
    assert r.status_code == 302
    qn_id = qn_id_from(r)
    page = c.get(f"/q/{qn_id}").get_data(as_text=True)
    assert 'id="question-count">6<' in page
    assert "Questionnaire" in page  # the sheet
    listing = c.get("/q/").get_data(as_text=True)
    assert "Acme Bank" in listing and "2031-03-31" in listing and "eddie" in listing and "0 / 6" in listing


def test_correct_a_column(app):
    c = client_as(app, "editor")
    qn_id = qn_id_from(upload(c, make_xlsx(starter_questions(4)), "q.xlsx"))
    store = store_of(app)
    assert {q.answer_at["cell"][0] for q in store.questions(qn_id)} == {"C"}
    token = csrf_token(c, f"/q/{qn_id}")
    r = c.post(f"/q/{qn_id}/layout", data={"csrf_token": token, "sheet": "Questionnaire", "question_col": "B",
                                            "answer_col": "D", "comment_col": ""})
    assert r.status_code == 302
    assert {q.answer_at["cell"][0] for q in store.questions(qn_id)} == {"D"}
    assert store.get(qn_id).hints["answer_col"] == "D"


def test_bad_upload_is_rejected_without_rows(app):
    c = client_as(app, "editor")
    r = upload(c, b"PK\x03\x04 this is not really a zip", "broken.xlsx")
    assert r.status_code == 400
    assert "damaged" in r.get_data(as_text=True).lower()
    assert store_of(app).list() == []
    r = upload(c, b"MZ\x90\x00\x03" + bytes(200), "tool.exe")
    assert r.status_code == 400
    assert store_of(app).list() == []


def test_review_actions_and_conflict(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(5)), "q.xlsx")
    store = store_of(app)
    qs = store.questions(qn_id)
    with_proposal = [q for q in qs if q.proposed]
    assert with_proposal, "the fake embedder should find the starter questions in the starter bank"
    q = with_proposal[0]
    r = _act(c, qn_id, q, "accept")
    assert r.status_code == 200 and r.json["ok"] and r.json["status"] == "accepted"
    assert r.json["reviewed"] == 1 and r.json["total"] == 5
    # The same version again: someone else's change wins, nothing is lost.
    r = _act(c, qn_id, q, "blank")
    assert r.status_code == 409 and "changed by eddie" in r.json["error"]
    q = store.question(q.id)
    assert q.status == "accepted" and q.entry_ext_id == q.proposed and q.narrative
    # Pick an alternative, then edit, then needs expert, then undo.
    alt = q.alternatives[0]["id"]
    assert _act(c, qn_id, q, f"pick:{alt}", confirmed="1").json["status"] == "accepted"
    q = store.question(q.id)
    assert q.entry_ext_id == alt
    r = _act(c, qn_id, q, "edit", short_answer="Yes", narrative="Yes, reviewed yearly by the AI council.")
    assert r.json["status"] == "edited"
    q = store.question(q.id)
    assert q.narrative == "Yes, reviewed yearly by the AI council." and q.entry_ext_id == alt and q.draft_entry
    assert _act(c, qn_id, q, "needs_expert", note="ask the CISO").json["status"] == "needs_expert"
    q = store.question(q.id)
    assert q.note == "ask the CISO" and q.narrative is None
    assert _act(c, qn_id, q, "reset").json["status"] == "pending"
    # Bad input is a 400 with a message, not a crash.
    q = store.question(q.id)
    r = _act(c, qn_id, q, "edit", short_answer="Maybe", narrative="x")
    assert r.status_code == 400 and "short answer" in r.json["error"]
    r = _act(c, qn_id, q, "pick:NOT-AN-ALTERNATIVE")
    assert r.status_code == 400
    # Audit: one row per successful write.
    assert len(store.actions(qn_id, review_only=True)) == 5


def test_plain_form_post_redirects_back(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(3)), "q.xlsx")
    q = store_of(app).questions(qn_id)[0]
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/questions/{q.id}", data={"csrf_token": token, "version": q.version, "action": "blank",
                                                     "next": f"/q/{qn_id}/review?tier=high"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/q/{qn_id}/review?tier=high")
    r = c.post(f"/q/{qn_id}/questions/{q.id}", data={"csrf_token": token, "version": q.version + 1,
                                                     "action": "reset", "next": "https://evil.example/"})
    assert r.status_code == 302 and "evil" not in r.headers["Location"]


def test_review_page_filters_and_counter(app):
    c = client_as(app, "viewer")
    editor = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, editor, make_xlsx(starter_questions(12)), "q.xlsx")
    page = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    assert 'id="counter-reviewed">0<' in page and 'id="counter-total">12<' in page
    assert 'class="q tier-' in page
    assert "Accept</button>" not in page  # a viewer reads only
    _force_tier(app, qn_id, "high")
    page = c.get(f"/q/{qn_id}/review?tier=high").get_data(as_text=True)
    n_high = page.count('<article class="q tier-high')
    assert n_high == store_of(app).count(qn_id, tier="high") > 0
    assert c.get(f"/q/{qn_id}/review?tier=low").get_data(as_text=True).count("<article") == store_of(app).count(qn_id, tier="low")
    page = c.get(f"/q/{qn_id}/review?per=10&page=2").get_data(as_text=True)
    assert page.count("<article") == 2


def test_bulk_accept_high_learns_variants(app):
    c = client_as(app, "editor")
    questions = starter_questions(6)
    # Customer wording differs a little from the bank's canonical question.
    reworded = [(ref, "Please tell us: " + text) for ref, text in questions]
    qn_id = uploaded_and_matched(app, c, make_xlsx(reworded), "q.xlsx")
    _force_tier(app, qn_id, "high")
    store = store_of(app)
    expected = store.counts(qn_id)["pending_high"]
    assert expected > 0
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/bulk-accept", data={"csrf_token": token, "tier": "high"})
    assert r.status_code == 302
    assert store.counts(qn_id)["by_status"]["accepted"] == expected
    accepted = [q for q in store.questions(qn_id) if q.status == "accepted"]
    from answer_bank.store import Bank

    bank = Bank(store.db)
    for q in accepted:
        assert q.text in bank.get_entry(q.entry_ext_id).learned_variants
    assert len(store.actions(qn_id, review_only=True)) == expected


def test_edit_becomes_draft_for_another_approver(app):
    editor = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, editor, make_xlsx(starter_questions(2)), "q.xlsx")
    store = store_of(app)
    q = store.questions(qn_id)[0]
    r = _act(editor, qn_id, q, "edit", short_answer="No", narrative="We do not train on customer data, ever.")
    assert r.status_code == 200
    draft_id = store.question(q.id).draft_entry
    from answer_bank.store import Bank

    bank = Bank(store.db)
    draft = bank.get_entry(draft_id)
    assert draft.status == "draft" and draft.answer == "We do not train on customer data, ever."
    assert "questionnaire Acme Bank" in draft.source
    # The editor cannot approve; an approver can.
    token = csrf_token(editor, "/q/")
    assert editor.post("/bank/drafts/approve", data={"csrf_token": token, "ext_id": draft_id}).status_code == 403
    approver = client_as(app, "approver")
    token = csrf_token(approver, "/bank/approvals")
    assert approver.post("/bank/drafts/approve", data={"csrf_token": token, "ext_id": draft_id}).status_code == 302
    assert bank.get_entry(draft_id).status == "approved"


def test_approver_cannot_approve_own_edit(app):
    approver = client_as(app, "approver")
    qn_id = uploaded_and_matched(app, approver, make_xlsx(starter_questions(2)), "q.xlsx")
    store = store_of(app)
    q = store.questions(qn_id)[0]
    _act(approver, qn_id, q, "edit", narrative="Our own words.")
    draft_id = store.question(q.id).draft_entry
    token = csrf_token(approver, "/bank/approvals")
    page = approver.get("/bank/approvals").get_data(as_text=True)
    assert "Your own change" in page
    r = approver.post("/bank/drafts/approve", data={"csrf_token": token, "ext_id": draft_id})
    assert r.status_code == 403 and "another approver" in r.get_data(as_text=True)
    other = client_as(app, "april2")
    token = csrf_token(other, "/bank/approvals")
    assert other.post("/bank/drafts/approve", data={"csrf_token": token, "ext_id": draft_id}).status_code == 302


def test_proposed_change_needs_another_approver(app):
    from answer_bank.store import Bank

    bank = Bank(store_of(app).db)
    entry = bank.list_entries(status="approved")[0]
    approver = client_as(app, "approver")
    token = csrf_token(approver, f"/bank/entry/{entry.ext_id}/propose")
    form = {"csrf_token": token, "question": entry.question, "answer": entry.answer + " Reviewed in 2031.",
            "short_answer": entry.short_answer or "", "variants": "\n".join(entry.variants),
            "evidence": "\n".join(f"{e.title} | {e.ref}" if e.ref else e.title for e in entry.evidence),
            "frameworks": "; ".join(entry.frameworks), "tags": "; ".join(entry.tags),
            "base_version": str(entry.version), "note": "yearly refresh"}
    assert approver.post(f"/bank/entry/{entry.ext_id}/propose", data=form).status_code == 302
    assert bank.get_entry(entry.ext_id).answer == entry.answer  # still the approved text
    store = store_of(app)
    (proposal,) = store.proposals()
    token = csrf_token(approver, "/bank/approvals")
    r = approver.post(f"/bank/proposals/{proposal.id}/approve", data={"csrf_token": token})
    assert r.status_code == 403
    other = client_as(app, "april2")
    token = csrf_token(other, "/bank/approvals")
    assert other.post(f"/bank/proposals/{proposal.id}/approve", data={"csrf_token": token}).status_code == 302
    after = bank.get_entry(entry.ext_id)
    assert after.answer.endswith("Reviewed in 2031.") and after.status == "approved" and after.version == entry.version + 1
    assert store.proposal(proposal.id).status == "approved"


def test_export_xlsx_fills_answer_cells_and_summary(app):
    c = client_as(app, "editor")
    qs = starter_questions(4)
    qn_id = uploaded_and_matched(app, c, make_xlsx(qs), "Acme questionnaire.xlsx")
    store = store_of(app)
    rows = store.questions(qn_id)
    first = next(q for q in rows if q.proposed)
    _act(c, qn_id, first, "accept")
    edited = next(q for q in rows if q.id != first.id)
    _act(c, qn_id, edited, "edit", narrative="=SUM(A1:A2) is not a formula here")
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/export", data={"csrf_token": token, "confirm": "1"})
    assert r.status_code == 302
    r = c.get(f"/q/{qn_id}/download")
    assert r.status_code == 200
    assert "Acme%20questionnaire-answered.xlsx" in r.headers["Content-Disposition"] or \
        'Acme questionnaire-answered.xlsx' in r.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(r.data))["Questionnaire"]
    first, edited = store.question(first.id), store.question(edited.id)
    assert first.narrative in str(ws[first.answer_at["cell"]].value) or first.short_answer == ws[first.answer_at["cell"]].value
    assert ws[edited.answer_at["cell"]].value == "=SUM(A1:A2) is not a formula here"
    assert ws[edited.answer_at["cell"]].data_type != "f"
    untouched = [q for q in store.questions(qn_id) if q.status == "pending"]
    assert all(ws[q.answer_at["cell"]].value in (None, "") for q in untouched)
    summary = c.get(f"/q/{qn_id}/summary")
    text = summary.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["position", "ref"]  # a plain table: the header on the first line
    header = 0
    body = {r[0]: r for r in rows[header + 1 :]}
    assert body[str(first.position)][5] == first.entry_ext_id and body[str(first.position)][12] == "eddie"
    assert body[str(edited.position)][10] == "'=SUM(A1:A2) is not a formula here"
    assert any(r[4] == "pending" for r in body.values())  # the app's word, not another one
    assert {r[4] for r in body.values()} <= {"pending", "accepted", "edited", "needs_expert", "blank"}
    assert store.get(qn_id).status == "exported"


def test_docx_end_to_end(app):
    c = client_as(app, "editor")
    qs = starter_questions(3)
    qn_id = uploaded_and_matched(app, c, make_docx(qs), "Fragebogen Überprüfung.docx")
    store = store_of(app)
    q = store.questions(qn_id)[0]
    _act(c, qn_id, q, "edit", narrative="Written by the reviewer.")
    token = csrf_token(c, f"/q/{qn_id}/review")
    assert c.post(f"/q/{qn_id}/export", data={"csrf_token": token, "confirm": "1"}).status_code == 302
    r = c.get(f"/q/{qn_id}/download")
    assert r.status_code == 200
    assert "filename*=UTF-8''Fragebogen%20%C3%9Cberpr%C3%BCfung-answered.docx" in r.headers["Content-Disposition"]
    import docx

    doc = docx.Document(io.BytesIO(r.data))
    texts = [cell.text for row in doc.tables[0].rows for cell in row.cells]
    assert "Written by the reviewer." in texts


@pytest.mark.parametrize("name", ["../../app.db", "CON.xlsx", "..\\..\\evil.xlsx", "アンケート.xlsx", "a\x00b.xlsx"])
def test_hostile_file_names_are_stored_under_generated_ids(app, name):
    c = client_as(app, "editor")
    r = upload(c, make_xlsx(starter_questions(2)), name)
    assert r.status_code == 302
    qn_id = qn_id_from(r)
    qn = store_of(app).get(qn_id)
    assert qn.stored_name == f"{qn_id}.upload"
    assert "/" not in qn.filename and "\\" not in qn.filename and "\x00" not in qn.filename
    from pathlib import Path

    files = sorted(p.name for p in Path(app.config["AIMSQ_FILES_DIR"]).iterdir())
    assert files == [f"{qn_id}.upload"]
    assert not (Path(app.config["AIMSQ_DB"]).parent.parent / "app.db").exists()
    uploaded_token = csrf_token(c, f"/q/{qn_id}")
    c.post(f"/q/{qn_id}/autofill", data={"csrf_token": uploaded_token})
    c.post(f"/q/{qn_id}/export", data={"csrf_token": uploaded_token, "confirm": "1"})
    disposition = c.get(f"/q/{qn_id}/download").headers["Content-Disposition"]
    assert ".." not in disposition.replace("...", "") and "/" not in disposition.split("''")[-1]
    assert re.search(r'filename="?[^";]*-answered\.xlsx', disposition) or "-answered.xlsx" in disposition


def test_progress_endpoint(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(3)), "q.xlsx")
    r = c.get(f"/q/{qn_id}/progress.json")
    assert r.json["status"] == "review" and r.json["done"] == r.json["total"] == 3


def test_a_stale_proposal_is_refused_whole(app):
    """The change and the decision commit together: when the entry moved on
    since the proposal, the approval is a conflict and nothing is written."""
    from answer_bank.store import Bank

    bank = Bank(store_of(app).db)
    entry = bank.list_entries(status="approved")[0]
    store = store_of(app)
    changed = entry.content() | {"answer": entry.answer + " (proposed)"}
    proposal_id = store.propose(entry.ext_id, base_version=entry.version, content=changed, note="n",
                                user="editor")
    moved = bank.get_entry(entry.ext_id)
    moved.answer = entry.answer + " (edited meanwhile)"
    bank.save_entry(moved, user="april2")
    before = (bank.get_entry(entry.ext_id).version, bank.revision())
    other = client_as(app, "april2")
    token = csrf_token(other, "/bank/approvals")
    assert other.post(f"/bank/proposals/{proposal_id}/approve", data={"csrf_token": token}).status_code == 409
    assert store.proposal(proposal_id).status == "pending"
    assert (bank.get_entry(entry.ext_id).version, bank.revision()) == before
    assert bank.get_entry(entry.ext_id).answer.endswith("(edited meanwhile)")


def test_csv_upload_names_an_inferred_encoding_and_refuses_a_wide_or_utf32_file(app):
    """Issue 9: a cp1251 upload was read as cp1252 with no warning; issue 13: a
    200,000-column CSV held a worker, UTF-32 was read as questions."""
    c = client_as(app, "editor")
    text = ("ID,Вопрос,Ответ\nQ-1,Шифруются ли данные при хранении?,\n"
            "Q-2,Назначен ли ответственный за защиту данных?,\n")
    r = upload(c, text.encode("cp1251"), "russian.csv")
    assert r.status_code == 302
    qn_id = qn_id_from(r)
    page = c.get(f"/q/{qn_id}").get_data(as_text=True)
    assert "Windows-1251 (Cyrillic)" in page and "CSV UTF-8" in page
    assert [q.text for q in store_of(app).questions(qn_id)] == [
        "Шифруются ли данные при хранении?", "Назначен ли ответственный за защиту данных?"]
    wide = (",".join(f"c{i}" for i in range(200_000)) + "\n").encode()
    for data, words in ((wide, "200,000 columns"), (text.encode("utf-32"), "UTF-32")):
        r = upload(c, data, "bad.csv")
        assert r.status_code == 400 and words in r.get_data(as_text=True)
    assert len(store_of(app).list()) == 1


def test_layout_page_lists_every_sheet_and_reads_the_ticked_ones(app):
    from tests.ingest_fixtures import hecvat_like

    c = client_as(app, "editor")
    qn_id = qn_id_from(upload(c, hecvat_like(), "vendor form.xlsx"))
    store = store_of(app)
    page = c.get(f"/q/{qn_id}").get_data(as_text=True)
    assert 'id="question-count">11<' in page
    # every sheet, read or not, with what was found or why not; no command-line words
    for name in ("START HERE", "Company", "Data", "Institution Evaluation", "(backend)"):
        assert f'value="{name}"' in page
    assert "not read: its answer cells are formulas" in page and "not read: hidden in the workbook" in page
    assert "copies of answers given on another sheet" in page
    assert not re.search(r"--(sheet|question-col|answer-col|comment-col)\b", page)
    token = csrf_token(c, f"/q/{qn_id}")
    # nothing ticked: a clear message, nothing changes
    r = c.post(f"/q/{qn_id}/layout", data={"csrf_token": token, "sheet_choice": "1"})
    assert r.status_code == 302
    assert "Tick at least one sheet" in c.get(f"/q/{qn_id}").get_data(as_text=True)
    assert len(store.questions(qn_id)) == 11
    # only the start sheet and one tab
    r = c.post(f"/q/{qn_id}/layout", data={"csrf_token": token, "sheet_choice": "1", "sheets": ["START HERE", "Company"]})
    assert r.status_code == 302
    assert {q.answer_at["sheet"] for q in store.questions(qn_id)} == {"START HERE", "Company"}
    assert len(store.questions(qn_id)) == 8
    assert store.get(qn_id).hints["sheets"] == ["START HERE", "Company"]
    page = c.get(f"/q/{qn_id}").get_data(as_text=True)
    assert 'value="Data" form="layout-form" aria-label="Read sheet Data">' in page  # listed, not ticked
    assert 'value="Company" form="layout-form" aria-label="Read sheet Company" checked>' in page
    assert "not among the sheets chosen to read" in page


def test_layout_page_messages_name_page_fields_not_options(app):
    from web.questionnaires import page_text

    assert page_text("Hidden sheets were not read: 'X' (use --sheet NAME to read one).") == \
        "Hidden sheets were not read: 'X' (tick it under Sheets to read it)."
    assert "--" not in page_text("Sheet1: no answer column found; give one with --answer-col")
    assert "--" not in page_text("No questions were found. If the workbook is a questionnaire, name the sheet and "
                                 "columns with --sheet, --question-col and --answer-col.")
    assert "--" not in page_text("--answer-col 'Nope': no column with that letter or heading in sheet 'Q'.")
