"""SECURITY.md case 28: no path lets one person change approved content alone.
Merge (web, CLI, library), restore-version, bulk approval and bank imports,
each tried by the person who wrote the change. Real SQLite; the web app's
embedder is the FAKE one from conftest (via tests.web_helpers)."""
from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner

from answer_bank.checks import MergeRefused, merge
from answer_bank.curation import SelfApproval, approve, restore_version
from answer_bank.io import read_entries
from answer_bank.model import BankEntry, Evidence
from answer_bank.store import Bank
from cli import main
from tests.web_helpers import client_as, csrf_token, store_of

SNEAKY = {"question": "Is customer data encrypted at rest by default?", "answer": "We never share anything.",
          "variants": "Do you sell customer data?\nIs customer data sold?",
          "evidence": "Made-up certificate | CERT-0", "frameworks": "ISO42001:A.9.9", "tags": "sneaky"}


def bank_of(app) -> Bank:
    return Bank(store_of(app).db)


def state(bank: Bank, *ext_ids: str):
    return [bank.get_entry(x).to_dict() for x in ext_ids], bank.revision(), len(bank.audit(limit=100000))


# ---- merge ------------------------------------------------------------------------


def _own_draft_via_the_app(c, ext_id="MINE-1"):
    r = c.post("/bank/new", data={"csrf_token": csrf_token(c, "/bank/new"), "ext_id": ext_id, **SNEAKY})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]


def test_an_approver_cannot_merge_their_own_draft_into_an_approved_entry(app):
    april = client_as(app, "approver")
    _own_draft_via_the_app(april)
    before = state(bank_of(app), "AIMS-GOV-001", "MINE-1")
    token = csrf_token(april, "/curation/checks")
    r = april.post("/curation/checks/merge", data={"csrf_token": token, "keep": "AIMS-GOV-001", "away": "MINE-1"})
    assert r.status_code == 403
    page = r.get_data(as_text=True)
    assert "another approver must merge them" in page and "Traceback" not in page
    assert state(bank_of(app), "AIMS-GOV-001", "MINE-1") == before  # nothing written, not even an audit row
    # A second approver may merge it: that is the four eyes.
    other = client_as(app, "april2")
    r = other.post("/curation/checks/merge", data={"csrf_token": csrf_token(other, "/curation/checks"),
                                                   "keep": "AIMS-GOV-001", "away": "MINE-1"})
    assert r.status_code == 302
    merged = bank_of(app).get_entry("AIMS-GOV-001")
    assert merged.status == "approved" and "Do you sell customer data?" in merged.variants
    assert merged.approved_by == "april2"


def test_merging_a_draft_the_merger_only_edited_is_refused_too(bank):
    bank.save_entry(BankEntry("KEEP", "Do you encrypt backups?", "Yes.", status="approved"), user="ana")
    bank.save_entry(BankEntry("AWAY", "Are backups encrypted?", "Yes.", tags=["x"]), user="bo")
    draft = bank.get_entry("AWAY")
    draft.frameworks = ["ISO42001:A.7.2"]
    bank.save_entry(draft, user="Cy", expected_version=1)  # cy tidied bo's draft
    revision = bank.revision()
    with pytest.raises(MergeRefused, match="cy wrote version 2 of AWAY"):
        merge(bank, "KEEP", "AWAY", user="cy")
    assert bank.get_entry("KEEP").version == 1 and bank.get_entry("AWAY").status == "draft"
    assert bank.revision() == revision
    # Merging two approved entries, or into a draft, approves nothing new.
    assert merge(bank, "AWAY", "KEEP", user="cy").status == "draft"


def test_cli_merge_refuses_the_author(tmp_path, monkeypatch):
    db = tmp_path / "cli.db"
    b = Bank.open(db)
    b.save_entry(BankEntry("KEEP", "Do you encrypt backups?", "Yes.", status="approved"), user="ana")
    b.save_entry(BankEntry("MINE", "Are backups encrypted?", "Yes.", evidence=[Evidence("Made up", "X")]),
                 user="mallory")
    b.close()
    monkeypatch.setenv("AIMSQ_USER", "mallory")
    result = CliRunner().invoke(main, ["--db", str(db), "bank", "merge", "KEEP", "MINE"])
    assert result.exit_code == 1 and "another approver must merge them" in result.output
    assert "Traceback" not in result.output
    assert Bank.open(db).get_entry("KEEP").version == 1


# ---- restore-version ---------------------------------------------------------------


def test_restoring_older_approved_content_needs_a_second_approver(bank):
    bank.save_entry(BankEntry("E-1", "Do you keep logs?", "Logs are kept 30 days.", status="approved"), user="ana")
    newer = bank.get_entry("E-1")
    newer.answer = "Logs are kept 90 days."
    bank.save_entry(newer, user="bo", expected_version=1)  # stands for an approved change
    restored = restore_version(bank, "E-1", 1, user="cy")
    assert (restored.answer, restored.status) == ("Logs are kept 30 days.", "draft")
    with pytest.raises(SelfApproval):
        approve(bank, "E-1", user="cy")
    assert approve(bank, "E-1", user="dee").status == "approved"


def test_restoring_an_own_draft_never_approves_it(bank):
    bank.save_entry(BankEntry("E-1", "Do you keep logs?", "Mine.", status="draft"), user="cy")
    approved = approve(bank, "E-1", user="ana")
    approved.answer = "Reviewed wording."
    bank.save_entry(approved, user="ana", expected_version=2)
    restored = restore_version(bank, "E-1", 1, user="cy")
    assert (restored.answer, restored.status) == ("Mine.", "draft")
    with pytest.raises(SelfApproval):
        approve(bank, "E-1", user="cy")


# ---- bulk approval -------------------------------------------------------------------


def test_bulk_approval_with_an_own_draft_among_others_approves_nothing(app):
    april = client_as(app, "approver")
    _own_draft_via_the_app(april)
    bank_of(app).save_entry(BankEntry("THEIRS-1", "Do you run a bug bounty?", "Not yet."), user="eddie")
    before = state(bank_of(app), "MINE-1", "THEIRS-1")
    r = april.post("/curation/drafts/approve", data={"csrf_token": csrf_token(april, "/bank/approvals"),
                                                     "entry": ["THEIRS-1", "MINE-1"]})
    assert r.status_code == 302
    assert "nothing approved" in april.get("/bank/approvals").get_data(as_text=True)
    assert state(bank_of(app), "MINE-1", "THEIRS-1") == before


def test_rejecting_a_draft_on_the_approvals_page_retires_it_with_the_reason(app):
    bank_of(app).save_entry(BankEntry("THEIRS-2", "Do you run a bug bounty?", "Not yet."), user="eddie")
    april = client_as(app, "approver")
    r = april.post("/bank/drafts/reject", data={"csrf_token": csrf_token(april, "/bank/approvals"),
                                                "ext_id": "THEIRS-2", "note": "we  have no  programme"})
    assert r.status_code == 302
    e = bank_of(app).get_entry("THEIRS-2")
    assert e.status == "retired" and e.retired_reason == "we have no programme"
    assert bank_of(app).versions("THEIRS-2")[-1]["note"] == "retired: we have no programme"
    # Rejecting it again is refused with a message; nothing is written.
    before = state(bank_of(app), "THEIRS-2")
    r = april.post("/bank/drafts/reject", data={"csrf_token": csrf_token(april, "/bank/approvals"),
                                                "ext_id": "THEIRS-2", "note": "again"})
    assert r.status_code == 302 and "not a draft" in april.get("/bank/approvals").get_data(as_text=True)
    assert state(bank_of(app), "THEIRS-2") == before


# ---- imports -------------------------------------------------------------------------

FILE = ("id,question,answer,status\n"
        "NEW-1,Do you sell customer data?,Never.,approved\n"
        "NEW-2,Do you run a bug bounty?,Not yet.,draft\n")


def test_a_files_own_approved_status_is_not_taken_without_approve(bank):
    report = bank.import_entries(read_entries(io.BytesIO(FILE.encode()), "csv"), user="mallory")
    assert {e.ext_id: e.status for e in bank.list_entries()} == {"NEW-1": "draft", "NEW-2": "draft"}
    assert report.held_as_draft == ["NEW-1"] and "marked approved in the file" in report.summary()
    with pytest.raises(SelfApproval):
        approve(bank, "NEW-1", user="mallory")


def test_a_file_cannot_change_an_approved_entry_by_saying_approved(bank):
    bank.import_entries(read_entries(io.BytesIO(FILE.encode()), "csv"), approve=True, user="ana")
    changed = FILE.replace("Never.", "Sometimes to partners.")
    bank.import_entries(read_entries(io.BytesIO(changed.encode()), "csv"), user="mallory")
    entry = bank.get_entry("NEW-1")
    assert (entry.answer, entry.status) == ("Sometimes to partners.", "draft")  # answers nobody until approved
    # Importing the old wording again does not approve it again either.
    same = bank.import_entries(read_entries(io.BytesIO(FILE.encode()), "csv"), user="mallory")
    assert "NEW-1" in same.updated
    assert bank.get_entry("NEW-1").status == "draft"


def test_import_with_approve_is_on_the_audit_trail(tmp_path, monkeypatch):
    path, db = tmp_path / "bank.csv", tmp_path / "cli.db"
    path.write_text(FILE)
    monkeypatch.setenv("AIMSQ_USER", "tess")
    plain = CliRunner().invoke(main, ["--db", str(db), "bank", "import", str(path)])
    assert plain.exit_code == 0 and "1 marked approved in the file are drafts" in plain.output
    listed = json.loads(CliRunner().invoke(main, ["--db", str(db), "bank", "list", "--json"]).output)
    assert {e["id"]: e["status"] for e in listed} == {"NEW-1": "draft", "NEW-2": "draft"}
    result = CliRunner().invoke(main, ["--db", str(db), "bank", "import", str(path), "--approve"])
    assert result.exit_code == 0
    bank = Bank.open(db)
    assert {e.status for e in bank.list_entries()} == {"approved"}
    [row] = [a for a in bank.audit(limit=1000) if a["action"] == "import_approved"]
    assert row["user"] == "tess" and "bank.csv" in row["detail"] and "NEW-1" in row["detail"]
