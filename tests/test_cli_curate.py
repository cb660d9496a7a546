"""cli/curate.py: the trust team's `aimsq` commands (history,
approval, review cycles, checks). Coverage, pack, backup and restore have
their CLI tests beside their modules. The embedder is the FAKE one."""
from __future__ import annotations

import json

import pytest


BANK_CSV = (
    "id,question,answer,short_answer,owner,tags,review_by,status\n"
    "ENC-1,Do you encrypt customer data at rest?,Yes: AES-256.,Yes,security,security,2020-01-01,approved\n"
    "ENC-2,Do you encrypt all customer data at rest?,No.,No,security,security,2099-01-01,approved\n"
    "RET-1,How long do you keep logs?,Logs are kept for 30 days.,,privacy,privacy,2099-01-01,approved\n"
    "NEW-1,Do you run a bug bounty?,Not yet.,No,security,security,,draft\n"
)


@pytest.fixture
def run(run, tmp_path):
    """conftest's `run` with the bank imported, acting as "ana" unless told."""
    # A file's own "approved" is taken only with --approve: the approved rows
    # and the draft are imported separately.
    header, *rows = BANK_CSV.splitlines(keepends=True)
    (tmp_path / "bank.csv").write_text(header + "".join(r for r in rows if r.rstrip().endswith(",approved")))
    (tmp_path / "drafts.csv").write_text(header + "".join(r for r in rows if not r.rstrip().endswith(",approved")))

    def invoke(*args, user="ana"):
        return run(*args, user=user)

    assert invoke("bank", "import", str(tmp_path / "bank.csv"), "--approve", user="importer").exit_code == 0
    assert invoke("bank", "import", str(tmp_path / "drafts.csv"), user="importer").exit_code == 0
    return invoke


def test_history_diff_and_restore_version(run):
    assert run("bank", "retire", "RET-1", "--reason", "logs now kept 90 days").exit_code == 0
    history = json.loads(run("bank", "history", "RET-1", "--json").output)
    assert [(v["version"], v["status"], v["created_by"]) for v in history] == [(1, "approved", "importer"),
                                                                               (2, "retired", "ana")]
    diff = run("bank", "diff", "RET-1")
    assert "status: 'approved' → 'retired'" in diff.output
    assert json.loads(run("bank", "diff", "RET-1", "1", "2", "--json").output)["changes"][0]["field"] == "status"
    result = run("bank", "restore-version", "RET-1", "1")
    assert result.exit_code == 0 and "restored as version 3 (approved)" in result.output
    bad = run("bank", "restore-version", "RET-1", "9")
    assert bad.exit_code == 1 and "no version 9" in bad.output and "Traceback" not in bad.output


def test_approve_refuses_the_author_and_names_why(run):
    own = run("bank", "approve", "NEW-1", user="importer")
    assert own.exit_code == 1 and "another approver" in own.output
    ok = run("bank", "approve", "--all-drafts", user="bo")
    assert ok.exit_code == 0 and "NEW-1: approved as version 2" in ok.output
    again = run("bank", "approve", "NEW-1", user="cy")
    assert again.exit_code == 1 and "not a draft" in again.output
    assert run("bank", "approve").exit_code == 2


def test_due_by_owner_and_reviewed(run):
    result = run("bank", "due", "--json")
    payload = json.loads(result.output)
    assert payload["overdue"] == 1
    assert payload["owners"] == [{"owner": "security", "entries": [payload["owners"][0]["entries"][0]]}]
    assert payload["owners"][0]["entries"][0]["id"] == "ENC-1"
    assert run("bank", "reviewed", "ENC-1").exit_code == 0
    assert json.loads(run("bank", "due", "--json").output)["overdue"] == 0
    text = run("bank", "due", "--days", "40000")
    assert text.exit_code == 2  # out of range


def test_review_rules_and_settings(run):
    assert "otherwise: every 365 days" in run("bank", "review-rule").output
    assert run("bank", "review-rule", "--tag", "privacy", "--days", "90").exit_code == 0
    assert "tag privacy: every 90 days" in run("bank", "review-rule").output
    assert run("bank", "review-rule", "--tag", "privacy").exit_code == 2  # neither --days nor --remove
    assert run("bank", "review-rule", "--tag", "privacy", "--remove").exit_code == 0
    assert run("bank", "setting", "organisation", "Brightwater Analytics Ltd.").exit_code == 0
    assert run("bank", "setting", "organisation").output.strip() == "Brightwater Analytics Ltd."
    bad = run("bank", "setting", "colour", "red")
    assert bad.exit_code == 1 and "unknown setting" in bad.output


def test_check_merge_and_dismiss(run):
    found = json.loads(run("bank", "check", "--json").output)["findings"]
    assert [(f["kind"], f["entries"]) for f in found] == [("conflict", ["ENC-1", "ENC-2"])]
    assert "ENC-1 answers Yes, ENC-2 answers No" in found[0]["reasons"][0]
    assert run("bank", "dismiss", "conflict", "ENC-2", "ENC-1", "--note", "regions differ").exit_code == 0
    assert json.loads(run("bank", "check", "--json").output)["findings"] == []
    assert len(json.loads(run("bank", "check", "--json", "--all").output)["findings"]) == 1
    merged = run("bank", "merge", "ENC-1", "ENC-2")
    assert merged.exit_code == 0 and "ENC-2 merged into ENC-1" in merged.output
    listed = {e["id"]: e for e in json.loads(run("bank", "list", "--json").output)}
    assert listed["ENC-2"]["status"] == "retired" and listed["ENC-2"]["retired_reason"] == "merged into ENC-1"
    assert "Do you encrypt all customer data at rest?" in listed["ENC-1"]["variants"]
