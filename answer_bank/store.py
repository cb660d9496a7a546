"""The answer bank: every read and write of entries goes through `Bank`.

Views, the CLI and the matcher never build SQL; a PostgreSQL backend would
replace this module only.
"""
from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import sqlite_utils

from answer_bank.db import connect, transaction, utcnow
from answer_bank.errors import BankError
# Re-exported: callers import the bank's errors and glossary pair from here.
from answer_bank.glossary_store import GlossaryError, GlossaryPair, GlossaryStore  # noqa: F401
from answer_bank.model import BankEntry, Evidence


class EntryNotFound(BankError):
    def __init__(self, ext_id: str):
        super().__init__(f"no bank entry with id {ext_id!r}")
        self.ext_id = ext_id


class VersionConflict(BankError):
    """Someone saved the entry since the version this change started from."""

    def __init__(self, current: BankEntry, expected_version: int):
        super().__init__(
            f"entry {current.ext_id} was changed by {current.updated_by} at {current.updated_at} "
            f"(now version {current.version}, you edited version {expected_version}); "
            "review their change and save again"
        )
        self.current = current
        self.expected_version = expected_version


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Rows the file marked approved, written as drafts: an import approves only when asked to.
    held_as_draft: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged"
        if self.held_as_draft:
            text += (f"; {len(self.held_as_draft)} marked approved in the file are drafts "
                     "until an approver approves them")
        return text


log = logging.getLogger(__name__)

_IN_CHUNK = 500  # ids per IN (...) list


def _wordings(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(ext id, wording) pairs with whitespace collapsed, empty ones dropped, each once."""
    out: dict[tuple[str, str], None] = {}
    for ext_id, text in pairs:
        text = " ".join((text or "").split())
        if ext_id and text:
            out[(ext_id, text)] = None
    return list(out)


class Bank(GlossaryStore):
    def __init__(self, db: sqlite_utils.Database, path: str | None = None):
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> "Bank":
        return cls(connect(path), str(path))

    def close(self) -> None:
        self.db.conn.close()

    # ---- reading -------------------------------------------------------

    def revision(self) -> int:
        """A counter bumped by every change; caches of the bank key on it."""
        row = self.db.execute("SELECT value FROM bank_meta WHERE key = 'revision'").fetchone()
        return int(row[0])

    def count(self, status: str | None = None) -> int:
        if status:
            return self.db.execute("SELECT count(*) FROM entries WHERE status = ?", [status]).fetchone()[0]
        return self.db.execute("SELECT count(*) FROM entries").fetchone()[0]

    def list_entries(self, status: str | Iterable[str] | None = None) -> list[BankEntry]:
        """All entries (optionally of some statuses), ordered by external id."""
        where, params = "", []
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            where = f"WHERE status IN ({','.join('?' * len(statuses))})"
            params = statuses
        rows = self.db.execute(f"SELECT * FROM entries {where} ORDER BY ext_id", params)
        cols = [d[0] for d in rows.description]
        entries = [self._entry_from_row(dict(zip(cols, r))) for r in rows.fetchall()]
        self._attach_children(entries)
        return entries

    def page_entries(self, *, status: str | None = None, text: str | None = None, offset: int = 0,
                     limit: int = 100) -> tuple[list[BankEntry], int]:
        """One page of entries ordered by external id, and how many match in all.

        `text` keeps entries whose id, question, a tag or a framework reference
        contains it (case-insensitive for ASCII letters). Filtering and paging
        run in SQLite, so a page of a 100,000-entry bank reads 100 rows."""
        clauses, named = [], {}
        if status:
            clauses.append("e.status = :status")
            named["status"] = status
        if text:
            named["p"] = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            like = "LIKE :p ESCAPE '\\'"
            clauses.append(
                f"(e.ext_id {like} OR e.question {like}"
                f" OR EXISTS (SELECT 1 FROM entry_tags t WHERE t.entry_id = e.id AND t.tag {like})"
                f" OR EXISTS (SELECT 1 FROM entry_frameworks f WHERE f.entry_id = e.id AND f.ref {like}))"
            )
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        total = self.db.execute(f"SELECT count(*) FROM entries e {where}", named).fetchone()[0]
        rows = self.db.execute(
            f"SELECT e.* FROM entries e {where} ORDER BY e.ext_id LIMIT :limit OFFSET :offset",
            {**named, "limit": max(int(limit), 0), "offset": max(int(offset), 0)},
        )
        cols = [d[0] for d in rows.description]
        entries = [self._entry_from_row(dict(zip(cols, r))) for r in rows.fetchall()]
        self._attach_children(entries)
        return entries, total

    def get_entry(self, ext_id: str) -> BankEntry:
        """Raises EntryNotFound."""
        cur = self.db.execute("SELECT * FROM entries WHERE ext_id = ?", [ext_id])
        row = cur.fetchone()
        if row is None:
            raise EntryNotFound(ext_id)
        entry = self._entry_from_row(dict(zip([d[0] for d in cur.description], row)))
        self._attach_children([entry])
        return entry

    def versions(self, ext_id: str) -> list[dict[str, Any]]:
        """Every stored version of an entry, oldest first."""
        entry_id = self._row_id(ext_id)
        rows = self.db.execute(
            "SELECT version, snapshot, created_at, created_by, note FROM entry_versions "
            "WHERE entry_id = ? ORDER BY version",
            [entry_id],
        ).fetchall()
        return [
            {"version": v, "content": json.loads(s), "created_at": at, "created_by": by, "note": note}
            for v, s, at, by, note in rows
        ]

    def audit(self, ext_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        sql = "SELECT id, at, user, action, ext_id, before, after, detail FROM audit_log"
        params: list[Any] = []
        if ext_id:
            sql += " WHERE ext_id = ?"
            params.append(ext_id)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        cur = self.db.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def learned_variants(self, ext_id: str) -> list[tuple[str, str, str]]:
        """(wording, when, by whom) of each wording the entry learned in review,
        oldest first; [] for an entry that does not exist."""
        row = self.db.execute("SELECT id FROM entries WHERE ext_id = ?", [ext_id]).fetchone()
        if row is None:
            return []
        return self.db.execute(
            "SELECT text, created_at, created_by FROM entry_variants WHERE entry_id = ? AND origin = 'review' "
            "ORDER BY id", [row[0]]).fetchall()

    def last_content_change_at(self) -> str | None:
        """When the bank's content last changed (learned wordings aside), from the audit trail."""
        return self.db.execute("SELECT max(at) FROM audit_log WHERE action NOT IN ('learn_variant', 'unlearn_variant')"
                               ).fetchone()[0]

    # ---- writing -------------------------------------------------------

    def import_entries(
        self,
        entries: list[BankEntry],
        *,
        approve: bool = False,
        user: str = "cli",
        source: str | None = None,
        keep_status: bool = False,
    ) -> ImportReport:
        """Add or update entries in ONE transaction: all of them or none.

        An entry whose content equals what is stored is left alone, so
        importing the same file twice changes nothing. A row's own status
        "approved" is taken only with `approve` (which puts the import on the
        audit trail, by `user`); without it, such a row becomes a draft unless
        it is exactly the entry's stored approved content (SECURITY.md 28).
        `keep_status` takes every entry's own status as it is: for entries a
        program built itself (tests, benchmarks), never for a file's rows.
        """
        report = ImportReport()
        now = utcnow()
        provenance_changed = False
        with transaction(self.db):
            for entry in entries:
                if approve:
                    entry.status = "approved"
                if source and not entry.source:
                    entry.source = source
                existing = self._find(entry.ext_id)
                if existing is not None and not approve and not entry.status_given:
                    # No status in the file: unchanged content keeps its status;
                    # changed content goes back to draft for an approver.
                    same = existing.content() | {"status": None} == entry.content() | {"status": None}
                    entry.status = existing.status if same else "draft"
                elif entry.status == "approved" and not (approve or keep_status):
                    same = existing is not None and existing.content() == entry.content()
                    if not same:
                        entry.status = "draft"
                        report.held_as_draft.append(entry.ext_id)
                origin = (entry.origin_family, entry.origin_ref, entry.origin_section)
                moved = False
                if existing is None:
                    self._insert(entry, user, now, note="imported")
                    report.added.append(entry.ext_id)
                else:
                    # Provenance is not curated content: recorded when the file gives it.
                    moved = any(origin) and origin != (existing.origin_family, existing.origin_ref,
                                                       existing.origin_section)
                    if moved:
                        self.db.execute(
                            "UPDATE entries SET origin_family = ?, origin_ref = ?, origin_section = ? WHERE id = ?",
                            [*origin, existing.id])
                    if existing.content() == entry.content():
                        report.unchanged.append(entry.ext_id)
                    else:
                        self.write_version(existing, entry, user, now, note="imported")
                        report.updated.append(entry.ext_id)
                provenance_changed = provenance_changed or moved
            if report.added or report.updated or provenance_changed:
                if approve and (report.added or report.updated):
                    changed = report.added + report.updated
                    shown = ", ".join(changed[:20]) + (f" and {len(changed) - 20} more" if len(changed) > 20 else "")
                    self.record_event(user, "import_approved", now=now,
                                      detail=f"{len(changed)} entries approved by importing "
                                             f"{source or 'a file'}: {shown}")
                self.bump_revision()
        return report

    def save_entry(
        self, entry: BankEntry, *, user: str, expected_version: int | None = None, note: str | None = None
    ) -> BankEntry:
        """Create or update one entry. With `expected_version`, raise VersionConflict
        when someone else saved a newer version first (nothing is written)."""
        with transaction(self.db):
            self.write_entry(entry, user=user, expected_version=expected_version, note=note)
        return self.get_entry(entry.ext_id)

    def write_entry(
        self, entry: BankEntry, *, user: str, expected_version: int | None = None, note: str | None = None
    ) -> bool:
        """`save_entry`'s work inside the caller's `transaction(bank.db)`, so a
        change and the record of its decision commit together. Returns whether
        anything changed. Raises VersionConflict."""
        now = utcnow()
        existing = self._find(entry.ext_id)
        if existing is None:
            self._insert(entry, user, now, note=note or "created")
        else:
            if expected_version is not None and existing.version != expected_version:
                raise VersionConflict(existing, expected_version)
            if existing.content() == entry.content():
                return False
            self.write_version(existing, entry, user, now, note=note or "edited")
        self.bump_revision()
        return True

    def set_status(self, ext_id: str, status: str, *, user: str, reason: str | None = None) -> BankEntry:
        entry = self.get_entry(ext_id)
        entry.status = status
        entry.retired_reason = reason if status == "retired" else None
        return self.save_entry(entry, user=user, expected_version=entry.version, note=f"status → {status}")

    def add_learned_variant(self, ext_id: str, text: str, *, user: str) -> bool:
        """Record a customer's wording that a reviewer accepted for this entry.
        Returns False when the entry already knows that wording. Raises
        EntryNotFound."""
        self._row_id(ext_id)  # raises EntryNotFound
        return bool(self.add_learned_variants([(ext_id, text)], user=user))

    def add_learned_variants(self, pairs: Iterable[tuple[str, str]], *, user: str,
                             origins: dict[tuple[str, str], tuple[str | None, str | None, str | None]] | None = None,
                             ) -> list[tuple[str, str]]:
        """Record accepted (entry ext id, customer wording) pairs as learned
        variants in ONE transaction: an `entry_variants` row (origin 'review')
        and a 'learn_variant' audit row per new wording (a learned wording is
        not curated content: no new version of the entry), and one revision
        bump for the whole batch. Whitespace is collapsed; a wording the entry
        already knows (question, curated or learned variant) and an entry that
        does not exist are skipped. `origins[(ext_id, wording)]`, when given,
        is where the wording was asked: (questionnaire family, ref, section).
        Returns what was added."""
        origins = {(e, " ".join((t or "").split())): o for (e, t), o in (origins or {}).items()}
        wanted = _wordings(pairs)
        if not wanted:
            return []
        added: list[tuple[str, str]] = []
        with transaction(self.db):
            rows = self._rows_by_ext_id(sorted({ext_id for ext_id, _ in wanted}))
            known: dict[int, set[str]] = {row_id: {question} for row_id, question in rows.values()}
            ids = list(known)
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                for row_id, text in self.db.execute(
                    f"SELECT entry_id, text FROM entry_variants WHERE entry_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                ):
                    known[row_id].add(text)
            now = utcnow()
            for ext_id, text in wanted:
                if ext_id not in rows:
                    log.warning("not learning %r: no bank entry %s", text, ext_id)
                    continue
                if text in known[rows[ext_id][0]]:
                    continue
                row_id = rows[ext_id][0]
                fam, ref, section = origins.get((ext_id, text)) or (None, None, None)
                self.db.execute(
                    "INSERT INTO entry_variants (entry_id, text, origin, created_at, created_by, "
                    "origin_family, origin_ref, origin_section) VALUES (?, ?, 'review', ?, ?, ?, ?, ?)",
                    [row_id, text, now, user, fam, ref, section],
                )
                self.record_event(user, "learn_variant", ext_id=ext_id, entry_id=row_id, detail=text, now=now)
                known[row_id].add(text)
                added.append((ext_id, text))
            if added:
                self.bump_revision()
        return added

    def remove_learned_variants(self, pairs: Iterable[tuple[str, str]], *, user: str,
                                keep: Callable[[str, str], bool] | None = None) -> list[tuple[str, str]]:
        """Remove learned (entry ext id, wording) variants in ONE transaction,
        with an 'unlearn_variant' audit row per removal and one revision bump.
        `keep(ext_id, wording)`, asked inside the transaction, spares a wording
        still needed. Curated variants and the question are never touched.
        Returns what was removed."""
        wanted = _wordings(pairs)
        removed: list[tuple[str, str]] = []
        if not wanted:
            return removed
        with transaction(self.db):
            rows = self._rows_by_ext_id(sorted({ext_id for ext_id, _ in wanted}))
            for ext_id, text in wanted:
                if ext_id not in rows or (keep is not None and keep(ext_id, text)):
                    continue
                row_id = rows[ext_id][0]
                cur = self.db.execute(
                    "DELETE FROM entry_variants WHERE entry_id = ? AND origin = 'review' AND text = ?", [row_id, text]
                )
                if cur.rowcount:
                    self.record_event(user, "unlearn_variant", ext_id=ext_id, entry_id=row_id, detail=text)
                    removed.append((ext_id, text))
            if removed:
                self.bump_revision()
        return removed

    def _rows_by_ext_id(self, ext_ids: list[str]) -> dict[str, tuple[int, str]]:
        """{ext_id: (row id, canonical question)} of the entries that exist."""
        found: dict[str, tuple[int, str]] = {}
        for start in range(0, len(ext_ids), _IN_CHUNK):
            chunk = ext_ids[start : start + _IN_CHUNK]
            for row_id, ext_id, question in self.db.execute(
                f"SELECT id, ext_id, question FROM entries WHERE ext_id IN ({','.join('?' * len(chunk))})", chunk
            ):
                found[ext_id] = (row_id, question)
        return found

    # ---- building blocks for writes in the caller's transaction --------
    #
    # For modules that make their own kind of change (curation, review
    # cycles, checks, learning, restore): each runs inside the caller's
    # `answer_bank.db.transaction(bank.db)`, so the change, its version row,
    # its audit rows and the revision bump commit together or not at all.

    def entry_for_update(self, ext_id: str, expected_version: int | None = None) -> BankEntry:
        """The current entry, read inside the caller's transaction; with
        `expected_version`, the version the change started from.
        Raises EntryNotFound, VersionConflict (nothing is written)."""
        existing = self._find(ext_id)
        if existing is None:
            raise EntryNotFound(ext_id)
        if expected_version is not None and existing.version != expected_version:
            raise VersionConflict(existing, expected_version)
        return existing

    def write_version(self, existing: BankEntry, new_entry: BankEntry, user: str, now: str, *, note: str) -> None:
        """Write `new_entry` as the next version of `existing` (as read by
        `entry_for_update`): the entry row and its children, an immutable
        `entry_versions` row and an audit row (approve / retire / update) with
        before and after. Sets `new_entry.id` and `new_entry.version`. Does not
        bump the revision: call `bump_revision` once per logical change. Must
        run inside `transaction(bank.db)`; raises RuntimeError otherwise
        (nothing written)."""
        if not self.db.conn.in_transaction:
            raise RuntimeError("Bank.write_version must run inside answer_bank.db.transaction(bank.db)")
        new_entry.id = existing.id
        new_entry.version = existing.version + 1
        # Whoever writes approved content approves it: an approved proposal or a
        # restore records its approver, not only a draft → approved step.
        approving = new_entry.status == "approved"
        self.db.execute(
            "UPDATE entries SET question = ?, answer = ?, short_answer = ?, owner = ?, status = ?, "
            "review_by = ?, version = ?, source = ?, retired_reason = ?, updated_at = ?, updated_by = ?, "
            "approved_at = CASE WHEN ? THEN ? ELSE approved_at END, "
            "approved_by = CASE WHEN ? THEN ? ELSE approved_by END WHERE id = ?",
            [new_entry.question, new_entry.answer, new_entry.short_answer, new_entry.owner, new_entry.status,
             new_entry.review_by, new_entry.version, new_entry.source, new_entry.retired_reason, now, user,
             approving, now, approving, user, new_entry.id],
        )
        for table in ("entry_evidence", "entry_frameworks", "entry_tags"):
            self.db.execute(f"DELETE FROM {table} WHERE entry_id = ?", [new_entry.id])
        self.db.execute("DELETE FROM entry_variants WHERE entry_id = ? AND origin = 'curated'", [new_entry.id])
        self._write_children(new_entry, user, now)
        self._snapshot(new_entry, user, now, note)
        if approving and existing.status != "approved":
            action = "approve"
        elif new_entry.status == "retired" != existing.status:
            action = "retire"
        else:
            action = "update"
        self._audit(user, action, new_entry, existing.content(), new_entry.content(), now=now)

    def bump_revision(self) -> None:
        """Move the bank revision on (caches of the bank, the matcher's index,
        key on it). Once per logical change, inside its transaction."""
        self.db.execute("UPDATE bank_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'")

    def record_event(self, user: str, action: str, *, ext_id: str | None = None, entry_id: int | None = None,
                     detail: str | None = None, now: str | None = None) -> None:
        """An audit row for an event that is not itself a version of an entry
        (a merge, a version restore, a setting, a learned wording, a restore
        from backup): no before / after. Call inside the transaction of the
        change it records."""
        self.db.execute(
            "INSERT INTO audit_log (at, user, action, entry_id, ext_id, before, after, detail) "
            "VALUES (?, ?, ?, ?, ?, NULL, NULL, ?)",
            [now or utcnow(), user, action, entry_id, ext_id, detail],
        )

    # ---- embeddings cache ----------------------------------------------

    def cached_vectors(self, model_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            rows = self.db.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model_id = ? AND text_hash IN ({','.join('?' * len(chunk))})",
                [model_id, *chunk],
            ).fetchall()
            for h, blob in rows:
                out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    def store_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        if not vectors:
            return
        with transaction(self.db):
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_hash, dim, vector) VALUES (?, ?, ?, ?)",
                [(model_id, h, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
            )

    def cached_adapter(self, model_id: str, key: str) -> np.ndarray | None:
        """The bank adapter (answer_bank/adapter.py) fitted on exactly these
        inputs (`key`), kept beside the vectors of its model; or None."""
        row = self.db.execute("SELECT dim, vector FROM embeddings WHERE model_id = ? AND text_hash = ?",
                              [f"{model_id}#adapter", key]).fetchone()
        if row is None:
            return None
        d = math.isqrt(int(row[0]))
        flat = np.frombuffer(row[1], dtype=np.float32)
        return flat.reshape(d, d) if d * d == row[0] == flat.size else None

    def store_adapter(self, model_id: str, key: str, matrix: np.ndarray) -> None:
        """Keep one adapter per model: the one for the bank as it is now."""
        with transaction(self.db):
            self.db.execute("DELETE FROM embeddings WHERE model_id = ?", [f"{model_id}#adapter"])
            self.db.execute(
                "INSERT INTO embeddings (model_id, text_hash, dim, vector) VALUES (?, ?, ?, ?)",
                [f"{model_id}#adapter", key, int(matrix.size), np.asarray(matrix, dtype=np.float32).tobytes()],
            )

    # ---- internals -----------------------------------------------------

    def _row_id(self, ext_id: str) -> int:
        row = self.db.execute("SELECT id FROM entries WHERE ext_id = ?", [ext_id]).fetchone()
        if row is None:
            raise EntryNotFound(ext_id)
        return row[0]

    def _find(self, ext_id: str) -> BankEntry | None:
        try:
            return self.get_entry(ext_id)
        except EntryNotFound:
            return None

    @staticmethod
    def _entry_from_row(row: dict[str, Any]) -> BankEntry:
        return BankEntry(
            id=row["id"], ext_id=row["ext_id"], question=row["question"], answer=row["answer"],
            short_answer=row["short_answer"], owner=row["owner"], status=row["status"],
            review_by=row["review_by"], version=row["version"], source=row["source"],
            retired_reason=row["retired_reason"], created_at=row["created_at"],
            created_by=row["created_by"], updated_at=row["updated_at"], updated_by=row["updated_by"],
            approved_at=row["approved_at"], approved_by=row["approved_by"],
            origin_family=row.get("origin_family"), origin_ref=row.get("origin_ref"),
            origin_section=row.get("origin_section"),
        )

    def _attach_children(self, entries: list[BankEntry]) -> None:
        if not entries:
            return
        by_id = {e.id: e for e in entries}
        # One query per child table for the whole list, not one per entry.
        id_filter, params = "", []
        if len(entries) < 500:
            id_filter = f"WHERE entry_id IN ({','.join('?' * len(by_id))})"
            params = list(by_id)
        variants = defaultdict(list)
        learned_origins: dict[int, dict] = defaultdict(dict)
        for entry_id, text, origin, fam, ref, section in self.db.execute(
            "SELECT entry_id, text, origin, origin_family, origin_ref, origin_section "
            f"FROM entry_variants {id_filter} ORDER BY id", params
        ):
            variants[(entry_id, origin)].append(text)
            if origin == "review" and (fam or ref or section):
                learned_origins[entry_id][text] = (fam, ref, section)
        evidence = defaultdict(list)
        for entry_id, title, ref in self.db.execute(
            f"SELECT entry_id, title, ref FROM entry_evidence {id_filter} ORDER BY entry_id, position", params
        ):
            evidence[entry_id].append(Evidence(title, ref))
        frameworks = defaultdict(list)
        for entry_id, ref in self.db.execute(
            f"SELECT entry_id, ref FROM entry_frameworks {id_filter} ORDER BY entry_id, rowid", params
        ):
            frameworks[entry_id].append(ref)
        tags = defaultdict(list)
        for entry_id, tag in self.db.execute(
            f"SELECT entry_id, tag FROM entry_tags {id_filter} ORDER BY entry_id, rowid", params
        ):
            tags[entry_id].append(tag)
        for entry_id, e in by_id.items():
            e.variants = variants.get((entry_id, "curated"), [])
            e.learned_variants = variants.get((entry_id, "review"), [])
            e.learned_origins = learned_origins.get(entry_id, {})
            e.evidence = evidence.get(entry_id, [])
            e.frameworks = frameworks.get(entry_id, [])
            e.tags = tags.get(entry_id, [])

    def _insert(self, entry: BankEntry, user: str, now: str, note: str) -> None:
        approved = entry.status == "approved"
        cur = self.db.execute(
            "INSERT INTO entries (ext_id, question, answer, short_answer, owner, status, review_by, version, "
            "source, retired_reason, created_at, created_by, updated_at, updated_by, approved_at, approved_by, "
            "origin_family, origin_ref, origin_section) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [entry.ext_id, entry.question, entry.answer, entry.short_answer, entry.owner, entry.status,
             entry.review_by, entry.source, entry.retired_reason, now, user, now, user,
             now if approved else None, user if approved else None,
             entry.origin_family, entry.origin_ref, entry.origin_section],
        )
        entry.id = cur.lastrowid
        entry.version = 1
        self._write_children(entry, user, now)
        self._snapshot(entry, user, now, note)
        self._audit(user, "create", entry, None, entry.content(), now=now)

    def _write_children(self, entry: BankEntry, user: str, now: str) -> None:
        conn = self.db.conn
        conn.executemany(
            "INSERT OR IGNORE INTO entry_variants (entry_id, text, origin, created_at, created_by) "
            "VALUES (?, ?, 'curated', ?, ?)",
            [(entry.id, v, now, user) for v in entry.variants],
        )
        conn.executemany(
            "INSERT INTO entry_evidence (entry_id, position, title, ref) VALUES (?, ?, ?, ?)",
            [(entry.id, i, ev.title, ev.ref) for i, ev in enumerate(entry.evidence)],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO entry_frameworks (entry_id, ref) VALUES (?, ?)",
            [(entry.id, ref) for ref in entry.frameworks],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO entry_tags (entry_id, tag) VALUES (?, ?)",
            [(entry.id, tag) for tag in entry.tags],
        )

    def _snapshot(self, entry: BankEntry, user: str, now: str, note: str) -> None:
        self.db.execute(
            "INSERT INTO entry_versions (entry_id, version, snapshot, created_at, created_by, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [entry.id, entry.version, json.dumps(entry.content(), ensure_ascii=False), now, user, note],
        )

    def _audit(self, user, action, entry, before, after, detail: str | None = None, now: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO audit_log (at, user, action, entry_id, ext_id, before, after, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [now or utcnow(), user, action, entry.id, entry.ext_id,
             json.dumps(before, ensure_ascii=False) if before is not None else None,
             json.dumps(after, ensure_ascii=False) if after is not None else None, detail],
        )
