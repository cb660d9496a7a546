"""The curation tables, beside the bank's own, under their own migration set.

Bank settings (organisation name, the default review period), review-by
defaults per tag or owner, and dismissed check findings. Applied on top of
`answer_bank.db.connect`; every curation function calls `ensure_schema`
first (a cheap read when nothing is pending).
"""
from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

from answer_bank.db import transaction
from answer_bank.store import Bank, BankError

migrations = Migrations("aimsq.curation")

# Settings a trust team may change; anything else is refused so a typo is not
# silently stored.
SETTINGS = {
    "organisation": "The organisation named on the cover of a response pack.",
    "review_days": "Days until an approved entry is due for review when no tag or owner rule applies (default 365).",
}
DEFAULT_REVIEW_DAYS = 365

_M001 = [
    "CREATE TABLE curation_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # scope 'tag' or 'owner'; the strictest (shortest) applicable rule wins.
    """CREATE TABLE review_rules (
        scope TEXT NOT NULL CHECK (scope IN ('tag', 'owner')),
        name TEXT NOT NULL,
        days INTEGER NOT NULL CHECK (days > 0),
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL,
        PRIMARY KEY (scope, name)
    )""",
    # A finding a person judged harmless: never shown again for that pair.
    """CREATE TABLE check_dismissals (
        kind TEXT NOT NULL CHECK (kind IN ('duplicate', 'conflict')),
        ext_a TEXT NOT NULL,
        ext_b TEXT NOT NULL,
        note TEXT,
        dismissed_by TEXT NOT NULL,
        dismissed_at TEXT NOT NULL,
        PRIMARY KEY (kind, ext_a, ext_b)
    )""",
]


@migrations()
def m001_curation(db: sqlite_utils.Database) -> None:
    # One statement at a time: executescript() would commit half way.
    for statement in _M001:
        db.execute(statement)


class SettingError(BankError):
    pass


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Bring the curation tables up to date (must run outside a transaction)."""
    if migrations.pending(db):
        migrations.apply(db)


def get_setting(bank: Bank, key: str, default: str | None = None) -> str | None:
    ensure_schema(bank.db)
    row = bank.db.execute("SELECT value FROM curation_settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def all_settings(bank: Bank) -> dict[str, str]:
    ensure_schema(bank.db)
    return dict(bank.db.execute("SELECT key, value FROM curation_settings ORDER BY key").fetchall())


def set_setting(bank: Bank, key: str, value: str | None, *, user: str) -> None:
    """Store (or with None / "" remove) a bank setting, with an audit row.
    Raises SettingError for an unknown key or a bad value."""
    if key not in SETTINGS:
        raise SettingError(f"unknown setting {key!r}; known: {', '.join(sorted(SETTINGS))}")
    value = (value or "").strip() or None
    if key == "review_days" and value is not None and not (value.isdigit() and int(value) > 0):
        raise SettingError(f"review_days must be a whole number of days above 0, not {value!r}")
    ensure_schema(bank.db)
    with transaction(bank.db):
        before = bank.db.execute("SELECT value FROM curation_settings WHERE key = ?", [key]).fetchone()
        if value is None:
            bank.db.execute("DELETE FROM curation_settings WHERE key = ?", [key])
        else:
            bank.db.execute(
                "INSERT INTO curation_settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
        bank.record_event(user, "setting", detail=f"{key}: {before[0] if before else None!r} → {value!r}")


# ---- review rules and dismissed findings (callers hold the transaction) -------


def review_rule_rows(db: sqlite_utils.Database) -> list[tuple[str, str, int]]:
    """(scope, name, days) of every review rule, by scope and name."""
    ensure_schema(db)
    return db.execute("SELECT scope, name, days FROM review_rules ORDER BY scope, name").fetchall()


def put_review_rule(db: sqlite_utils.Database, scope: str, name: str, days: int, *, user: str, at: str) -> None:
    db.execute(
        "INSERT INTO review_rules (scope, name, days, set_by, set_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (scope, name) DO UPDATE SET days = excluded.days, set_by = excluded.set_by, "
        "set_at = excluded.set_at",
        [scope, name, days, user, at],
    )


def delete_review_rule(db: sqlite_utils.Database, scope: str, name: str) -> bool:
    """Remove a rule; False when there was none."""
    return bool(db.execute("DELETE FROM review_rules WHERE scope = ? AND name = ?", [scope, name]).rowcount)


def dismissed_keys(db: sqlite_utils.Database) -> set[tuple[str, str, str]]:
    """(kind, ext_a, ext_b) of every dismissed finding."""
    ensure_schema(db)
    return {tuple(r) for r in db.execute("SELECT kind, ext_a, ext_b FROM check_dismissals")}


def put_dismissal(db: sqlite_utils.Database, key: tuple[str, str, str], note: str | None, *,
                  user: str, at: str) -> None:
    db.execute(
        "INSERT OR REPLACE INTO check_dismissals (kind, ext_a, ext_b, note, dismissed_by, dismissed_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [*key, note, user, at],
    )
