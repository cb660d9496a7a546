"""Backups and restores of the bank with SQLite's online backup API.

Never a file copy (SECURITY.md 27): a copy of a live WAL database can miss the
pages still in the -wal file or catch a half-written page. The backup API
copies one consistent snapshot while other connections keep reading and
writing. A restore first proves the file is an aimsq bank (it opens, passes
`PRAGMA integrity_check`, carries the bank's migration set, every table,
column, index and trigger its migrations make, and was not made by a newer
aimsq), then copies it into the configured database
the same way, after saving the current bank beside it, and records in the
restored bank's audit trail who restored which backup and when.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import sqlite_utils
from sqlite_utils import Migrations

from answer_bank import curation_db
from answer_bank.db import BUSY_TIMEOUT_MS, connect, migrations as bank_migrations, transaction
from answer_bank.store import Bank, BankError

REQUIRED_TABLES = ("entries", "entry_versions", "audit_log", "bank_meta", "_sqlite_migrations")
# The migration sets whose schema a backup must carry. Layers above add
# theirs (the review app's tables) through `migration_sets=`.
BANK_MIGRATION_SETS: tuple[Migrations, ...] = (bank_migrations, curation_db.migrations)
# The audit action of a restore from a backup (not "restore": that is a version restore).
RESTORE_ACTION = "restore_backup"


class BackupError(BankError):
    pass


@dataclass
class BackupInfo:
    path: str
    entries: int
    versions: int
    audit_rows: int
    revision: int
    size: int

    def summary(self) -> str:
        return (f"{self.path}: {self.entries} entries, {self.versions} versions, "
                f"{self.audit_rows} audit rows, bank revision {self.revision}, {self.size:,} bytes")


def backup(db_path: str | Path, dest: str | Path, *, overwrite: bool = False) -> BackupInfo:
    """Copy the bank at `db_path` to `dest` with the backup API (safe while the
    app runs). Written to a temporary file first, so `dest` is never half a
    backup. Raises BackupError."""
    src_path, dest = Path(db_path), Path(dest)
    if not src_path.exists():
        raise BackupError(f"there is no bank at {src_path}")
    if dest.exists() and not overwrite:
        raise BackupError(f"{dest} already exists; choose another name or pass --force")
    if dest.resolve() == src_path.resolve():
        raise BackupError("the backup cannot be the bank itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    src = _open(src_path)
    try:
        target = sqlite3.connect(str(tmp))
        try:
            src.backup(target)  # all pages in one step: one consistent snapshot
            # A backup is a single self-contained file, not a WAL database.
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
        os.replace(tmp, dest)
    except sqlite3.Error as e:
        raise BackupError(f"backup failed: {e}") from None
    finally:
        src.close()
        if tmp.exists():
            tmp.unlink()
    return inspect_bank(dest)


def inspect_bank(path: str | Path, migration_sets: Iterable[Migrations] = BANK_MIGRATION_SETS) -> BackupInfo:
    """Prove `path` is an aimsq bank this version can use, and count what is in it:
    every table, column, index and trigger that the migrations it records as
    applied create is there, the immutability triggers unchanged, and no
    trigger aimsq does not make (SECURITY.md 33).
    Raises BackupError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file")
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise BackupError(f"{path} cannot be opened: {e}") from None
    try:
        try:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError:
            raise BackupError(f"{path} is not an SQLite database, so not an aimsq bank") from None
        if result != ["ok"]:
            raise BackupError(f"{path} is damaged (integrity check: {'; '.join(result[:3])})")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            raise BackupError(f"{path} is an SQLite database but not an aimsq bank (no {', '.join(missing)} table)")
        applied = {r[0] for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [bank_migrations.name])}
        if not applied:
            raise BackupError(f"{path} is not an aimsq bank (no {bank_migrations.name} migrations)")
        sets = list(dict.fromkeys([bank_migrations, *migration_sets]))
        for mset in sets:
            applied = {r[0] for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [mset.name])}
            known = {m.name for m in mset._migrations}
            if applied - known:
                raise BackupError(f"{path} was made by a newer aimsq (migrations {', '.join(sorted(applied - known))}); "
                                  "upgrade aimsq before restoring it")
        problems = schema_problems(conn, sets)
        if problems:
            more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise BackupError(f"{path} is not a complete aimsq bank, so it is not restored: "
                              f"{'; '.join(problems[:5])}{more}. Restore another backup")
        return _info(conn, path)
    finally:
        conn.close()


def _normal_sql(sql: str | None) -> str:
    return re.sub(r"\s+", " ", (sql or "").strip().rstrip(";")).casefold()


def _schema(conn: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, str]]:
    """{(type, name): (table, sql)} of the tables, indexes, triggers and views (SQLite's own left out)."""
    return {(t, n): (tbl, sql) for t, n, tbl, sql in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?)", [table])}


def schema_problems(conn: sqlite3.Connection, migration_sets: Iterable[Migrations]) -> list[str]:
    """What the database on `conn` lacks against the schema its own migration
    record promises: the same migrations are run on an empty database and
    every table (with its columns), index and trigger they make must be
    there, triggers unchanged; a trigger they do not make on one of those
    tables is a problem too (it would run on every write). Empty: the schema
    is whole."""
    reference = sqlite3.connect(":memory:")
    try:
        ref_db = sqlite_utils.Database(reference)
        for mset in migration_sets:
            applied = {r[0] for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [mset.name])}
            for migration in mset._migrations:
                if migration.name in applied:
                    migration.fn(ref_db)
        expected, actual = _schema(reference), _schema(conn)
        problems = []
        for (kind, name), (table, sql) in expected.items():
            if (kind, name) not in actual:
                problems.append(f"no {name} {kind}" + (f" (on {table})" if kind != "table" else ""))
            elif kind == "table":
                missing = sorted(_columns(reference, name) - _columns(conn, name))
                if missing:
                    problems.append(f"table {name} has no column {', '.join(missing)}")
            elif kind == "trigger" and _normal_sql(actual[(kind, name)][1]) != _normal_sql(sql):
                problems.append(f"trigger {name} was changed")
        checked_tables = {name for kind, name in expected if kind == "table"}
        for (kind, name), (table, _sql) in actual.items():
            if kind == "trigger" and (kind, name) not in expected and table in checked_tables:
                problems.append(f"trigger {name} on {table} is not one aimsq makes")
        return problems
    finally:
        reference.close()


def _info(conn: sqlite3.Connection, path: Path) -> BackupInfo:
    """What the bank open on `conn` (the file at `path`) holds."""
    count = lambda table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    return BackupInfo(str(path), count("entries"), count("entry_versions"), count("audit_log"),
                      _revision(conn), path.stat().st_size)


def _revision(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM bank_meta WHERE key = 'revision'").fetchone()
    return int(row[0]) if row else 0


def restore(backup_path: str | Path, db_path: str | Path, *, keep_current: bool = True,
            user: str = "cli", migration_sets: Iterable[Migrations] = BANK_MIGRATION_SETS,
            ) -> tuple[BackupInfo, Path | None]:
    """Replace the bank at `db_path` with the backup at `backup_path`, through the
    backup API so connections other processes hold stay valid. The current bank
    is first saved beside it (`<db>.before-restore-<UTC time>`), unless it does
    not exist or keep_current is False. The restored bank then gets an audit row
    ("restore_backup", by `user`) naming the backup file, its time and where the
    previous bank went. Returns what was restored and where the previous bank
    went. Raises BackupError (nothing changed)."""
    info = inspect_bank(backup_path, migration_sets)
    backup_file = Path(backup_path).resolve()
    written = dt.datetime.fromtimestamp(backup_file.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")
    db_path = Path(db_path)
    had_bank = db_path.exists()
    if db_path.exists() and Path(backup_path).resolve() == db_path.resolve():
        raise BackupError("that file is the bank itself")
    saved = None
    if keep_current and db_path.exists():
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        saved = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
        backup(db_path, saved)
    before_revision = 0
    if db_path.exists():
        try:
            with closing(_open(db_path)) as probe:
                before_revision = _revision(probe)
        except sqlite3.Error:
            before_revision = 0
    src = sqlite3.connect(f"file:{Path(backup_path).resolve()}?mode=ro", uri=True)
    try:
        dest = connect(db_path).conn  # WAL, busy timeout; creates the file if new
        try:
            src.backup(dest)
            dest.execute("PRAGMA journal_mode = WAL")
        finally:
            dest.close()
    except sqlite3.Error as e:
        raise BackupError(f"restore failed, the bank is unchanged: {e}") from None
    finally:
        src.close()
    if saved is not None:
        previous = f"the bank before the restore is saved as {saved.resolve()}"
    elif had_bank:
        previous = "the bank before the restore was not kept"
    else:
        previous = "there was no bank before"
    # Bring an older backup's schema up to date, move the revision past the one
    # running processes last saw, so their caches (the matcher's index) reload,
    # and put the rollback itself on record (audit rows accept INSERT only).
    db = connect(db_path)
    try:
        with transaction(db):
            db.execute("UPDATE bank_meta SET value = CAST(? AS TEXT) WHERE key = 'revision'",
                       [max(before_revision, info.revision) + 1])
            last_change = db.execute("SELECT max(at) FROM audit_log").fetchone()[0]
            Bank(db, str(db_path)).record_event(
                user, RESTORE_ACTION,
                detail=(f"restored backup {backup_file.name} ({backup_file}; file written {written}; "
                        f"last change in it {last_change or 'none'}; {info.entries} entries, "
                        f"bank revision {info.revision}); {previous}"),
            )
    finally:
        db.conn.close()
    # Counts of the restored bank, through a fresh connection once ours is closed.
    with closing(_open(db_path)) as conn:
        return _info(conn, db_path), saved


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn
