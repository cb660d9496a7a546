"""answer_bank.backup, `aimsq backup` / `aimsq restore` (SECURITY.md 27: backups
with SQLite's backup API, never a file copy of a live database)."""
from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest
import sqlite_utils
from click.testing import CliRunner

from answer_bank.backup import BackupError, backup, inspect_bank, restore
from answer_bank.curation import approve, retire
from answer_bank.model import BankEntry
from answer_bank.store import Bank, utcnow
from cli import main


def entry(n: int, **kw) -> BankEntry:
    return BankEntry(f"E-{n:05d}", f"Question {n}: do you do thing {n}?", f"Yes, thing {n}. " * 8,
                     short_answer="Yes", status="approved", variants=[f"Thing {n}?"], tags=["load"], **kw)


def counts(path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        out = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
               for t in ("entries", "entry_versions", "audit_log", "entry_variants", "entry_tags")}
        out["revision"] = int(conn.execute("SELECT value FROM bank_meta WHERE key = 'revision'").fetchone()[0])
        out["version_sum"] = conn.execute("SELECT coalesce(sum(version), 0) FROM entries").fetchone()[0]
        return out
    finally:
        conn.close()


def integrity(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_a_backup_taken_under_write_load_restores_whole_and_consistent(tmp_path):
    """SECURITY.md 27: a thread keeps saving entries while the backup runs."""
    live = tmp_path / "live.db"
    bank = Bank.open(live)
    bank.import_entries([entry(n) for n in range(3000)], user="seed")  # a few MB, so the copy takes time
    stop, written, errors = threading.Event(), [], []

    def writer():
        own = Bank.open(live)  # its own connection, as another worker would have
        n = 10_000
        try:
            while not stop.is_set():
                own.save_entry(entry(n), user="writer")
                written.append(n)
                n += 1
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)
        finally:
            own.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        info = backup(live, tmp_path / "backup.db")
        during = len(written)
        time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert len(written) > during  # the writer kept going after the backup

    snap = counts(tmp_path / "backup.db")
    assert integrity(tmp_path / "backup.db") == "ok"
    assert (info.entries, info.versions, info.audit_rows) == (snap["entries"], snap["entry_versions"], snap["audit_log"])
    # One consistent moment: every saved entry arrived with its version, audit row and children.
    assert 3000 + 20 <= snap["entries"] < counts(live)["entries"]
    assert snap["entry_versions"] == snap["version_sum"] == snap["audit_log"] == snap["entries"]
    assert snap["entry_variants"] == snap["entry_tags"] == snap["entries"]

    target = tmp_path / "restored.db"
    Bank.open(target).close()
    restored, saved = restore(tmp_path / "backup.db", target)
    assert saved is not None and saved.exists()
    assert integrity(target) == "ok"
    after = counts(target)
    same = [k for k in snap if k not in ("revision", "audit_log")]
    assert {k: after[k] for k in same} == {k: snap[k] for k in same}
    assert after["audit_log"] == snap["audit_log"] + 1  # the restore's own row
    assert restored.entries == snap["entries"]


def test_restore_reaches_connections_that_stay_open(tmp_path):
    """The app keeps its connections: after a restore they read the restored bank."""
    live = tmp_path / "live.db"
    app_bank = Bank.open(live)
    app_bank.import_entries([entry(1)], user="seed")
    backup(live, tmp_path / "one.db")
    app_bank.import_entries([entry(2), entry(3)], user="seed")
    revision_before = app_bank.revision()
    restore(tmp_path / "one.db", live)
    assert [e.ext_id for e in app_bank.list_entries()] == ["E-00001"]
    # The revision moves forward, so caches keyed on it (the matcher) reload.
    assert app_bank.revision() > revision_before
    assert app_bank.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def read_only_bank(path) -> Bank:
    """The bank in a file, read without changing it (no migrations, no WAL switch)."""
    return Bank(sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True)), str(path))


def test_a_restore_is_on_record_in_the_restored_banks_audit_trail(tmp_path):
    live = tmp_path / "live.db"
    bank = Bank.open(live)
    bank.import_entries([entry(n, owner="ops") for n in range(3)], user="seed")
    bank.save_entry(BankEntry("D-1", "Do you red-team your models?", "Yes, before every release."), user="eddie")
    approve(bank, "D-1", user="april")
    backup_file = tmp_path / "backups" / "bank-monday.db"
    backup(live, backup_file)
    snapshot = read_only_bank(backup_file)
    try:
        backed_up = (snapshot.list_entries(), {e.ext_id: snapshot.versions(e.ext_id) for e in snapshot.list_entries()},
                     snapshot.audit(limit=10_000))
    finally:
        snapshot.close()
    # Changes after the backup, which the restore rolls back.
    bank.save_entry(entry(1, owner="someone else"), user="eddie")
    retire(bank, "D-1", "no longer offered", user="april")
    bank.import_entries([entry(7)], user="seed")
    written = dt.datetime.fromtimestamp(backup_file.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")
    started = utcnow()

    restored, saved = restore(backup_file, live, user="rita")

    entries, versions, audit = backed_up
    assert bank.list_entries() == entries  # the app's open connection reads the backup's entries
    assert [e.ext_id for e in entries] == ["D-1", "E-00000", "E-00001", "E-00002"]
    assert {e.ext_id: bank.versions(e.ext_id) for e in entries} == versions
    row, *rest = bank.audit(limit=10_000)
    assert rest == audit  # the backup's trail, then one row for the restore
    assert (row["user"], row["action"], row["ext_id"], row["before"], row["after"]) == (
        "rita", "restore_backup", None, None, None)
    assert started <= row["at"] <= utcnow()
    assert "bank-monday.db" in row["detail"] and str(backup_file.resolve()) in row["detail"]
    assert f"file written {written}" in row["detail"]
    assert f"last change in it {audit[0]['at']}" in row["detail"]
    assert f"saved as {saved.resolve()}" in row["detail"]
    assert restored.audit_rows == len(audit) + 1 and restored.entries == len(entries)
    # The restore's row is as immutable as every other audit row.
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        bank.db.execute("UPDATE audit_log SET user = 'nobody' WHERE id = ?", [row["id"]])
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        bank.db.execute("DELETE FROM audit_log WHERE id = ?", [row["id"]])
    bank.close()

def _not_sqlite(path):
    path.write_bytes(b"PK\x03\x04 this is a zip, not a database" * 100)


def _other_sqlite(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()


def _damaged(path):
    bank = Bank.open(path)
    bank.import_entries([entry(n) for n in range(400)], user="seed")
    bank.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    bank.db.execute("PRAGMA journal_mode = DELETE")
    bank.close()
    data = bytearray(path.read_bytes())
    for offset in range(8192, len(data) - 4096, 4096):  # scribble over every page but the first two
        data[offset + 100 : offset + 300] = b"\xff" * 200
    path.write_bytes(bytes(data))


def _newer(path):
    Bank.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                 "VALUES ('aimsq.answer_bank', 'm999_from_the_future', '2030-01-01')")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("make, message", [
    (_not_sqlite, "not an SQLite database"),
    (_other_sqlite, "not an aimsq bank"),
    (_damaged, "damaged|not an SQLite database"),
    (_newer, "newer aimsq"),
    (None, "does not exist"),
])
def test_restore_refuses_what_is_not_a_usable_bank_and_changes_nothing(tmp_path, make, message):
    live = tmp_path / "live.db"
    Bank.open(live).import_entries([entry(1)], user="seed")
    before = counts(live)
    candidate = tmp_path / "candidate.db"
    if make:
        make(candidate)
    with pytest.raises(BackupError, match=message):
        restore(candidate, live)
    assert counts(live) == before
    assert not list(tmp_path.glob("live.db.before-restore-*"))
    result = CliRunner().invoke(main, ["--db", str(live), "restore", str(candidate), "--yes"])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_cli_backup_and_restore(tmp_path):
    live = tmp_path / "live.db"
    Bank.open(live).import_entries([entry(n) for n in range(5)], user="seed")
    runner = CliRunner()
    target = tmp_path / "backups" / "bank-1.db"
    result = runner.invoke(main, ["--db", str(live), "backup", str(target)])
    assert result.exit_code == 0 and "5 entries" in result.output
    assert inspect_bank(target).entries == 5
    again = runner.invoke(main, ["--db", str(live), "backup", str(target)])
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(main, ["--db", str(live), "backup", str(target), "--force"]).exit_code == 0
    Bank.open(live).import_entries([entry(99)], user="seed")
    result = runner.invoke(main, ["--db", str(live), "restore", str(target), "--yes"], env={"AIMSQ_USER": "cora"})
    assert result.exit_code == 0 and "Restored 5 entries" in result.output
    assert counts(live)["entries"] == 5
    [row] = Bank.open(live).audit(limit=1)
    assert (row["user"], row["action"]) == ("cora", "restore_backup") and "bank-1.db" in row["detail"]
    missing = runner.invoke(main, ["--db", str(tmp_path / "nope.db"), "backup", str(tmp_path / "x.db")])
    assert missing.exit_code == 1 and "no bank" in missing.output


# ---- 33: restore checks the schema ------------------------------------------------


def _full_bank(path):
    """A bank with every table the app makes (bank, curation and review sets)."""
    from answer_bank.curation_db import ensure_schema
    from questionnaire import review_db

    db = review_db.connect(path)
    ensure_schema(db)
    Bank(db).import_entries([entry(1), entry(2)], user="seed", keep_status=True)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()


def _without(sql):
    def make(path):
        _full_bank(path)
        conn = sqlite3.connect(path)
        conn.executescript(sql)
        conn.close()
    return make


@pytest.mark.parametrize("make, message", [
    (_without("DROP TABLE entry_tags"), "no entry_tags table"),
    (_without("DROP TABLE curation_settings"), "no curation_settings table"),
    (_without("DROP TABLE bank_proposals"), "no bank_proposals table"),
    (_without("DROP TRIGGER audit_log_no_delete"), "no audit_log_no_delete trigger"),
    (_without("DROP TRIGGER review_actions_no_update"), "no review_actions_no_update trigger"),
    (_without("DROP TRIGGER entry_versions_no_delete; CREATE TRIGGER entry_versions_no_delete "
              "BEFORE DELETE ON entry_versions BEGIN SELECT 1; END"), "trigger entry_versions_no_delete was changed"),
    (_without("CREATE TRIGGER sneaky AFTER INSERT ON entries BEGIN UPDATE entries SET answer = 'x'; END"),
     "trigger sneaky on entries is not one aimsq makes"),
    (_without("DROP INDEX entries_status"), "no entries_status index"),
    (_without("ALTER TABLE entries DROP COLUMN approved_by"), "table entries has no column approved_by"),
])
def test_restore_refuses_a_bank_missing_part_of_its_schema_and_changes_nothing(tmp_path, make, message):
    live = tmp_path / "live.db"
    _full_bank(live)
    before = counts(live)
    candidate = tmp_path / "candidate.db"
    make(candidate)
    result = CliRunner().invoke(main, ["--db", str(live), "restore", str(candidate), "--yes"])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert "not a complete aimsq bank" in result.output
    assert counts(live) == before and not list(tmp_path.glob("live.db.before-restore-*"))
    # The live bank's audit rows are still immutable.
    conn = sqlite3.connect(live)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("DELETE FROM audit_log")
    conn.close()


def test_a_whole_backup_of_the_app_database_still_restores(tmp_path):
    live, saved = tmp_path / "live.db", tmp_path / "saved.db"
    _full_bank(live)
    backup(live, saved)
    result = CliRunner().invoke(main, ["--db", str(live), "restore", str(saved), "--yes"])
    assert result.exit_code == 0, result.output
    assert counts(live)["entries"] == 2
