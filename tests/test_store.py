"""The bank store: versions, audit trail, conflicts, learned variants, vector cache."""
from __future__ import annotations

import sqlite3

import pytest

from answer_bank.db import transaction
from answer_bank.embeddings import CachedEmbedder
from answer_bank.model import BankEntry
from answer_bank.store import Bank, EntryNotFound, VersionConflict


def entry(ext_id="E-1", **kw):
    base = dict(question="Do you encrypt backups?", answer="Yes, with AES-256.", short_answer="Yes", status="approved")
    base.update(kw)
    return BankEntry(ext_id, **base)


def test_connection_settings_protect_approvals(bank):
    pragma = lambda name: bank.db.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2  # FULL
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") >= 5000


def test_every_change_adds_a_version_and_an_audit_row(bank):
    bank.save_entry(entry(), user="ana")
    changed = bank.get_entry("E-1")
    changed.answer = "Yes, with AES-256-GCM."
    bank.save_entry(changed, user="bo", expected_version=1)
    versions = bank.versions("E-1")
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["content"]["answer"] == "Yes, with AES-256."
    assert versions[1]["created_by"] == "bo"
    audit = bank.audit("E-1")
    assert [a["action"] for a in audit] == ["update", "create"]
    assert 'AES-256-GCM' in audit[0]["after"] and "AES-256." in audit[0]["before"]


def test_audit_rows_and_versions_cannot_be_changed_or_deleted(bank):
    bank.save_entry(entry(), user="ana")
    for sql in ("UPDATE audit_log SET user = 'x'", "DELETE FROM audit_log",
                "UPDATE entry_versions SET note = 'x'", "DELETE FROM entry_versions"):
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            bank.db.execute(sql)


def test_a_second_save_over_the_same_version_is_a_conflict_and_loses_nothing(bank):
    bank.save_entry(entry(), user="ana")
    first, second = bank.get_entry("E-1"), bank.get_entry("E-1")
    first.answer = "Yes (first editor)."
    bank.save_entry(first, user="ana", expected_version=1)
    second.answer = "Yes (second editor)."
    with pytest.raises(VersionConflict) as err:
        bank.save_entry(second, user="bo", expected_version=1)
    assert err.value.current.answer == "Yes (first editor)."
    assert "ana" in str(err.value)
    assert bank.get_entry("E-1").answer == "Yes (first editor)."


def test_learned_variants_are_kept_apart_from_curated_ones(bank):
    bank.save_entry(entry(variants=["Are backups encrypted?"]), user="ana")
    assert bank.add_learned_variant("E-1", "Is backup data  encrypted at rest?", user="sam")
    assert not bank.add_learned_variant("E-1", "Are backups encrypted?", user="sam")
    got = bank.get_entry("E-1")
    assert got.learned_variants == ["Is backup data encrypted at rest?"]
    assert got.texts == ["Do you encrypt backups?", "Are backups encrypted?", "Is backup data encrypted at rest?"]
    # Editing the curated content keeps what was learned.
    got.variants = []
    bank.save_entry(got, user="ana")
    assert bank.get_entry("E-1").learned_variants == ["Is backup data encrypted at rest?"]
    with pytest.raises(EntryNotFound):
        bank.add_learned_variant("NOPE", "x", user="sam")


def test_revision_counts_changes(bank):
    start = bank.revision()
    bank.save_entry(entry(), user="ana")
    bank.set_status("E-1", "retired", user="ana", reason="product discontinued")
    assert bank.revision() == start + 2
    got = bank.get_entry("E-1")
    assert got.status == "retired" and got.retired_reason == "product discontinued"


def test_overdue_entries_are_known(bank):
    bank.save_entry(entry(review_by="2020-01-01"), user="ana")
    assert bank.get_entry("E-1").is_overdue()
    assert not entry(review_by="2999-01-01").is_overdue()


def test_vectors_are_computed_once_per_model_and_text(tmp_path, fake_embedder):
    bank = Bank.open(tmp_path / "b.db")
    cached = CachedEmbedder(fake_embedder, bank)
    first = cached.embed(["alpha beta", "gamma", "alpha beta"])
    assert fake_embedder.texts_embedded == 2
    second = CachedEmbedder(fake_embedder, Bank.open(tmp_path / "b.db")).embed(["gamma", "alpha beta"])
    assert fake_embedder.texts_embedded == 2  # read back from the database
    assert (second[1] == first[0]).all()

    class OtherModel(type(fake_embedder)):
        model_id = "another-model"

    other = OtherModel()
    CachedEmbedder(other, bank).embed(["gamma"])
    assert other.texts_embedded == 1  # a model change is detected


def test_changing_approved_content_records_who_approved_it(bank):
    bank.save_entry(entry(), user="ana")
    changed = bank.get_entry("E-1")
    changed.answer = "Yes, with AES-256-GCM."
    bank.save_entry(changed, user="tess", expected_version=1)
    got = bank.get_entry("E-1")
    assert got.approved_by == "tess" and got.approved_at == got.updated_at
    assert bank.audit("E-1")[0]["action"] == "update"


def test_the_write_building_blocks_for_other_modules(bank):
    """entry_for_update, write_version, bump_revision and record_event: what
    curation, review cycles, checks and learning build their changes from."""
    bank.save_entry(entry(), user="ana")
    revision = bank.revision()
    with pytest.raises(EntryNotFound):
        bank.entry_for_update("NOPE")
    with pytest.raises(VersionConflict) as conflict:
        bank.entry_for_update("E-1", expected_version=2)
    assert conflict.value.current.version == 1
    existing = bank.entry_for_update("E-1", expected_version=1)
    changed = bank.get_entry("E-1")
    changed.answer = "Yes, with AES-256-GCM."
    with pytest.raises(RuntimeError, match="inside"):
        bank.write_version(existing, changed, "bo", "2030-01-01T00:00:00+00:00", note="outside")
    assert bank.get_entry("E-1").version == 1 and len(bank.audit("E-1")) == 1
    with transaction(bank.db):
        bank.write_version(existing, changed, "bo", "2030-01-01T00:00:00+00:00", note="tidied")
        bank.record_event("bo", "note_taken", ext_id="E-1", entry_id=existing.id, detail="see ticket 7")
        bank.bump_revision()
    assert (changed.id, changed.version) == (existing.id, 2)
    assert bank.versions("E-1")[-1] | {"content": None} == {
        "version": 2, "content": None, "created_at": "2030-01-01T00:00:00+00:00", "created_by": "bo", "note": "tidied"}
    event, update, create = bank.audit("E-1")
    assert (event["action"], event["user"], event["detail"], event["before"], event["after"]) == (
        "note_taken", "bo", "see ticket 7", None, None)
    assert (update["action"], update["at"], create["action"]) == ("update", "2030-01-01T00:00:00+00:00", "create")
    assert bank.revision() == revision + 1


def test_a_page_of_the_bank_is_filtered_and_counted_in_sqlite(bank):
    bank.import_entries([
        entry(f"E-{i:03d}", question=f"Question number {i} about backups?", tags=["ops"] if i % 2 else ["legal"],
              frameworks=["ISO42001:A.6.2.4"] if i == 7 else [], status="approved" if i < 150 else "draft")
        for i in range(250)
    ] + [entry("W-1", question="Is 100% of data_at_rest encrypted?")], user="ana", keep_status=True)
    first, total = bank.page_entries(limit=100)
    assert total == 251 and [e.ext_id for e in first][:2] == ["E-000", "E-001"] and len(first) == 100
    third, _ = bank.page_entries(offset=200, limit=100)
    assert [e.ext_id for e in third][-1] == "W-1" and len(third) == 51
    assert third[0].tags == ["legal"]  # children come with the page
    assert bank.page_entries(status="draft")[1] == 100
    assert bank.page_entries(text="legal", status="draft", limit=10)[1] == 50
    assert [e.ext_id for e in bank.page_entries(text="iso42001:a.6")[0]] == ["E-007"]  # case-insensitive
    assert [e.ext_id for e in bank.page_entries(text="e-24")[0]] == [f"E-24{i}" for i in range(10)]
    # LIKE wildcards in the filter are literal characters.
    assert [e.ext_id for e in bank.page_entries(text="100%")[0]] == ["W-1"]
    assert [e.ext_id for e in bank.page_entries(text="data_at")[0]] == ["W-1"]
    assert bank.page_entries(text="a_b")[1] == 0


def test_a_batch_of_learned_wordings_skips_known_ones_and_missing_entries(bank, caplog):
    bank.save_entry(entry(variants=["Are backups encrypted?"]), user="ana")
    start = bank.revision()
    added = bank.add_learned_variants([("E-1", "Are backups  encrypted?"), ("E-1", "Backups: encrypted?"),
                                       ("E-1", "Backups: encrypted? "), ("GONE", "Anything?")], user="sam")
    assert added == [("E-1", "Backups: encrypted?")]
    assert "no bank entry GONE" in caplog.text
    assert bank.revision() == start + 1  # one bump for the batch
    assert [a["action"] for a in bank.audit("E-1", limit=1)] == ["learn_variant"]
    assert bank.remove_learned_variants([("E-1", "Backups: encrypted?")], user="sam",
                                        keep=lambda ext_id, text: True) == []
    assert bank.remove_learned_variants([("E-1", "Backups: encrypted?"), ("E-1", "Are backups encrypted?")],
                                        user="sam") == [("E-1", "Backups: encrypted?")]
    assert bank.get_entry("E-1").variants == ["Are backups encrypted?"]  # curated wording untouched
