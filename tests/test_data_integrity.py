"""SECURITY.md cases 24-26, end to end (case 27, backups, is in test_backup.py).

24 connection settings on every way a connection is opened, write
transactions taken up front; 25 every curation change adds an immutable
version and audit row, and two editors saving over the same version do not
lose anything; 26 an import killed with SIGKILL leaves the bank exactly as
before or exactly as after.
"""
from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from answer_bank.checks import merge
from answer_bank.curation import approve, diff_content, restore_version, retire
from answer_bank.db import connect, transaction
from answer_bank.model import BankEntry
from answer_bank.review_cycle import mark_reviewed
from answer_bank.store import Bank, VersionConflict
from tests.conftest import REPO

# ---- 24: connection settings --------------------------------------------------


def pragmas(conn: sqlite3.Connection) -> dict[str, object]:
    return {name: conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}


EXPECTED = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


def _child_pragmas(path, queue):
    bank = Bank.open(path)  # opened in the worker, after the fork
    queue.put(pragmas(bank.db.conn))
    bank.close()


def openers():
    from questionnaire import review_db

    return {
        "answer_bank.db.connect": lambda p: connect(p).conn,
        "Bank.open": lambda p: Bank.open(p).db.conn,
        "questionnaire.review_db.connect": lambda p: review_db.connect(p).conn,
    }


@pytest.mark.parametrize("name", ["answer_bank.db.connect", "Bank.open", "questionnaire.review_db.connect"])
def test_every_connection_gets_wal_full_sync_busy_timeout_and_foreign_keys(tmp_path, name):
    conn = openers()[name](tmp_path / "bank.db")
    got = pragmas(conn)
    assert {k: got[k] for k in EXPECTED} == EXPECTED and got["busy_timeout"] >= 5000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_opens_its_own_connection_with_the_same_settings(tmp_path):
    parent = Bank.open(tmp_path / "bank.db")  # the parent keeps one open, as a server master might
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_pragmas, args=(str(tmp_path / "bank.db"), queue))
    child.start()
    got = queue.get(timeout=30)
    child.join(30)
    assert child.exitcode == 0
    assert {k: got[k] for k in EXPECTED} == EXPECTED and got["busy_timeout"] >= 5000
    parent.close()


def test_a_write_transaction_takes_the_write_lock_up_front(tmp_path):
    bank = Bank.open(tmp_path / "bank.db")
    other = sqlite3.connect(tmp_path / "bank.db", timeout=0, isolation_level=None)
    with transaction(bank.db):
        # Nothing written yet, but BEGIN IMMEDIATE already holds the lock: a
        # read-then-write elsewhere cannot slip in between our read and write.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")


# ---- 25: versions, audit, conflicts --------------------------------------------


def test_every_curation_change_adds_an_immutable_version_and_audit_row(tmp_path):
    bank = Bank.open(tmp_path / "bank.db")
    bank.save_entry(BankEntry("A", "Do you encrypt data?", "Yes.", short_answer="Yes"), user="ana")
    bank.save_entry(BankEntry("B", "Do you encrypt all data?", "Yes, all.", short_answer="Yes"), user="ana")
    approve(bank, "A", user="bo")
    approve(bank, "B", user="bo")
    mark_reviewed(bank, "A", user="cy")
    retire(bank, "A", "wording out of date", user="cy")
    restore_version(bank, "A", 2, user="bo")
    merge(bank, "A", "B", user="bo")
    for ext_id in ("A", "B"):
        entry = bank.get_entry(ext_id)
        versions = bank.versions(ext_id)
        assert [v["version"] for v in versions] == list(range(1, entry.version + 1))
        changes = [a for a in bank.audit(ext_id) if a["before"] is not None or a["action"] == "create"]
        assert len(changes) == entry.version  # one audit row with before/after per version
        for row in bank.audit(ext_id):
            assert row["user"] and row["at"].endswith("+00:00")  # who, and when in UTC
    for sql in ("UPDATE audit_log SET user = 'mallory'", "DELETE FROM audit_log WHERE action = 'merge'",
                "UPDATE entry_versions SET snapshot = '{}'", "DELETE FROM entry_versions WHERE version = 1"):
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            bank.db.execute(sql)


def test_two_editors_saving_over_the_same_version_lose_nothing(tmp_path):
    path = tmp_path / "bank.db"
    Bank.open(path).save_entry(BankEntry("E", "Do you encrypt backups?", "Yes."), user="ana")
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def editor(user: str, answer: str):
        bank = Bank.open(path)  # each editor on their own connection, as two workers
        entry = bank.get_entry("E")
        entry.answer = answer
        barrier.wait()
        try:
            results[user] = bank.save_entry(entry, user=user, expected_version=1)
        except VersionConflict as e:
            results[user] = e

    threads = [threading.Thread(target=editor, args=(u, f"Yes ({u}).")) for u in ("ana", "bo")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = [u for u, r in results.items() if isinstance(r, VersionConflict)]
    assert len(conflicts) == 1
    loser = conflicts[0]
    winner = "bo" if loser == "ana" else "ana"
    bank = Bank.open(path)
    assert bank.get_entry("E").answer == f"Yes ({winner})."
    assert len(bank.versions("E")) == 2
    # The second editor is told and shown the other change, field by field.
    err = results[loser]
    assert winner in str(err)
    theirs = diff_content({"answer": f"Yes ({loser})."}, {"answer": err.current.answer})
    assert [c.field for c in theirs if c.field == "answer"] == ["answer"]


# ---- 26: killed during a large import ----------------------------------------------

ROWS = 4000


def canonical_state(path) -> str:
    """Everything in the bank except timestamps (a re-run writes other times)."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in ("entries", "entry_variants", "entry_evidence", "entry_frameworks", "entry_tags",
                      "entry_versions", "audit_log", "bank_meta"):
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2")
            cols = [d[0] for d in cur.description]
            keep = [i for i, c in enumerate(cols) if not (c == "at" or c.endswith("_at"))]
            out[table] = [[row[i] for i in keep] for row in cur.fetchall()]
        return json.dumps(out, sort_keys=True)
    finally:
        conn.close()


def _write_big_csv(path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "answer", "short_answer", "variants", "evidence", "frameworks", "tags", "owner"])
        for i in range(ROWS):
            w.writerow([f"GEN-{i:06d}", f"Generated question {i} about topic {i % 97}?", f"Generated answer {i}. " * 6,
                        "Yes", f"Variant a {i};Variant b {i}", f"Doc {i}|REF-{i}",
                        "ISO42001:A.6.2.4;NIST-AI-RMF:GOVERN 1.1", "generated;bulk", "ops"])


def _import(db, csv_path):
    env = {**os.environ, "AIMSQ_USER": "importer", "AIMSQ_MODEL": str(REPO / "no-model-here")}
    return subprocess.Popen([sys.executable, "-m", "cli", "--db", str(db), "bank", "import", str(csv_path)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _holds_write_lock(db) -> bool:
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def test_an_import_killed_mid_way_leaves_the_bank_exactly_before_or_after(tmp_path):
    base = tmp_path / "base.db"
    seed = Bank.open(base)
    seed.import_entries([BankEntry(f"SEED-{n}", f"Seed question {n}?", "Seed answer.") for n in range(10)], user="seed")
    seed.close()
    big = tmp_path / "big.csv"
    _write_big_csv(big)
    before = canonical_state(base)

    # The reference run: the state after a whole import, and how long its
    # write transaction holds the lock (seen from outside, as the kills will be).
    done = tmp_path / "after.db"
    shutil.copy(base, done)
    proc, window = _import(done, big), []
    while proc.poll() is None:
        if _holds_write_lock(done):
            window.append(time.monotonic())
        time.sleep(0.01)
    assert proc.returncode == 0
    after = canonical_state(done)
    assert after != before
    span = (window[-1] - window[0]) if window else 1.0

    # Kill points spread over the transaction, from its first moment to its
    # commit. Bounded: one run per kill point.
    outcomes = []
    for fraction in (0.0, 0.5, 0.95, 1.02):
        work = tmp_path / f"work-{len(outcomes)}.db"
        shutil.copy(base, work)
        proc = _import(work, big)
        seen_lock = False
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if _holds_write_lock(work):
                seen_lock = True
                time.sleep(fraction * span)
                break
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed = proc.returncode == -signal.SIGKILL
        conn = sqlite3.connect(work)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        state = canonical_state(work)
        assert state in (before, after), f"a kill {fraction:.0%} into the import left a half-imported bank"
        outcomes.append((fraction, killed, seen_lock, "before" if state == before else "after"))
    print(f"import transaction ~{span:.1f}s; kill outcomes (fraction, killed, saw the lock, state): {outcomes}")
    caught = [o for o in outcomes if o[1] and o[2] and o[3] == "before"]
    assert caught, f"never killed inside the import transaction: {outcomes}"
