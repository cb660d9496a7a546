"""answer_bank.curation: history diffs, restore, approval by a second person,
retire with a reason, bulk approval in one transaction."""
from __future__ import annotations

import pytest

from answer_bank.curation import (
    BulkApprovalRefused, CurationError, NotADraft, SelfApproval, VersionNotFound, approve, approve_many,
    diff_versions, render_diff, restore_version, retire, text_diff,
)
from answer_bank.model import BankEntry, Evidence
from answer_bank.store import EntryNotFound, VersionConflict


def draft(ext_id="E-1", **kw):
    base = dict(question="Do you encrypt backups?", answer="Yes, with AES-256.", short_answer="Yes",
                status="draft", tags=["security"], owner="security")
    base.update(kw)
    return BankEntry(ext_id, **base)


def edit(bank, ext_id, user, **changes):
    entry = bank.get_entry(ext_id)
    for key, value in changes.items():
        setattr(entry, key, value)
    return bank.save_entry(entry, user=user, expected_version=entry.version)


# ---- diffs ------------------------------------------------------------------


def test_text_diff_marks_words_removed_and_added():
    segments = text_diff("Backups are kept for 35 days.", "Backups are kept for 90 days.")
    assert ("delete", "35") in segments and ("insert", "90") in segments
    assert "".join(t for op, t in segments if op != "insert") == "Backups are kept for 35 days."
    assert "".join(t for op, t in segments if op != "delete") == "Backups are kept for 90 days."


def test_diff_of_two_versions_is_field_by_field(bank):
    bank.save_entry(draft(evidence=[Evidence("Backup policy", "POL-7")]), user="ana")
    edit(bank, "E-1", "bo", answer="Yes, with AES-256-GCM.", tags=["security", "backup"],
         evidence=[Evidence("Backup policy", "POL-8")])
    diff = diff_versions(bank, "E-1")
    assert (diff.from_version, diff.to_version) == (1, 2)
    by_field = {c.field: c for c in diff.changes}
    assert set(by_field) == {"answer", "tags", "evidence"}
    assert by_field["tags"].added == ["backup"] and by_field["tags"].removed == []
    assert by_field["evidence"].added == ["Backup policy|POL-8"]
    assert by_field["evidence"].removed == ["Backup policy|POL-7"]
    assert any(op == "insert" and "GCM" in t for op, t in by_field["answer"].segments)
    text = render_diff(diff)
    assert "answer:" in text and "{+" in text
    assert diff_versions(bank, "E-1", 2, 2).changes == []
    with pytest.raises(VersionNotFound):
        diff_versions(bank, "E-1", 1, 9)


# ---- restore ----------------------------------------------------------------


def test_restore_makes_an_old_version_the_newest_and_keeps_history(bank):
    bank.save_entry(draft(status="approved"), user="ana")
    edit(bank, "E-1", "bo", answer="No.", short_answer="No", status="draft")
    restored = restore_version(bank, "E-1", 1, user="cy")
    assert restored.version == 3
    assert (restored.answer, restored.short_answer, restored.status) == ("Yes, with AES-256.", "Yes", "approved")
    versions = bank.versions("E-1")
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert versions[1]["content"]["answer"] == "No."  # the version it replaced is still there
    assert versions[2]["note"] == "restored version 1" and versions[2]["created_by"] == "cy"
    actions = [a["action"] for a in bank.audit("E-1")]
    assert actions[:2] == ["restore", "approve"]


@pytest.mark.parametrize("version, expected_version, error", [
    (7, None, VersionNotFound),
    (2, None, CurationError),  # the current version: nothing to restore
    (1, 1, VersionConflict),  # someone saved since the page was opened
])
def test_restore_refuses_what_cannot_be_restored(bank, version, expected_version, error):
    bank.save_entry(draft(), user="ana")
    edit(bank, "E-1", "bo", answer="Changed.")
    revision = bank.revision()
    with pytest.raises(error):
        restore_version(bank, "E-1", version, user="cy", expected_version=expected_version)
    assert bank.get_entry("E-1").version == 2 and bank.revision() == revision


# ---- approval ---------------------------------------------------------------


def test_an_approver_cannot_approve_their_own_change(bank):
    bank.save_entry(draft(), user="ana")
    with pytest.raises(SelfApproval, match="another approver"):
        approve(bank, "E-1", user="ana")
    assert bank.get_entry("E-1").status == "draft"
    approved = approve(bank, "E-1", user="bo")
    assert (approved.status, approved.approved_by, approved.version) == ("approved", "bo", 2)
    assert approved.review_by  # a new review cycle starts at approval
    assert bank.audit("E-1")[0]["action"] == "approve"


def test_anyone_who_wrote_a_version_since_the_last_approval_cannot_approve(bank):
    bank.save_entry(draft(status="approved"), user="ana")
    edit(bank, "E-1", "bo", answer="Draft by bo.", status="draft")
    edit(bank, "E-1", "cy", answer="Draft by bo, fixed by cy.")
    for user in ("bo", "cy"):
        with pytest.raises(SelfApproval):
            approve(bank, "E-1", user=user)
    # ana wrote only the version that was approved before: she may approve.
    assert approve(bank, "E-1", user="ana").status == "approved"


@pytest.mark.parametrize("status, error", [("approved", NotADraft), ("retired", NotADraft)])
def test_only_drafts_are_approved(bank, status, error):
    bank.save_entry(draft(status=status), user="ana")
    with pytest.raises(error):
        approve(bank, "E-1", user="bo")


def test_approval_over_a_stale_page_is_a_conflict(bank):
    bank.save_entry(draft(), user="ana")
    edit(bank, "E-1", "cy", answer="Changed after the approver looked.")
    with pytest.raises(VersionConflict):
        approve(bank, "E-1", user="bo", expected_version=1)
    with pytest.raises(EntryNotFound):
        approve(bank, "NOPE", user="bo")


def test_bulk_approval_is_all_or_nothing(bank):
    for n in range(1, 4):
        bank.save_entry(draft(f"E-{n}"), user="ana")
    bank.save_entry(draft("E-9"), user="bo")  # bo's own draft
    revision = bank.revision()
    with pytest.raises(BulkApprovalRefused) as err:
        approve_many(bank, ["E-1", "E-2", "E-9", "E-3"], user="bo")
    assert "E-9" in str(err.value) and len(err.value.problems) == 1
    assert {e.status for e in bank.list_entries()} == {"draft"} and bank.revision() == revision
    approved = approve_many(bank, ["E-1", "E-2", "E-3"], user="bo")
    assert [e.status for e in approved] == ["approved"] * 3
    assert bank.revision() == revision + 1  # one transaction, one revision


# ---- retire -----------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_retiring_needs_a_reason(bank, reason):
    bank.save_entry(draft(status="approved"), user="ana")
    with pytest.raises(CurationError, match="reason"):
        retire(bank, "E-1", reason, user="bo")


def test_retire_keeps_the_reason_and_stops_the_entry_answering(bank):
    bank.save_entry(draft(status="approved"), user="ana")
    retired = retire(bank, "E-1", "backups moved to a new provider", user="bo")
    assert (retired.status, retired.retired_reason) == ("retired", "backups moved to a new provider")
    assert bank.list_entries(status="approved") == []
    assert bank.audit("E-1")[0]["action"] == "retire"
    with pytest.raises(CurationError, match="already retired"):
        retire(bank, "E-1", "again", user="bo")
