"""web/curation.py with Flask's test client: history, diff and restore, approval
by a second approver, bulk approval, due list, findings with merge / dismiss,
coverage chart, pack download, questionnaire figures; roles and CSRF.
The embedder is the FAKE one from conftest (via tests.web_helpers)."""
from __future__ import annotations

import io
import re

import pytest
from docx import Document
from openpyxl import load_workbook

from answer_bank.model import BankEntry
from answer_bank.store import Bank
from tests.web_helpers import client_as, csrf_token, make_xlsx, starter_questions, store_of, uploaded_and_matched

PAGES = ["/curation/", "/curation/due", "/curation/checks", "/bank/approvals", "/curation/coverage",
         "/curation/coverage?framework=nist-ai-rmf", "/curation/coverage?framework=eu-ai-act", "/curation/pack",
         "/curation/figures", "/curation/entry/AIMS-GOV-001", "/curation/coverage.svg?framework=iso42001"]


def bank_of(app) -> Bank:
    return Bank(store_of(app).db)


def post(c, url, data=None, page="/curation/"):
    return c.post(url, data={"csrf_token": csrf_token(c, page), **(data or {})})


# ---- roles ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "editor", "approver", "admin"])
def test_every_role_reads_every_curation_page(app, role):
    c = client_as(app, role)
    for page in PAGES:
        r = c.get(page)
        assert r.status_code == 200, (page, r.status_code)
        assert "Content-Security-Policy" in r.headers


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_approvers_change_anything(app, role):
    c = client_as(app, role)
    token = csrf_token(c, "/curation/")
    for url, data in [
        ("/curation/entry/AIMS-GOV-001/restore", {"version": "1"}),
        ("/curation/entry/AIMS-GOV-001/approve", {}),
        ("/curation/entry/AIMS-GOV-001/retire", {"reason": "x"}),
        ("/curation/entry/AIMS-GOV-001/reviewed", {}),
        ("/curation/drafts/approve", {"entry": "AIMS-GOV-001"}),
        ("/curation/checks/merge", {"keep": "AIMS-GOV-001", "away": "AIMS-GOV-002"}),
        ("/curation/checks/dismiss", {"kind": "duplicate", "a": "AIMS-GOV-001", "b": "AIMS-GOV-002"}),
        ("/curation/settings/organisation", {"organisation": "X"}),
    ]:
        assert c.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    assert bank_of(app).get_entry("AIMS-GOV-001").version == 1


def test_a_post_without_a_csrf_token_is_refused(app):
    c = client_as(app, "approver")
    r = c.post("/curation/entry/AIMS-GOV-001/retire", data={"reason": "no token"})
    assert r.status_code == 400
    assert bank_of(app).get_entry("AIMS-GOV-001").status == "approved"


# ---- history, diff, restore, approval ---------------------------------------------------


def test_history_shows_the_diff_and_an_approver_restores_an_earlier_version(app):
    bank = bank_of(app)
    entry = bank.get_entry("AIMS-DAT-006")
    entry.answer = "Yes. We train on <b>everything</b>."
    entry.short_answer = "Yes"
    bank.save_entry(entry, user="eddie", expected_version=1)
    c = client_as(app, "approver")
    html = c.get("/curation/entry/AIMS-DAT-006").get_data(as_text=True)
    assert "version 1 → 2" in html
    assert "<ins>Yes" in html and "<del>No" in html
    assert "&lt;b&gt;everything&lt;/b&gt;" in html and "<b>everything</b>" not in html  # escaped
    r = post(c, "/curation/entry/AIMS-DAT-006/restore", {"version": "1", "base_version": "2"},
             page="/curation/entry/AIMS-DAT-006")
    assert r.status_code == 302
    restored = bank_of(app).get_entry("AIMS-DAT-006")
    assert (restored.version, restored.short_answer) == (3, "No")
    # Version 1 is not the content last approved (version 2 is): it comes back
    # as a draft for another approver (SECURITY.md 28).
    assert restored.status == "draft"
    assert [v["note"] for v in bank_of(app).versions("AIMS-DAT-006")][-1].startswith("restored version 1")


def test_a_restore_from_a_stale_page_is_a_conflict_that_shows_the_other_change(app):
    bank = bank_of(app)
    entry = bank.get_entry("AIMS-GOV-003")
    entry.answer = "Reviewed every quarter now."
    bank.save_entry(entry, user="april2", expected_version=1)  # saved after the page was opened
    c = client_as(app, "approver")
    r = post(c, "/curation/entry/AIMS-GOV-003/restore", {"version": "1", "base_version": "1"},
             page="/curation/entry/AIMS-GOV-003")
    assert r.status_code == 302 and "from=1" in r.headers["Location"] and "to=2" in r.headers["Location"]
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "april2" in page and "Reviewed every quarter now." in page and "shown below" in page
    assert bank_of(app).get_entry("AIMS-GOV-003").version == 2


def test_an_approver_cannot_approve_their_own_draft(app):
    bank_of(app).save_entry(BankEntry("NEW-1", "Do you run a bug bounty?", "Not yet.", short_answer="No"), user="april")
    own = client_as(app, "approver")
    assert "another approver must approve it" in own.get("/curation/entry/NEW-1").get_data(as_text=True)
    r = post(own, "/curation/entry/NEW-1/approve", {"base_version": "1"}, page="/curation/entry/NEW-1")
    assert r.status_code == 403
    assert bank_of(app).get_entry("NEW-1").status == "draft"
    other = client_as(app, "april2")
    r = post(other, "/curation/entry/NEW-1/approve", {"base_version": "1"}, page="/curation/entry/NEW-1")
    assert r.status_code == 302
    approved = bank_of(app).get_entry("NEW-1")
    assert (approved.status, approved.approved_by) == ("approved", "april2")


def test_retire_needs_a_reason(app):
    c = client_as(app, "approver")
    post(c, "/curation/entry/AIMS-GOV-001/retire", {"reason": "", "base_version": "1"})
    assert bank_of(app).get_entry("AIMS-GOV-001").status == "approved"
    post(c, "/curation/entry/AIMS-GOV-001/retire", {"reason": "policy replaced", "base_version": "1"})
    entry = bank_of(app).get_entry("AIMS-GOV-001")
    assert (entry.status, entry.retired_reason) == ("retired", "policy replaced")


def test_bulk_approval_is_one_step_all_or_none(app):
    bank = bank_of(app)
    for n in (1, 2, 3):
        bank.save_entry(BankEntry(f"D-{n}", f"Draft question {n}?", "Draft answer."), user="eddie")
    bank.save_entry(BankEntry("D-OWN", "April's own draft?", "Yes."), user="april")
    c = client_as(app, "approver")
    assert c.get("/curation/drafts").headers["Location"].endswith("/bank/approvals#drafts")  # one queue
    page = c.get("/bank/approvals").get_data(as_text=True)
    assert 'name="entry" value="D-1"' in page and 'name="entry" value="D-OWN"' not in page  # no box for one's own draft
    token = csrf_token(c, "/bank/approvals")
    r = c.post("/curation/drafts/approve", data={"csrf_token": token, "entry": ["D-1", "D-OWN"]})
    assert r.status_code == 302
    assert {bank_of(app).get_entry(x).status for x in ("D-1", "D-OWN")} == {"draft"}
    assert "nothing approved" in c.get("/bank/approvals").get_data(as_text=True)
    r = c.post("/curation/drafts/approve", data={"csrf_token": token, "entry": ["D-1", "D-2", "D-3"]})
    assert {bank_of(app).get_entry(f"D-{n}").status for n in (1, 2, 3)} == {"approved"}


# ---- due, checks --------------------------------------------------------------------


def test_due_lists_overdue_entries_by_owner_and_approvers_confirm_them(app):
    bank = bank_of(app)
    entry = bank.get_entry("AIMS-ISEC-001")
    entry.review_by = "2020-01-31"
    bank.save_entry(entry, user="april2")
    c = client_as(app, "approver")
    html = c.get("/curation/due").get_data(as_text=True)
    assert "AIMS-ISEC-001" in html and "days overdue" in html and f"<h2>{entry.owner} (" in html
    post(c, "/curation/entry/AIMS-ISEC-001/reviewed", {"base_version": "2"}, page="/curation/due")
    assert not bank_of(app).get_entry("AIMS-ISEC-001").is_overdue()
    assert "AIMS-ISEC-001" not in c.get("/curation/due").get_data(as_text=True).split("<h1>")[1]


def test_findings_are_listed_and_merged_or_dismissed(app):
    bank = bank_of(app)
    bank.import_entries([
        BankEntry("DUP-1", "Is customer data encrypted at rest?", "Yes, always.", short_answer="Yes", status="approved"),
        BankEntry("CON-1", "Do you use customer data to train or improve your AI models?", "Yes, we do.",
                  short_answer="Yes", status="approved"),
    ], user="eddie", keep_status=True)
    c = client_as(app, "approver")
    html = c.get("/curation/checks").get_data(as_text=True)
    assert "DUP-1" in html and "AIMS-ISEC-001" in html
    assert "CON-1" in html and "AIMS-DAT-006" in html and "Conflicting answers" in html
    r = post(c, "/curation/checks/merge", {"keep": "AIMS-ISEC-001", "away": "DUP-1", "keep_version": "1",
                                            "away_version": "1"}, page="/curation/checks")
    assert r.status_code == 302
    merged, gone = bank_of(app).get_entry("AIMS-ISEC-001"), bank_of(app).get_entry("DUP-1")
    assert "Is customer data encrypted at rest?" in merged.texts
    assert (gone.status, gone.retired_reason) == ("retired", "merged into AIMS-ISEC-001")
    post(c, "/curation/checks/dismiss", {"kind": "conflict", "a": "CON-1", "b": "AIMS-DAT-006",
                                         "note": "CON-1 is about the opt-in programme"}, page="/curation/checks")
    html = c.get("/curation/checks").get_data(as_text=True).split("<h1>")[1]
    assert "CON-1" not in html and "DUP-1" not in html


# ---- coverage and pack ----------------------------------------------------------------------


def test_coverage_chart_renders_inline_with_every_annex_a_control(app):
    c = client_as(app, "viewer")
    html = c.get("/curation/coverage?framework=iso42001").get_data(as_text=True)
    assert "<svg" in html and len(re.findall(r'data-control="A\.', html)) == 38
    assert 'data-state="gap"' not in html  # the starter bank covers Annex A
    assert "style=" not in html and "<script>" not in html  # CSP: no inline style or script
    assert c.get("/curation/coverage?framework=iso27001").status_code == 404
    svg = c.get("/curation/coverage.svg?framework=nist-ai-rmf")
    assert svg.mimetype == "image/svg+xml" and b"GOVERN 1.1" in svg.data


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_the_pack_button_downloads_a_pack(app, fmt):
    c = client_as(app, "viewer")
    r = c.get(f"/curation/pack?framework=iso42001&format={fmt}&org=Brightwater+Analytics+Ltd.")
    assert r.status_code == 200 and f".{fmt}" in r.headers["Content-Disposition"]
    if fmt == "docx":
        assert Document(io.BytesIO(r.data)).paragraphs[0].text == "Brightwater Analytics Ltd."
    else:
        assert load_workbook(io.BytesIO(r.data))["Cover"]["A1"].value == "Brightwater Analytics Ltd."


def test_the_pack_needs_an_organisation_which_an_approver_can_set(app):
    viewer = client_as(app, "viewer")
    r = viewer.get("/curation/pack?framework=eu-ai-act&format=docx")
    assert r.status_code == 302
    page = viewer.get(r.headers["Location"]).get_data(as_text=True)
    assert "in the Organisation field" in page and "--org" not in page and "aimsq bank" not in page
    # a name typed in the form is used, with no setting saved
    r = viewer.get("/curation/pack?framework=eu-ai-act&format=docx&org=Typed+Here+Ltd.")
    assert r.status_code == 200 and Document(io.BytesIO(r.data)).paragraphs[0].text == "Typed Here Ltd."
    approver = client_as(app, "approver")
    post(approver, "/curation/settings/organisation", {"organisation": "Brightwater Analytics Ltd."},
         page="/curation/pack")
    r = viewer.get("/curation/pack?framework=eu-ai-act&format=docx")
    assert r.status_code == 200 and Document(io.BytesIO(r.data)).paragraphs[0].text == "Brightwater Analytics Ltd."


# ---- figures ---------------------------------------------------------------------------------


def test_figures_show_automatic_and_edited_shares_and_the_most_edited_entries(app):
    editor = client_as(app, "eddie")
    qn_id = uploaded_and_matched(app, editor, make_xlsx(starter_questions(4)), "acme.xlsx")
    store = store_of(app)
    questions = [q for q in store.questions(qn_id) if q.proposed]
    assert len(questions) >= 2
    store.review(questions[0].id, "accept", user="eddie", expected_version=questions[0].version)
    store.review(questions[1].id, "edit", user="eddie", expected_version=questions[1].version,
                 narrative="A better answer.")
    html = client_as(app, "viewer").get("/curation/figures").get_data(as_text=True)
    assert "Acme Bank" in html and "25%" in html  # 1 of 4 automatic, 1 of 4 edited
    assert questions[1].proposed in html.split("Most edited entries")[1]


# ---- navigation and one approval rule everywhere (follow-ups) -------------------------


@pytest.mark.parametrize("role", ["viewer", "editor", "approver", "admin"])
def test_the_top_menu_links_the_curation_pages_for_every_role_that_reads_them(app, role):
    c = client_as(app, role)
    html = c.get("/q/").get_data(as_text=True)
    menu = html.split('<nav>', 1)[1].split("</nav>", 1)[0]
    assert '<a href="/curation/">Curation</a>' in menu
    assert c.get("/curation/").status_code == 200


def test_signed_out_pages_show_no_curation_link(app):
    html = app.test_client().get("/login").get_data(as_text=True)
    assert "/curation/" not in html


def test_the_bank_entry_page_links_its_history_and_diff(app):
    bank = bank_of(app)
    entry = bank.get_entry("AIMS-GOV-003")
    entry.answer += " Reviewed every quarter."
    bank.save_entry(entry, user="eddie", expected_version=1)
    c = client_as(app, "viewer")
    html = c.get("/bank/entry/AIMS-GOV-003").get_data(as_text=True)
    link = re.search(r'<a id="entry-history" href="([^"]+)">History &amp; diff</a>', html)
    assert link and link.group(1) == "/curation/entry/AIMS-GOV-003"
    history = c.get(link.group(1)).get_data(as_text=True)
    assert "version 1 → 2" in history and "Reviewed every quarter." in history


def _draft_edited_by_three(app, ext_id="NEW-4E"):
    """eddie writes the draft, april tidies it, april2 tidies it again: neither
    april nor april2 may approve it (both wrote a version since the last
    approval), although neither created it or - in april's case - last changed it."""
    bank = bank_of(app)
    bank.save_entry(BankEntry(ext_id, "Do you run a bug bounty?", "Not yet."), user="eddie")
    for n, user in enumerate(("april", "april2"), start=1):
        e = bank.get_entry(ext_id)
        e.answer = f"Not yet (edit {n})."
        bank.save_entry(e, user=user, expected_version=e.version)
    return bank.get_entry(ext_id)


def test_the_same_approver_is_refused_through_every_approve_button(app):
    entry = _draft_edited_by_three(app)
    april = client_as(app, "approver")
    # No approve button offered on either page ...
    page = april.get(f"/bank/entry/{entry.ext_id}").get_data(as_text=True)
    assert 'action="/bank/drafts/approve"' not in page and "another approver must approve it" in page
    page = april.get("/bank/approvals").get_data(as_text=True)
    card = page.split(f">{entry.ext_id}</a>", 1)[1].split("</article>", 1)[0]
    assert "Your own change" in card and 'action="/bank/drafts/approve"' not in card
    assert "another approver must approve it" in april.get(f"/curation/entry/{entry.ext_id}").get_data(as_text=True)
    # ... and the requests themselves are refused, on every path.
    r = post(april, "/bank/drafts/approve", {"ext_id": entry.ext_id, "base_version": str(entry.version)},
             page="/bank/approvals")
    assert r.status_code == 403 and "another approver must approve it" in r.get_data(as_text=True)
    r = post(april, f"/curation/entry/{entry.ext_id}/approve", {"base_version": str(entry.version)})
    assert r.status_code == 403
    post(april, "/curation/drafts/approve", {"entry": entry.ext_id}, page="/bank/approvals")
    assert bank_of(app).get_entry(entry.ext_id).status == "draft"
    # A third approver (the admin) approves through the bank page, and the
    # approval is the curation module's: it starts the next review cycle.
    adam = client_as(app, "admin")
    page = adam.get(f"/bank/entry/{entry.ext_id}").get_data(as_text=True)
    assert 'action="/bank/drafts/approve"' in page and f'name="base_version" type="hidden" value="{entry.version}"' in page
    r = post(adam, "/bank/drafts/approve", {"ext_id": entry.ext_id, "base_version": str(entry.version)},
             page="/bank/approvals")
    assert r.status_code == 302
    approved = bank_of(app).get_entry(entry.ext_id)
    assert (approved.status, approved.approved_by, approved.version) == ("approved", "adam", entry.version + 1)
    assert approved.review_by


def test_self_approval_is_refused_whatever_the_case_of_the_name(app):
    """A version written as APRIL (say from the command line) is april's."""
    bank_of(app).save_entry(BankEntry("NEW-CASE", "Do you run a bug bounty?", "Not yet."), user="APRIL")
    april = client_as(app, "approver")
    assert post(april, "/bank/drafts/approve", {"ext_id": "NEW-CASE"}, page="/bank/approvals").status_code == 403
    assert post(april, "/curation/entry/NEW-CASE/approve").status_code == 403
    assert bank_of(app).get_entry("NEW-CASE").status == "draft"
    assert "Your own change" in april.get("/bank/approvals").get_data(as_text=True)


def test_approving_from_a_stale_bank_page_is_a_conflict_that_shows_the_change(app):
    bank = bank_of(app)
    bank.save_entry(BankEntry("NEW-STALE", "Do you run a bug bounty?", "Not yet."), user="eddie")
    adam = client_as(app, "admin")
    page = adam.get("/bank/approvals").get_data(as_text=True)
    assert 'name="ext_id" value="NEW-STALE"><input type="hidden" name="base_version" value="1">' in page
    e = bank.get_entry("NEW-STALE")
    e.answer = "Yes, since 2031."
    bank.save_entry(e, user="eddie2", expected_version=1)
    r = post(adam, "/bank/drafts/approve", {"ext_id": "NEW-STALE", "base_version": "1"}, page="/bank/approvals")
    assert r.status_code == 302 and "/curation/entry/NEW-STALE" in r.headers["Location"]
    assert bank_of(app).get_entry("NEW-STALE").status == "draft"
    shown = adam.get(r.headers["Location"]).get_data(as_text=True)
    assert "eddie2" in shown and "Yes, since 2031." in shown
    r = post(adam, "/bank/drafts/approve", {"ext_id": "NEW-STALE", "base_version": "x1"}, page="/bank/approvals")
    assert r.status_code == 400


def test_the_bank_page_filters_and_pages_the_whole_bank(app):
    c = client_as(app, "viewer")
    html = c.get("/bank/").get_data(as_text=True)
    assert "172 entries, page 1 of 2." in html and "AIMS-GOV-001" in html
    second = c.get("/bank/?page=2").get_data(as_text=True)
    assert "page 2 of 2" in second and "AIMS-GOV-001" not in second
    ids = lambda page: set(re.findall(r'href="/bank/entry/(AIMS-[A-Z]+-\d+)"', page))  # noqa: E731
    assert not ids(html) & ids(second) and len(ids(html)) + len(ids(second)) == 172
    filtered = c.get("/bank/?filter=iso42001:a.6.2.4").get_data(as_text=True)
    found = ids(filtered)
    assert found and len(found) < 20
    with app.app_context():
        bank = Bank.open(app.config["AIMSQ_DB"])
        assert found == {e.ext_id for e in bank.list_entries() if "ISO42001:A.6.2.4" in e.frameworks}
        bank.close()
    assert "0 entries" in c.get("/bank/?filter=%25%25nothing").get_data(as_text=True)
