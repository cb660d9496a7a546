"""The review app's tables, in the bank's own SQLite file.

Users, sessions, questionnaires, their questions and draft answers, review
actions (an immutable audit trail), exports and proposed bank changes. They
live beside the bank's tables under their own migration set, applied after
`answer_bank.db.connect` brought the bank's schema up to date.
"""
from __future__ import annotations

from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from answer_bank.db import connect as connect_bank

migrations = Migrations("aimsq.review")

ROLES = ("viewer", "editor", "approver", "admin")
REVIEW_STATUSES = ("pending", "accepted", "edited", "needs_expert", "blank")

_M001 = [
    f"""CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ({", ".join(repr(r) for r in ROLES)})),
        password_hash TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        password_changed_at TEXT NOT NULL
    )""",
    # Server-side sessions: the cookie carries a random token, the table its
    # hash; deleting the row ends the session whatever the browser keeps.
    """CREATE TABLE user_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL
    )""",
    "CREATE INDEX user_sessions_user ON user_sessions(user_id)",
    """CREATE TABLE login_failures (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    "CREATE INDEX login_failures_key ON login_failures(key, at)",
    """CREATE TABLE questionnaires (
        id TEXT PRIMARY KEY,
        customer TEXT NOT NULL,
        due_date TEXT,
        owner TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('detected', 'matching', 'review', 'exported', 'failed')),
        filename TEXT NOT NULL,
        format TEXT NOT NULL,
        stored_name TEXT NOT NULL,
        size INTEGER NOT NULL,
        hints TEXT NOT NULL DEFAULT '{}',
        layout TEXT NOT NULL DEFAULT '{}',
        warnings TEXT NOT NULL DEFAULT '[]',
        progress_done INTEGER NOT NULL DEFAULT 0,
        progress_total INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    f"""CREATE TABLE review_questions (
        id INTEGER PRIMARY KEY,
        questionnaire_id TEXT NOT NULL REFERENCES questionnaires(id),
        position INTEGER NOT NULL,
        ref TEXT,
        section TEXT,
        text TEXT NOT NULL,
        answer_kind TEXT NOT NULL,
        options TEXT,
        answer_at TEXT NOT NULL,
        comment_at TEXT,
        existing_answer TEXT,
        hidden INTEGER NOT NULL DEFAULT 0,
        notes TEXT NOT NULL DEFAULT '[]',
        tier TEXT,
        score REAL,
        confidence REAL,
        proposed TEXT,
        candidates TEXT NOT NULL DEFAULT '[]',
        reasons TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ({", ".join(repr(s) for s in REVIEW_STATUSES)})),
        entry_ext_id TEXT,
        entry_version INTEGER,
        short_answer TEXT,
        narrative TEXT,
        note TEXT,
        draft_entry TEXT,
        reviewed_by TEXT,
        reviewed_at TEXT,
        version INTEGER NOT NULL DEFAULT 1,
        UNIQUE (questionnaire_id, position)
    )""",
    "CREATE INDEX review_questions_tier ON review_questions(questionnaire_id, tier, status)",
    """CREATE TABLE review_actions (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        questionnaire_id TEXT NOT NULL,
        question_id INTEGER,
        action TEXT NOT NULL,
        before TEXT,
        after TEXT,
        note TEXT
    )""",
    "CREATE INDEX review_actions_q ON review_actions(questionnaire_id, question_id)",
    """CREATE TRIGGER review_actions_no_update BEFORE UPDATE ON review_actions
        BEGIN SELECT RAISE(ABORT, 'review actions are immutable'); END""",
    """CREATE TRIGGER review_actions_no_delete BEFORE DELETE ON review_actions
        BEGIN SELECT RAISE(ABORT, 'review actions are immutable'); END""",
    """CREATE TABLE exports (
        id INTEGER PRIMARY KEY,
        questionnaire_id TEXT NOT NULL REFERENCES questionnaires(id),
        stored_name TEXT NOT NULL,
        summary_name TEXT NOT NULL,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        answered INTEGER NOT NULL,
        blank INTEGER NOT NULL
    )""",
    """CREATE TABLE bank_proposals (
        id INTEGER PRIMARY KEY,
        ext_id TEXT NOT NULL,
        base_version INTEGER,
        content TEXT NOT NULL,
        note TEXT,
        proposed_by TEXT NOT NULL,
        proposed_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'approved', 'rejected')),
        decided_by TEXT,
        decided_at TEXT,
        decision_note TEXT
    )""",
    "CREATE INDEX bank_proposals_status ON bank_proposals(status)",
]


@migrations()
def m001_review(db: sqlite_utils.Database) -> None:
    # One statement at a time: executescript() would commit the migration's
    # transaction half way.
    for statement in _M001:
        db.execute(statement)


@migrations()
def m002_export_report(db: sqlite_utils.Database) -> None:
    # What each export did per question (written where / kept / skipped why /
    # pending), as JSON, for the page shown after an export.
    db.execute("ALTER TABLE exports ADD COLUMN report TEXT")


@migrations()
def m003_review_archive(db: sqlite_utils.Database) -> None:
    # An archived questionnaire leaves the list (kept, read-only in spirit);
    # deleting one removes its rows and files (the review_actions audit stays).
    db.execute("ALTER TABLE questionnaires ADD COLUMN archived_at TEXT")
    db.execute("ALTER TABLE questionnaires ADD COLUMN archived_by TEXT")


@migrations()
def m004_job_lease(db: sqlite_utils.Database) -> None:
    # Who proposes a questionnaire's answers in the background ("host:pid:token"),
    # since when, and until when that worker holds the job: it renews the lease
    # while it works, so an expired lease means the worker is gone and another
    # may take the job over; a live one is never restarted.
    db.execute("ALTER TABLE questionnaires ADD COLUMN job_owner TEXT")
    db.execute("ALTER TABLE questionnaires ADD COLUMN job_started_at TEXT")
    db.execute("ALTER TABLE questionnaires ADD COLUMN job_lease_until TEXT")


def connect(path: str | Path) -> sqlite_utils.Database:
    """The bank's database with the review tables added (WAL, busy timeout, FKs)."""
    db = connect_bank(path)
    if migrations.pending(db):
        migrations.apply(db)
    return db
