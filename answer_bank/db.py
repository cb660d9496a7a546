"""The bank's SQLite file: connection settings and schema migrations.

Every connection gets WAL, synchronous=FULL, a 10 s busy timeout and foreign
keys (SECURITY.md case 24). Transactions are explicit (`BEGIN IMMEDIATE`)
because read-then-write code must not race another writer.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils
from sqlite_utils import Migrations

BUSY_TIMEOUT_MS = 10_000

migrations = Migrations("aimsq.answer_bank")


@migrations()
def m001_entries(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            ext_id TEXT NOT NULL UNIQUE,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            short_answer TEXT CHECK (short_answer IN ('Yes', 'No', 'N/A', 'Partial')),
            owner TEXT,
            status TEXT NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'approved', 'retired')),
            review_by TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            source TEXT,
            retired_reason TEXT,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            approved_at TEXT,
            approved_by TEXT
        );
        CREATE INDEX entries_status ON entries(status);
        CREATE TABLE entry_variants (
            id INTEGER PRIMARY KEY,
            entry_id INTEGER NOT NULL REFERENCES entries(id),
            text TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT 'curated' CHECK (origin IN ('curated', 'review')),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            UNIQUE (entry_id, text)
        );
        CREATE TABLE entry_evidence (
            entry_id INTEGER NOT NULL REFERENCES entries(id),
            position INTEGER NOT NULL,
            title TEXT NOT NULL,
            ref TEXT,
            PRIMARY KEY (entry_id, position)
        );
        CREATE TABLE entry_frameworks (
            entry_id INTEGER NOT NULL REFERENCES entries(id),
            ref TEXT NOT NULL,
            PRIMARY KEY (entry_id, ref)
        );
        CREATE INDEX entry_frameworks_ref ON entry_frameworks(ref);
        CREATE TABLE entry_tags (
            entry_id INTEGER NOT NULL REFERENCES entries(id),
            tag TEXT NOT NULL,
            PRIMARY KEY (entry_id, tag)
        );
        -- Immutable history: one row per version of an entry (full snapshot).
        CREATE TABLE entry_versions (
            entry_id INTEGER NOT NULL REFERENCES entries(id),
            version INTEGER NOT NULL,
            snapshot TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            note TEXT,
            PRIMARY KEY (entry_id, version)
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            user TEXT NOT NULL,
            action TEXT NOT NULL,
            entry_id INTEGER REFERENCES entries(id),
            ext_id TEXT,
            before TEXT,
            after TEXT,
            detail TEXT
        );
        CREATE INDEX audit_log_entry ON audit_log(entry_id);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit rows are immutable'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit rows are immutable'); END;
        CREATE TRIGGER entry_versions_no_update BEFORE UPDATE ON entry_versions
            BEGIN SELECT RAISE(ABORT, 'entry versions are immutable'); END;
        CREATE TRIGGER entry_versions_no_delete BEFORE DELETE ON entry_versions
            BEGIN SELECT RAISE(ABORT, 'entry versions are immutable'); END;
        -- Vectors by model and text hash: a text is embedded once per model.
        CREATE TABLE embeddings (
            model_id TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model_id, text_hash)
        );
        -- Key/value facts about the bank; 'revision' counts every change.
        CREATE TABLE bank_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO bank_meta (key, value) VALUES ('revision', '0');
        """
    )


@migrations()
def m002_glossary(db: sqlite_utils.Database) -> None:
    """The bank's glossary: pairs of terms that mean the same (answer_bank.glossary).
    `*_key` is the term as the matcher reads it (lowercase words); a pair is
    stored once whichever way round it was given. A bank that already has
    entries was matched with the general domain terms built into earlier
    versions: it gets them as the starter glossary, so its matching does not
    change on upgrade (docs/curation.md, "Glossary")."""
    db.execute(
        """CREATE TABLE glossary (
            id INTEGER PRIMARY KEY,
            term TEXT NOT NULL,
            equivalent TEXT NOT NULL,
            term_key TEXT NOT NULL,
            equivalent_key TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            CHECK (term_key <> '' AND equivalent_key <> '' AND term_key <> equivalent_key)
        )"""
    )
    db.execute("CREATE UNIQUE INDEX glossary_pair ON glossary "
               "(min(term_key, equivalent_key), max(term_key, equivalent_key))")
    if db.execute("SELECT count(*) FROM entries").fetchone()[0]:
        from answer_bank.starter import starter_glossary_pairs
        from answer_bank.store import Bank

        Bank(db).insert_glossary_pairs(starter_glossary_pairs(), user="aimsq-upgrade")


@migrations()
def m003_entry_provenance(db: sqlite_utils.Database) -> None:
    # Where an entry or a learned wording came from, when it came from a
    # questionnaire: the questionnaire family (the imported file or reviewed
    # questionnaire), the question's ref and its section. The matcher uses them
    # to tell apart repeated questions ("Are the policies reviewed annually?"
    # under many controls) and to answer last year's questions again.
    db.executescript(
        """
        ALTER TABLE entries ADD COLUMN origin_family TEXT;
        ALTER TABLE entries ADD COLUMN origin_ref TEXT;
        ALTER TABLE entries ADD COLUMN origin_section TEXT;
        ALTER TABLE entry_variants ADD COLUMN origin_family TEXT;
        ALTER TABLE entry_variants ADD COLUMN origin_ref TEXT;
        ALTER TABLE entry_variants ADD COLUMN origin_section TEXT;
        """
    )


@migrations()
def m004_glossary_distinct(db: sqlite_utils.Database) -> None:
    """Glossary pairs of two kinds: 'same' (the terms mean the same, as before)
    and 'distinct' (the trust team says they are NOT the same: a question about
    one is not answered by an entry about the other; answer_bank.distinct).
    A pair of terms is one kind or the other, never both (the unique index)."""
    db.execute("ALTER TABLE glossary ADD COLUMN kind TEXT NOT NULL DEFAULT 'same' "
               "CHECK (kind IN ('same', 'distinct'))")


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the bank at `path` and bring its schema up to date."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    if migrations.pending(db):
        migrations.apply(db)
    return db


@contextmanager
def read_snapshot(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A read transaction (unless one is open already), so that several reads see one state."""
    conn = db.conn
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")
    try:
        yield db
    finally:
        if began:
            conn.execute("COMMIT")


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, taken up front (BEGIN IMMEDIATE); rolled back on any error.

    Only plain `db.execute` may run inside: sqlite-utils' table helpers open
    and commit transactions of their own.
    """
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def utcnow() -> str:
    """Now, in UTC, as every row of the bank stores it."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
