"""The bank's glossary (answer_bank/glossary.py and its store methods in
answer_bank/store.py) over a real SQLite bank: add, list, remove, audit rows,
revision, the upgrade of a bank made before the glossary, and matching a
question through a glossary term. The matching test uses the FAKE embedder
from conftest (a bag of words, which links no synonyms: only the glossary can)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from answer_bank import db as bank_db
from answer_bank.glossary import groups, term_key
from answer_bank.matching import Matcher
from answer_bank.model import BankEntry
from answer_bank.starter import starter_glossary, starter_glossary_pairs
from answer_bank.store import Bank, GlossaryError


def test_a_term_means_its_lowercase_words():
    assert term_key("  Multi-Factor   Authentication ") == "multi factor authentication"
    assert term_key("--") == ""


def test_pairs_linked_through_a_term_form_one_group():
    assert groups([("SaaS", "hosted"), ("hosted", "cloud-based"), ("MFA", "2FA"), ("Hosted", "on-line")]) == [
        ["2FA", "MFA"], ["cloud-based", "hosted", "on-line", "SaaS"]]


def test_add_lists_audits_and_moves_the_revision_on(bank):
    before = bank.revision()
    pair = bank.add_glossary_pair("  cloud-based ", "hosted", user="tess")
    assert (pair.term, pair.equivalent, pair.created_by) == ("cloud-based", "hosted", "tess")
    assert [(p.term, p.equivalent) for p in bank.glossary()] == [("cloud-based", "hosted")]
    assert bank.glossary_groups() == [["cloud-based", "hosted"]]
    assert bank.revision() == before + 1
    row = bank.glossary_audit()[0]
    assert (row["user"], row["action"], row["before"]) == ("tess", "glossary_add", None)
    assert json.loads(row["after"]) == {"term": "cloud-based", "equivalent": "hosted"}
    assert bank.audit()[0]["action"] == "glossary_add"  # in the bank's one audit trail


def test_glossary_audit_rows_are_immutable(bank):
    bank.add_glossary_pair("SSO", "single sign-on", user="tess")
    bank.remove_glossary("SSO", user="tess")
    for sql in ("UPDATE audit_log SET user = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            bank.db.execute(sql)
    assert [r["action"] for r in bank.glossary_audit()] == ["glossary_remove", "glossary_add"]


@pytest.mark.parametrize("term, equivalent, message", [
    ("", "hosted", "at least one letter or digit"),
    ("  ", "hosted", "at least one letter or digit"),
    ("hosted", "--", "at least one letter or digit"),
    ("x" * 201, "hosted", "at most 200 characters"),
    ("SSO", "sso", "are the same term"),
    ("Cloud Based", "cloud-based", "are the same term"),
    ("hosted", "cloud-based", "already in the glossary"),  # stored the other way round
    ("HOSTED", "Cloud-Based", "already in the glossary"),
    ("SaaS", "cloud-based", "already mean the same"),  # through hosted
])
def test_bad_or_duplicate_pairs_are_refused_and_nothing_is_written(bank, term, equivalent, message):
    bank.add_glossary_pair("cloud-based", "hosted", user="tess")
    bank.add_glossary_pair("hosted", "SaaS", user="tess")
    revision, audit = bank.revision(), len(bank.audit())
    with pytest.raises(GlossaryError, match=message):
        bank.add_glossary_pair(term, equivalent, user="tess")
    assert len(bank.glossary()) == 2
    assert (bank.revision(), len(bank.audit())) == (revision, audit)


def test_remove_one_pair_either_way_round_or_every_pair_of_a_term(bank):
    bank.add_glossary_pair("cloud-based", "hosted", user="tess")
    bank.add_glossary_pair("hosted", "SaaS", user="tess")
    bank.add_glossary_pair("MFA", "2FA", user="tess")
    revision = bank.revision()
    removed = bank.remove_glossary("Hosted", "Cloud Based", user="ron")
    assert [(p.term, p.equivalent) for p in removed] == [("cloud-based", "hosted")]
    assert bank.revision() == revision + 1
    row = bank.glossary_audit()[0]
    assert (row["user"], row["action"], row["after"]) == ("ron", "glossary_remove", None)
    assert json.loads(row["before"]) == {"term": "cloud-based", "equivalent": "hosted"}
    bank.add_glossary_pair("cloud-based", "hosted", user="tess")
    assert len(bank.remove_glossary("hosted", user="ron")) == 2
    assert [(p.term, p.equivalent) for p in bank.glossary()] == [("MFA", "2FA")]


@pytest.mark.parametrize("args, message", [
    (("nope",), "“nope” is not in the glossary"),
    (("MFA", "SSO"), "“MFA” = “SSO” is not in the glossary"),
])
def test_removing_what_is_not_there_is_an_error(bank, args, message):
    bank.add_glossary_pair("MFA", "2FA", user="tess")
    revision = bank.revision()
    with pytest.raises(GlossaryError, match=message):
        bank.remove_glossary(*args, user="ron")
    assert bank.revision() == revision and len(bank.glossary()) == 1


def test_the_starter_glossary_is_added_once(bank):
    added = bank.add_glossary_pairs(starter_glossary_pairs(), user="aimsq-init")
    assert len(added) == len(starter_glossary_pairs()) == len(bank.glossary())
    assert bank.add_glossary_pairs(starter_glossary_pairs(), user="aimsq-init") == []
    assert len(bank.glossary_groups()) == len(starter_glossary())


def test_the_starter_glossary_has_no_set_specific_mapping():
    terms = {term_key(t) for g in starter_glossary() for t in g}
    assert not terms & {"solution provider", "consulting", "professional services"}


def _bank_before_the_glossary(path) -> None:
    """A bank file as aimsq wrote it before migration m002 existed, with one entry."""
    import sqlite_utils

    db = sqlite_utils.Database(str(path))
    bank_db.migrations.apply(db, stop_before="m002_glossary")
    assert "glossary" not in db.table_names()
    db.conn.execute(
        "INSERT INTO entries (ext_id, question, answer, status, created_at, created_by, updated_at, updated_by) "
        "VALUES ('MFA-1', 'Do you enforce MFA?', 'Yes.', 'approved', 'x', 'x', 'x', 'x')")
    db.conn.commit()
    db.conn.close()


def test_a_bank_made_before_the_glossary_gets_the_starter_glossary_on_upgrade(tmp_path):
    _bank_before_the_glossary(tmp_path / "old.db")
    bank = Bank.open(tmp_path / "old.db")
    assert len(bank.glossary()) == len(starter_glossary_pairs())
    assert {r["user"] for r in bank.glossary_audit(limit=1000)} == {"aimsq-upgrade"}
    assert bank.get_entry("MFA-1").question == "Do you enforce MFA?"


def test_a_new_bank_starts_with_an_empty_glossary(bank):
    assert bank.glossary() == [] and bank.glossary_groups() == []


def test_a_question_matches_its_entry_only_through_a_glossary_term(bank, fake_embedder):
    for ext_id, question in [("HOST-1", "Is the platform hosted in the EU?"),
                             ("AUD-1", "Is the platform audited in the EU?")]:
        bank.save_entry(BankEntry(ext_id, question, f"Answer for {ext_id}.", status="approved"), user="ana")
    matcher = Matcher(bank, fake_embedder)
    question = "Is the platform cloud-based in the EU?"
    before = matcher.match(question)
    # The two entries differ in one word the question does not use: a tie.
    assert before.candidates[0].score == pytest.approx(before.candidates[1].score)
    bank.add_glossary_pair("cloud-based", "hosted", user="tess")
    after = matcher.match(question)  # the same matcher: the revision moved, the index is rebuilt
    assert after.candidates[0].entry.ext_id == "HOST-1"
    assert after.candidates[0].score > after.candidates[1].score
    assert after.confidence > before.confidence
    bank.remove_glossary("hosted", user="tess")
    again = matcher.match(question)
    assert again.candidates[0].score == pytest.approx(again.candidates[1].score)
