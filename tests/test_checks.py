"""answer_bank.checks: near-duplicate questions, conflicting answers, merge, dismiss.

Unit tests use the FAKE bag-of-words embedder from conftest; the last two
tests run the real bundled model on the starter AIMS bank.
"""
from __future__ import annotations

import shutil
from importlib import resources

import pytest

from answer_bank.checks import (
    CheckError, contradictions, dismiss, find_findings, merge, quantities, same_identifiers,
)
from answer_bank.model import BankEntry, Evidence
from answer_bank.store import Bank, EntryNotFound, VersionConflict


def entry(ext_id, question, answer="Yes.", short=None, **kw):
    kw.setdefault("status", "approved")
    return BankEntry(ext_id, question, answer, short_answer=short, **kw)


BASE = [
    entry("ENC", "Is customer data encrypted at rest?", "Yes, AES-256.", "Yes",
          variants=["Do you encrypt stored data?"], evidence=[Evidence("Crypto standard", "STD-1")],
          frameworks=["ISO42001:A.7.2"], tags=["security"]),
    entry("RET", "How long do you keep backups?", "Backups are kept for 35 days, then deleted."),
    entry("TRAIN", "Do you use customer data to train your models?", "No. Never.", "No"),
    entry("SSO", "Do you support single sign-on?", "Yes, SAML and OIDC.", "Yes"),
]


@pytest.fixture
def seeded(bank):
    bank.import_entries([BankEntry(**{**e.__dict__}) for e in BASE], user="ana", keep_status=True)
    return bank


# ---- answers that contradict ------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Kept for 30 days.", {"duration": {30.0}}),
    ("Deleted within thirty (30) days and purged after 12 months.", {"duration": {30.0, 360.0}}),
    ("We notify within 48 hours.", {"duration": {2.0}}),
    ("Uptime of 99.9% each month.", {"percent": {99.9}}),
    ("Our media days are fun; a 30-day trial.", {"duration": {30.0}}),
    ("No figures here.", {}),
])
def test_quantities_are_read_with_their_units(text, expected):
    assert {k: set(v) for k, v in quantities(text).items()} == expected


@pytest.mark.parametrize("a, b, conflict", [
    (entry("A", "q", "Yes, we do.", "Yes"), entry("B", "q", "No, we do not.", "No"), True),
    (entry("A", "q", "Yes, we do."), entry("B", "q", "No. Never."), True),  # read from the text
    (entry("A", "q", "Yes.", "Yes"), entry("B", "q", "Partly.", "Partial"), False),
    (entry("A", "q", "Kept 30 days."), entry("B", "q", "Kept 90 days."), True),
    (entry("A", "q", "Kept 30 days."), entry("B", "q", "Kept 30 days, purged from backups in 35 days."), False),
    (entry("A", "q", "Kept one month."), entry("B", "q", "Kept 30 days."), False),
    (entry("A", "q", "Kept 30 days."), entry("B", "q", "Uptime 99.9%."), False),
])
def test_contradictions(a, b, conflict):
    assert bool(contradictions(a, b)) is conflict


@pytest.mark.parametrize("a, b, same", [
    ("Are you certified to ISO/IEC 27001?", "Are you certified to ISO/IEC 42001?", False),
    ("Incidents in the past 12 months?", "Incidents in the past 24 months?", False),
    ("Are you ISO/IEC 27001 certified?", "Are you certified to ISO/IEC 27001?", True),
    ("Are you ISO certified?", "Are you certified to ISO/IEC 27001?", True),
])
def test_questions_naming_different_numbers_ask_different_things(a, b, same):
    assert same_identifiers(a, b) is same


# ---- findings ---------------------------------------------------------------


def test_a_clean_bank_has_no_findings(seeded, fake_embedder):
    assert find_findings(seeded, fake_embedder) == []


def test_planted_duplicate_and_conflicts_are_found_naming_both_entries(seeded, fake_embedder):
    seeded.import_entries([
        entry("ENC-2", "Is all customer data encrypted at rest?", "Yes, with AES-256.", "Yes"),
        entry("RET-2", "How long do you keep backups?", "Backups are kept for 90 days."),
        entry("TRAIN-2", "Do you use customer data to train your models?", "Yes, to improve them.", "Yes"),
    ], user="bo", keep_status=True)
    found = {(f.kind, f.a.ext_id, f.b.ext_id): f for f in find_findings(seeded, fake_embedder)}
    assert set(found) == {("duplicate", "ENC", "ENC-2"), ("conflict", "RET", "RET-2"),
                          ("conflict", "TRAIN", "TRAIN-2")}
    assert "35 days" in found[("conflict", "RET", "RET-2")].reasons[0]
    assert found[("conflict", "TRAIN", "TRAIN-2")].to_json()["entries"] == ["TRAIN", "TRAIN-2"]
    # Conflicts come first: a customer could be told two different things.
    assert [f.kind for f in find_findings(seeded, fake_embedder)][:2] == ["conflict", "conflict"]


def test_drafts_are_checked_and_retired_entries_are_not(seeded, fake_embedder):
    seeded.import_entries([entry("ENC-2", "Is all customer data encrypted at rest?", status="draft"),
                           entry("ENC-3", "Is all customer data encrypted at rest?", status="retired")],
                          user="bo", keep_status=True)
    pairs = {(f.a.ext_id, f.b.ext_id) for f in find_findings(seeded, fake_embedder)}
    assert pairs == {("ENC", "ENC-2")}


def test_dismissed_findings_are_not_shown_again(seeded, fake_embedder):
    seeded.import_entries([entry("ENC-2", "Is all customer data encrypted at rest?")], user="bo", keep_status=True)
    [finding] = find_findings(seeded, fake_embedder)
    dismiss(seeded, "duplicate", "ENC-2", "ENC", user="cy", note="one is for the EU region")
    assert find_findings(seeded, fake_embedder) == []
    assert len(find_findings(seeded, fake_embedder, include_dismissed=True)) == 1
    assert seeded.audit()[0]["action"] == "dismiss_finding"


@pytest.mark.parametrize("kind, a, b, error", [
    ("typo", "ENC", "RET", CheckError),
    ("duplicate", "ENC", "ENC", CheckError),
    ("duplicate", "ENC", "NOPE", EntryNotFound),
])
def test_bad_dismissals_are_refused(seeded, kind, a, b, error):
    with pytest.raises(error):
        dismiss(seeded, kind, a, b, user="cy")


def test_vectors_come_from_the_bank_cache(seeded, fake_embedder):
    find_findings(seeded, fake_embedder)
    first = fake_embedder.texts_embedded
    find_findings(seeded, fake_embedder)
    assert fake_embedder.texts_embedded == first


# ---- merge ------------------------------------------------------------------


def test_merge_keeps_both_histories_and_unions_what_the_other_knew(seeded, fake_embedder):
    seeded.import_entries([entry(
        "ENC-2", "Is all customer data encrypted at rest?", "Yes.", "Yes", variants=["Encryption at rest?"],
        evidence=[Evidence("Crypto standard", "STD-1"), Evidence("SOC 2 report", "SOC2-2026")],
        frameworks=["ISO42001:A.7.2", "NIST-AI-RMF:MEASURE 2.7"], tags=["encryption"])], user="bo", keep_status=True)
    seeded.add_learned_variant("ENC-2", "Is data at rest encrypted by you?", user="sam")
    before = {x: seeded.get_entry(x).version for x in ("ENC", "ENC-2")}
    survivor = merge(seeded, "ENC", "ENC-2", user="cy")
    assert survivor.variants == ["Do you encrypt stored data?", "Is all customer data encrypted at rest?",
                                 "Encryption at rest?", "Is data at rest encrypted by you?"]
    assert [e.title for e in survivor.evidence] == ["Crypto standard", "SOC 2 report"]
    assert survivor.frameworks == ["ISO42001:A.7.2", "NIST-AI-RMF:MEASURE 2.7"]
    assert survivor.tags == ["security", "encryption"]
    assert (survivor.answer, survivor.status, survivor.version) == ("Yes, AES-256.", "approved", before["ENC"] + 1)
    gone = seeded.get_entry("ENC-2")
    assert (gone.status, gone.retired_reason) == ("retired", "merged into ENC")
    # Both histories: every earlier version of each entry is still stored.
    assert len(seeded.versions("ENC")) == before["ENC"] + 1
    assert len(seeded.versions("ENC-2")) == before["ENC-2"] + 1
    actions = [(a["action"], a["ext_id"]) for a in seeded.audit(limit=3)]
    assert actions == [("merge", "ENC"), ("retire", "ENC-2"), ("update", "ENC")]
    assert find_findings(seeded, fake_embedder) == []


@pytest.mark.parametrize("keep, away, expected, error", [
    ("ENC", "ENC", None, CheckError),
    ("ENC", "NOPE", None, EntryNotFound),
    ("ENC", "RET", {"RET": 99}, VersionConflict),
])
def test_a_refused_merge_changes_nothing(seeded, keep, away, expected, error):
    revision = seeded.revision()
    snapshot = [e.to_dict() for e in seeded.list_entries()]
    with pytest.raises(error):
        merge(seeded, keep, away, user="cy", expected_versions=expected)
    assert [e.to_dict() for e in seeded.list_entries()] == snapshot and seeded.revision() == revision


def test_a_retired_entry_cannot_be_merged(seeded):
    seeded.set_status("RET", "retired", user="ana", reason="old")
    with pytest.raises(CheckError, match="retired"):
        merge(seeded, "ENC", "RET", user="cy")


# ---- the real model on the starter AIMS bank -----------------------------------

# Realistic plants: a second author re-asking what a starter entry already
# answers, the same way (duplicates) or differently (conflicts).
PLANTED = [
    ("duplicate", "AIMS-DAT-006", entry("PLANT-1", "Is customer data used to train or improve your AI models?",
                                        "No. Customer documents are never used for model training.", "No")),
    ("duplicate", "AIMS-ISEC-001", entry("PLANT-2", "Is all customer data encrypted at rest?",
                                         "Yes, with AES-256.", "Yes")),
    ("duplicate", "AIMS-FAIR-001", entry("PLANT-3", "Do you test your AI models for bias and fairness?",
                                         "Yes, before every release.", "Yes")),
    ("duplicate", "AIMS-TP-002", entry("PLANT-4", "Who are your subprocessors and how do you notify customers of changes?",
                                       "See the subprocessor list on our trust portal.")),
    ("conflict", "AIMS-DAT-006", entry("PLANT-5", "Do you use customer data to train your AI models?",
                                       "Yes, customer documents help us improve our models.", "Yes")),
    ("conflict", "AIMS-ISEC-010", entry("PLANT-6", "How are your backups managed and protected?",
                                        "Backups are encrypted and retained for 90 days.")),
    ("conflict", "AIMS-PRV-004", entry("PLANT-7", "Do you log the prompts and document text sent to your AI models, and for how long?",
                                       "Yes. Prompts and outputs are kept for 90 days.", "Yes")),
    ("conflict", "AIMS-ISEC-007", entry("PLANT-8", "Do you hold ISO/IEC 27001 certification?",
                                        "No. We are working towards certification.", "No")),
    ("conflict", "AIMS-PRV-001", entry("PLANT-9", "How long do you retain customer documents and AI outputs?",
                                       "Documents and outputs are kept for two years.")),
]


@pytest.fixture(scope="module")
def starter_db(tmp_path_factory):
    if not resources.files("answer_bank.starter").joinpath("aims_bank.json").is_file():
        pytest.skip("the starter AIMS bank (answer_bank/starter/aims_bank.json) is not there yet")
    from answer_bank.embeddings import CachedEmbedder, embedder_from_env
    from answer_bank.starter import starter_entries

    path = tmp_path_factory.mktemp("starter") / "bank.db"
    bank = Bank.open(path)
    bank.import_entries(starter_entries(), approve=True, user="aimsq-init")
    embedder = embedder_from_env()
    # Fill the vector cache once; each test works on a copy that carries it.
    CachedEmbedder(embedder, bank).embed([t for e in bank.list_entries() for t in [e.question, *e.variants]])
    bank.close()
    return path, embedder


@pytest.mark.model
def test_the_clean_starter_bank_has_no_findings(starter_db, tmp_path):
    path, embedder = starter_db
    shutil.copy(path, tmp_path / "bank.db")
    bank = Bank.open(tmp_path / "bank.db")
    assert [f.to_json() for f in find_findings(bank, embedder)] == []


@pytest.mark.model
def test_duplicates_and_conflicts_planted_in_the_starter_bank_are_found(starter_db, tmp_path):
    path, embedder = starter_db
    shutil.copy(path, tmp_path / "bank.db")
    bank = Bank.open(tmp_path / "bank.db")
    bank.import_entries([p for _, _, p in PLANTED], user="bo", keep_status=True)
    found = {(f.kind, frozenset((f.a.ext_id, f.b.ext_id))) for f in find_findings(bank, embedder)}
    expected = {(kind, frozenset((target, plant.ext_id))) for kind, target, plant in PLANTED}
    assert found == expected
