"""One incoming questionnaire under review: its questions, the draft answers
the matcher proposed, what reviewers did with them, and its exports.

Every write runs in one `transaction(db)` (BEGIN IMMEDIATE) and every review
action adds an immutable row to `review_actions`, so the audit trail and the
answers cannot disagree. Each question carries a version: a review action
names the version it started from and gets `ReviewConflict` when someone else
changed the question first (nothing is written).

What is stored (the dataclasses and errors) is in `review_model`, the export
of the reviewed answers in `review_export`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import socket
import uuid
from typing import Any, Callable, Iterable

import sqlite_utils

from answer_bank.db import transaction
from answer_bank.model import SHORT_ANSWERS
from answer_bank.store import utcnow
from answer_bank.tiers import ANSWER_TIERS, TIERS
from ingest.model import IngestHints, IngestResult, Question
from questionnaire.review_db import REVIEW_STATUSES
from questionnaire.review_model import (ALTERNATIVES, MAX_ANSWER_CHARS, MAX_NOTE_CHARS, REVIEW_ACTIONS,
                                        ExportRecord, JobLost, Proposal, ProposalNotFound, Questionnaire,
                                        QuestionnaireNotFound, QuestionNotFound, ReviewConflict, ReviewError,
                                        ReviewQuestion, candidate_snapshot)

# How long a background worker holds a questionnaire's job without renewing
# its lease; it renews it after every chunk and from a heartbeat meanwhile.
JOB_LEASE_SECONDS = 60

def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_Q_COLS = (
    "id, questionnaire_id, position, ref, section, text, answer_kind, options, answer_at, comment_at, "
    "existing_answer, hidden, notes, tier, score, confidence, proposed, candidates, reasons, status, "
    "entry_ext_id, entry_version, short_answer, narrative, note, draft_entry, reviewed_by, reviewed_at, version"
)


def _question_from_row(r: tuple) -> ReviewQuestion:
    return ReviewQuestion(
        id=r[0], questionnaire_id=r[1], position=r[2], ref=r[3], section=r[4], text=r[5], answer_kind=r[6],
        options=json.loads(r[7]) if r[7] else None, answer_at=json.loads(r[8]),
        comment_at=json.loads(r[9]) if r[9] else None, existing_answer=r[10], hidden=bool(r[11]),
        notes=json.loads(r[12]), tier=r[13], score=r[14], confidence=r[15], proposed=r[16],
        candidates=json.loads(r[17]), reasons=json.loads(r[18]), status=r[19], entry_ext_id=r[20],
        entry_version=r[21], short_answer=r[22], narrative=r[23], note=r[24], draft_entry=r[25],
        reviewed_by=r[26], reviewed_at=r[27], version=r[28],
    )


_QN_COLS = (
    "q.id, q.customer, q.due_date, q.owner, q.status, q.filename, q.format, q.stored_name, q.size, q.hints, "
    "q.layout, q.warnings, q.progress_done, q.progress_total, q.error, q.created_at, q.updated_at, "
    "q.archived_at, q.archived_by"
)
_QN_NCOLS = 19


def _questionnaire_from_row(r: tuple) -> Questionnaire:
    return Questionnaire(
        id=r[0], customer=r[1], due_date=r[2], owner=r[3], status=r[4], filename=r[5], format=r[6],
        stored_name=r[7], size=r[8], hints=json.loads(r[9]), layout=json.loads(r[10]),
        warnings=json.loads(r[11]), progress_done=r[12], progress_total=r[13], error=r[14],
        created_at=r[15], updated_at=r[16], archived_at=r[17], archived_by=r[18],
    )


class ReviewStore:
    """All reads and writes of questionnaires under review."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    # ---- questionnaires -------------------------------------------------

    def create_questionnaire(
        self, *, customer: str, due_date: str | None, owner: str, filename: str, fmt: str,
        stored_name: str, size: int, hints: IngestHints, result: IngestResult, qn_id: str | None = None,
    ) -> str:
        """Store a detected questionnaire and its questions; returns its generated id."""
        qn_id = qn_id or new_id()
        now = utcnow()
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO questionnaires (id, customer, due_date, owner, status, filename, format, stored_name, "
                "size, hints, layout, warnings, created_at, updated_at) VALUES (?, ?, ?, ?, 'detected', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [qn_id, customer, due_date, owner, filename, fmt, stored_name, size, _dumps(_hints_dict(hints)),
                 _dumps(_layout_dict(result.layout)), _dumps(list(result.warnings)), now, now],
            )
            self._insert_questions(qn_id, result.questions)
            self._action(owner, qn_id, None, "upload", None, None, note=f"{len(result.questions)} questions")
        return qn_id

    def redetect(self, qn_id: str, hints: IngestHints, result: IngestResult, *, user: str) -> None:
        """Replace the detected questions after a person corrected the layout."""
        with transaction(self.db):
            qn = self.get(qn_id)
            if qn.status not in ("detected", "failed") or qn.reviewed:
                raise ReviewError("answers were already proposed for this questionnaire; upload it again to change its layout")
            self.db.execute("DELETE FROM review_questions WHERE questionnaire_id = ?", [qn_id])
            self._insert_questions(qn_id, result.questions)
            self.db.execute(
                "UPDATE questionnaires SET hints = ?, layout = ?, warnings = ?, status = 'detected', error = NULL, "
                "updated_at = ? WHERE id = ?",
                [_dumps(_hints_dict(hints)), _dumps(_layout_dict(result.layout)), _dumps(list(result.warnings)),
                 utcnow(), qn_id],
            )
            self._action(user, qn_id, None, "correct_layout", None, _hints_dict(hints),
                         note=f"{len(result.questions)} questions")

    def _insert_questions(self, qn_id: str, questions: Iterable[Question]) -> None:
        self.db.conn.executemany(
            "INSERT INTO review_questions (questionnaire_id, position, ref, section, text, answer_kind, options, "
            "answer_at, comment_at, existing_answer, hidden, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (qn_id, n, q.ref, q.section, q.text, q.answer_kind, _dumps(q.options) if q.options else None,
                 _dumps(q.answer_at.to_json()), _dumps(q.comment_at.to_json()) if q.comment_at else None,
                 q.existing_answer, int(bool(q.hidden)), _dumps(list(getattr(q, "notes", []) or [])))
                for n, q in enumerate(questions, start=1)
            ],
        )

    def get(self, qn_id: str) -> Questionnaire:
        """Raises QuestionnaireNotFound."""
        row = self.db.execute(f"SELECT {_QN_COLS} FROM questionnaires q WHERE q.id = ?", [qn_id]).fetchone()
        if row is None:
            raise QuestionnaireNotFound(f"no questionnaire with id {qn_id!r}")
        qn = _questionnaire_from_row(row)
        qn.total, qn.reviewed = self.db.execute(
            "SELECT count(*), coalesce(sum(status != 'pending'), 0) FROM review_questions WHERE questionnaire_id = ?",
            [qn_id],
        ).fetchone()
        return qn

    def list(self, *, archived: bool | None = None) -> list[Questionnaire]:
        """Every questionnaire (archived=False: the open ones; True: the
        archived ones), soonest due first, with its reviewed / total counts."""
        where = "" if archived is None else ("WHERE q.archived_at IS NOT NULL " if archived else "WHERE q.archived_at IS NULL ")
        rows = self.db.execute(
            f"SELECT {_QN_COLS}, count(r.id), coalesce(sum(r.status != 'pending'), 0) FROM questionnaires q "
            f"LEFT JOIN review_questions r ON r.questionnaire_id = q.id {where}GROUP BY q.id "
            "ORDER BY q.due_date IS NULL, q.due_date, q.created_at DESC"
        ).fetchall()
        out = []
        for r in rows:
            qn = _questionnaire_from_row(r[:_QN_NCOLS])
            qn.total, qn.reviewed = r[_QN_NCOLS], r[_QN_NCOLS + 1]
            out.append(qn)
        return out

    def count_archived(self) -> int:
        return self.db.execute("SELECT count(*) FROM questionnaires WHERE archived_at IS NOT NULL").fetchone()[0]

    def set_archived(self, qn_id: str, archived: bool, *, user: str) -> None:
        """Archive (out of the list, everything kept) or bring back; audited."""
        with transaction(self.db):
            qn = self.get(qn_id)
            if bool(qn.archived_at) == archived:
                return
            self.db.execute("UPDATE questionnaires SET archived_at = ?, archived_by = ?, updated_at = ? WHERE id = ?",
                            [utcnow() if archived else None, user if archived else None, utcnow(), qn_id])
            self._action(user, qn_id, None, "archive" if archived else "unarchive", None, None,
                         note=f"{qn.customer} ({qn.filename})")

    def delete_questionnaire(self, qn_id: str, *, user: str) -> list[str]:
        """Delete a questionnaire, its questions and export records in one
        transaction, with a 'delete' audit row (the review_actions trail
        stays). Returns the stored file names for the caller to remove.
        Refused while answers are being proposed."""
        with transaction(self.db):
            qn = self.get(qn_id)
            if qn.status == "matching":
                raise ReviewError("answers are being proposed for this questionnaire; wait until that ends, then delete it")
            files = [qn.stored_name]
            for stored, summary in self.db.execute(
                    "SELECT stored_name, summary_name FROM exports WHERE questionnaire_id = ?", [qn_id]):
                files += [stored, summary]
            self.db.execute("DELETE FROM exports WHERE questionnaire_id = ?", [qn_id])
            self.db.execute("DELETE FROM review_questions WHERE questionnaire_id = ?", [qn_id])
            self.db.execute("DELETE FROM questionnaires WHERE id = ?", [qn_id])
            self._action(user, qn_id, None, "delete", {"customer": qn.customer, "filename": qn.filename,
                                                        "questions": qn.total, "reviewed": qn.reviewed}, None,
                         note=f"{qn.customer} ({qn.filename}): {qn.total} questions and {len(files)} files deleted")
        return files

    # ---- matching progress ----------------------------------------------

    def start_matching(self, qn_id: str, *, user: str, owner: str | None = None,
                       lease_seconds: int = JOB_LEASE_SECONDS) -> int:
        """Mark the questionnaire as being matched by `owner` (see `job_owner`),
        who holds the job for `lease_seconds` unless it renews the lease;
        returns the number of questions."""
        with transaction(self.db):
            qn = self.get(qn_id)
            if qn.status == "matching":
                raise ReviewError("answers are being proposed for this questionnaire already")
            if qn.status not in ("detected", "failed"):
                raise ReviewError("answers were already proposed for this questionnaire")
            self.db.execute(
                "UPDATE questionnaires SET status = 'matching', progress_done = 0, progress_total = ?, error = NULL, "
                "updated_at = ? WHERE id = ?",
                [qn.total, utcnow(), qn_id],
            )
            self._claim(qn_id, owner, lease_seconds)
            self._action(user, qn_id, None, "autofill", None, None, note=f"{qn.total} questions")
        return qn.total

    def start_rematch(self, qn_id: str, *, user: str, owner: str | None = None,
                      lease_seconds: int = JOB_LEASE_SECONDS) -> int:
        """Match the not-yet-reviewed questions again (the bank changed since):
        the questionnaire goes back to 'matching' until `finish_matching`.
        Returns how many questions will be matched (0: nothing to do, nothing changed)."""
        with transaction(self.db):
            qn = self.get(qn_id)
            if qn.status == "matching":
                raise ReviewError("answers are being proposed for this questionnaire already")
            if qn.status not in ("review", "exported"):
                raise ReviewError("answers were not proposed yet for this questionnaire")
            n = self.count(qn_id, status="pending")
            if not n:
                return 0
            self.db.execute(
                "UPDATE questionnaires SET status = 'matching', progress_done = 0, progress_total = ?, error = NULL, "
                "updated_at = ? WHERE id = ?", [n, utcnow(), qn_id],
            )
            self._claim(qn_id, owner, lease_seconds)
            self._action(user, qn_id, None, "propose_again", None, None, note=f"{n} questions not reviewed yet")
        return n

    def store_matches(self, qn_id: str, matches: list[tuple[int, Any]], done: int, *, owner: str | None = None,
                      lease_seconds: int = JOB_LEASE_SECONDS) -> None:
        """Save the matcher's results for some questions (by position) and the
        progress. With `owner`: only while that worker holds the job (else
        JobLost, nothing written), and its lease is renewed."""
        rows = []
        for position, result in matches:
            # The top candidates with the bank text each matched on: for "low"
            # and "none" these are the suggestions the review shows.
            snaps = [candidate_snapshot(c.entry, c.score, getattr(c, "matched", None))
                     for c in result.candidates[: ALTERNATIVES + 1]]
            proposed = result.answer.ext_id if result.answer is not None else None
            if proposed and all(s["id"] != proposed for s in snaps):
                snaps.insert(0, candidate_snapshot(result.answer, result.score))
            if proposed and getattr(result, "withhold_short_answer", False):
                for snap in snaps:
                    if snap["id"] == proposed:
                        # Its Yes/No answers a question asked the other way round.
                        snap["short_answer"], snap["short_answer_withheld"] = None, True
            rows.append((result.tier, float(result.score), float(result.confidence), proposed, _dumps(snaps),
                         _dumps(list(result.reasons)), qn_id, position))
        with transaction(self.db):
            if owner is not None and not self._renew(qn_id, owner, lease_seconds):
                raise JobLost(qn_id, owner)
            self.db.conn.executemany(
                "UPDATE review_questions SET tier = ?, score = ?, confidence = ?, proposed = ?, candidates = ?, "
                "reasons = ? WHERE questionnaire_id = ? AND position = ? AND status = 'pending'",
                rows,
            )
            self.db.execute(
                "UPDATE questionnaires SET progress_done = ?, updated_at = ? WHERE id = ?", [done, utcnow(), qn_id]
            )

    def finish_matching(self, qn_id: str, error: str | None = None, *, rematch: bool = False,
                        owner: str | None = None) -> bool:
        """Matching ended. A first matching that failed leaves the
        questionnaire 'failed'; a failed rematch goes back to review (the
        earlier proposals and every decision stay) with the error kept.
        With `owner`: only if that worker still holds the job (False: another
        took it over; nothing changed)."""
        sql = ("UPDATE questionnaires SET status = ?, error = ?, updated_at = ?, job_lease_until = NULL "
               "WHERE id = ?")
        params = ["failed" if error and not rematch else "review", error, utcnow(), qn_id]
        if owner is not None:
            sql += " AND status = 'matching' AND job_owner = ?"
            params.append(owner)
        with transaction(self.db):
            return bool(self.db.execute(sql, params).rowcount)

    # ---- who proposes the answers: a lease in the database ------------------

    def job_is_live(self, qn_id: str) -> bool:
        """Is a worker (of any server process) proposing this questionnaire's
        answers right now, i.e. does its lease still run?"""
        row = self.db.execute("SELECT status, job_lease_until FROM questionnaires WHERE id = ?", [qn_id]).fetchone()
        return bool(row and row[0] == "matching" and row[1] and row[1] > utcnow())

    def job_owner_of(self, qn_id: str) -> str | None:
        row = self.db.execute("SELECT job_owner FROM questionnaires WHERE id = ?", [qn_id]).fetchone()
        return row[0] if row else None

    def release_expired_job(self, qn_id: str, *, error: str, rematch: bool) -> bool:
        """End a matching whose worker is gone (its lease expired) as
        `finish_matching` would, with `error`; False (nothing changed) when
        the job still runs or is not matching."""
        sql = ("UPDATE questionnaires SET status = ?, error = ?, updated_at = ?, job_lease_until = NULL "
               "WHERE id = ? AND status = 'matching' AND (job_lease_until IS NULL OR job_lease_until <= ?)")
        now = utcnow()
        with transaction(self.db):
            return bool(self.db.execute(sql, ["failed" if not rematch else "review", error, now, qn_id, now]).rowcount)

    def renew_lease(self, qn_id: str, owner: str, lease_seconds: int = JOB_LEASE_SECONDS) -> bool:
        """The worker's heartbeat: False when it no longer holds the job."""
        with transaction(self.db):
            return self._renew(qn_id, owner, lease_seconds)

    def _renew(self, qn_id: str, owner: str, lease_seconds: int) -> bool:
        return bool(self.db.execute(
            "UPDATE questionnaires SET job_lease_until = ? WHERE id = ? AND status = 'matching' AND job_owner = ?",
            [_lease_until(lease_seconds), qn_id, owner]).rowcount)

    def _claim(self, qn_id: str, owner: str | None, lease_seconds: int) -> None:
        self.db.execute(
            "UPDATE questionnaires SET job_owner = ?, job_started_at = ?, job_lease_until = ? WHERE id = ?",
            [owner or job_owner(), utcnow(), _lease_until(lease_seconds), qn_id])

    # ---- questions ------------------------------------------------------

    def _filter(self, qn_id: str, tier: str | None, status: str | None,
                text: str | None = None) -> tuple[str, list]:
        where, params = "questionnaire_id = ?", [qn_id]
        if text:  # the question, its reference or section contains it (case-insensitive for ASCII)
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where += (" AND (text LIKE ? ESCAPE '\\' OR coalesce(ref, '') LIKE ? ESCAPE '\\' "
                      "OR coalesce(section, '') LIKE ? ESCAPE '\\')")
            params += [like, like, like]
        if tier:
            where += " AND coalesce(tier, 'none') = ?"
            params.append(tier)
        if status == "reviewed":
            where += " AND status != 'pending'"
        elif status:
            where += " AND status = ?"
            params.append(status)
        return where, params

    def questions(
        self, qn_id: str, *, tier: str | None = None, status: str | None = None,
        offset: int = 0, limit: int | None = None, text: str | None = None,
    ) -> list[ReviewQuestion]:
        where, params = self._filter(qn_id, tier, status, text)
        sql = f"SELECT {_Q_COLS} FROM review_questions WHERE {where} ORDER BY position"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [_question_from_row(r) for r in self.db.execute(sql, params).fetchall()]

    def question_ids(self, qn_id: str) -> list[int]:
        """The ids of a questionnaire's questions in file order (the review page's order)."""
        return [r[0] for r in self.db.execute(
            "SELECT id FROM review_questions WHERE questionnaire_id = ? ORDER BY position", [qn_id])]

    def count(self, qn_id: str, *, tier: str | None = None, status: str | None = None,
              text: str | None = None) -> int:
        where, params = self._filter(qn_id, tier, status, text)
        return self.db.execute(f"SELECT count(*) FROM review_questions WHERE {where}", params).fetchone()[0]

    def counts(self, qn_id: str) -> dict[str, Any]:
        """total, reviewed, and counts by tier and by status."""
        by_tier = {t: 0 for t in TIERS}
        by_status = {s: 0 for s in REVIEW_STATUSES}
        for tier, status, n in self.db.execute(
            "SELECT coalesce(tier, 'none'), status, count(*) FROM review_questions WHERE questionnaire_id = ? "
            "GROUP BY 1, 2", [qn_id],
        ):
            by_tier[tier] = by_tier.get(tier, 0) + n
            by_status[status] = by_status.get(status, 0) + n
        total = sum(by_status.values())
        pending = dict(self.db.execute(
            "SELECT tier, count(*) FROM review_questions WHERE questionnaire_id = ? AND tier IN ('high', 'medium') "
            "AND status = 'pending' AND proposed IS NOT NULL GROUP BY tier", [qn_id],
        ).fetchall())
        return {"total": total, "reviewed": total - by_status["pending"], "by_tier": by_tier,
                "by_status": by_status, "pending_high": pending.get("high", 0),
                "pending_medium": pending.get("medium", 0)}

    def question(self, question_id: int, qn_id: str | None = None) -> ReviewQuestion:
        """Raises QuestionNotFound (also when it belongs to another questionnaire)."""
        row = self.db.execute(f"SELECT {_Q_COLS} FROM review_questions WHERE id = ?", [question_id]).fetchone()
        if row is None or (qn_id is not None and row[1] != qn_id):
            raise QuestionNotFound(f"no question {question_id} in this questionnaire")
        return _question_from_row(row)

    # ---- review actions -------------------------------------------------

    def review(
        self, question_id: int, action: str, *, user: str, expected_version: int | None,
        qn_id: str | None = None, candidate: str | None = None, short_answer: str | None = None,
        narrative: str | None = None, note: str | None = None, draft_entry: str | None = None,
    ) -> ReviewQuestion:
        """Apply one reviewer's decision to one question, with its audit row.

        Raises ReviewConflict (someone changed it since `expected_version`),
        QuestionNotFound, or ReviewError (the action makes no sense here).
        """
        with transaction(self.db):
            q = self.question(question_id, qn_id)
            if expected_version is not None and q.version != expected_version:
                raise ReviewConflict(q, expected_version)
            self._check_open(q.questionnaire_id)
            new = _decide(q, action, candidate=candidate, short_answer=short_answer, narrative=narrative,
                          note=note, draft_entry=draft_entry)
            self._write_review(q, new, action, user)
        return self.question(question_id)

    def bulk_accept(self, qn_id: str, *, user: str, tier: str = "high") -> list[ReviewQuestion]:
        """Accept the proposed answer of every still-pending question of a tier."""
        if tier not in ANSWER_TIERS:
            raise ReviewError("only the high and medium tiers can be accepted in bulk")
        with transaction(self.db):
            self._check_open(qn_id)
            rows = self.db.execute(
                f"SELECT {_Q_COLS} FROM review_questions WHERE questionnaire_id = ? AND tier = ? "
                "AND status = 'pending' AND proposed IS NOT NULL ORDER BY position", [qn_id, tier],
            ).fetchall()
            accepted = []
            for row in rows:
                q = _question_from_row(row)
                new = _decide(q, "accept")
                self._write_review(q, new, "accept", user, note=f"bulk accept of the {tier} tier")
                accepted.append(q)
        return [self.question(q.id) for q in accepted]

    def record_learned(self, qn_id: str, pairs: list[tuple[str, str]], *, user: str, note: str) -> int:
        """Keep which (entry, wording) pairs a bulk action taught the bank, for
        its undo; returns the audit row's id."""
        with transaction(self.db):
            cur = self.db.execute(
                "INSERT INTO review_actions (at, user, questionnaire_id, question_id, action, before, after, note) "
                "VALUES (?, ?, ?, NULL, 'learned', NULL, ?, ?)",
                [utcnow(), user, qn_id, _dumps([list(p) for p in pairs]), note])
            return cur.lastrowid

    def learned_batch(self, qn_id: str, action_id: int) -> list[tuple[str, str]]:
        """The pairs `record_learned` kept (none for another questionnaire's row)."""
        row = self.db.execute("SELECT after FROM review_actions WHERE id = ? AND questionnaire_id = ? AND "
                              "action = 'learned'", [action_id, qn_id]).fetchone()
        return [(a, b) for a, b in json.loads(row[0])] if row and row[0] else []

    def _check_open(self, qn_id: str) -> None:
        status = self.db.execute("SELECT status FROM questionnaires WHERE id = ?", [qn_id]).fetchone()
        if status is None:
            raise QuestionnaireNotFound(f"no questionnaire with id {qn_id!r}")
        if status[0] not in ("review", "exported"):
            raise ReviewError("answers are not proposed yet for this questionnaire; run the autofill first")

    def _write_review(self, q: ReviewQuestion, new: dict[str, Any], action: str, user: str,
                      note: str | None = None) -> None:
        now = utcnow()
        cur = self.db.execute(
            "UPDATE review_questions SET status = ?, entry_ext_id = ?, entry_version = ?, short_answer = ?, "
            "narrative = ?, note = ?, draft_entry = ?, reviewed_by = ?, reviewed_at = ?, version = version + 1 "
            "WHERE id = ? AND version = ?",
            [new["status"], new["entry"], new["entry_version"], new["short_answer"], new["narrative"],
             new["note"], new["draft_entry"], user if new["status"] != "pending" else None,
             now if new["status"] != "pending" else None, q.id, q.version],
        )
        if cur.rowcount != 1:  # cannot happen inside BEGIN IMMEDIATE; refuse rather than lose a write
            raise ReviewConflict(self.question(q.id), q.version)
        after = dict(new, version=q.version + 1)
        self._action(user, q.questionnaire_id, q.id, action, q.state(), after, note=note or new.get("note"))
        self.db.execute("UPDATE questionnaires SET updated_at = ? WHERE id = ?", [now, q.questionnaire_id])

    def _action(self, user: str, qn_id: str, question_id: int | None, action: str,
                before: Any, after: Any, note: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO review_actions (at, user, questionnaire_id, question_id, action, before, after, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [utcnow(), user, qn_id, question_id, action,
             _dumps(before) if before is not None else None, _dumps(after) if after is not None else None, note],
        )

    def actions(self, qn_id: str, *, question_id: int | None = None, review_only: bool = False,
                limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, at, user, question_id, action, before, after, note FROM review_actions WHERE questionnaire_id = ?"
        params: list[Any] = [qn_id]
        if question_id is not None:
            sql += " AND question_id = ?"
            params.append(question_id)
        if review_only:
            sql += f" AND action IN ({','.join('?' * len(REVIEW_ACTIONS))})"
            params += list(REVIEW_ACTIONS)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        cur = self.db.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def reviewers(self, qn_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT reviewed_by FROM review_questions WHERE questionnaire_id = ? AND reviewed_by IS NOT NULL "
            "ORDER BY 1", [qn_id])]

    def last_matched_at(self, qn_id: str) -> str | None:
        """When answers were last proposed for the questionnaire (None: never)."""
        return self.db.execute("SELECT max(at) FROM review_actions WHERE questionnaire_id = ? AND action IN "
                               "('autofill', 'propose_again')", [qn_id]).fetchone()[0]

    # ---- what reviews say about bank entries ------------------------------

    def accepted_texts(self, ext_id: str) -> list[str]:
        """The text of every accepted question answered from the entry."""
        return [t for (t,) in self.db.execute(
            "SELECT text FROM review_questions WHERE status = 'accepted' AND entry_ext_id = ?", [ext_id])]

    def accepted_sources(self, ext_id: str) -> list[tuple]:
        """(text, ref, position, questionnaire id, customer, filename) of every
        accepted question answered from the entry, oldest questionnaire first."""
        return self.db.execute(
            "SELECT r.text, r.ref, r.position, q.id, q.customer, q.filename FROM review_questions r "
            "JOIN questionnaires q ON q.id = r.questionnaire_id "
            "WHERE r.entry_ext_id = ? AND r.status = 'accepted' ORDER BY q.created_at, r.position", [ext_id]).fetchall()

    def figure_rows(self) -> list[tuple]:
        """Per questionnaire, newest upload first: id, customer, status, created,
        first export, questions, accepted as proposed, accepted another,
        edited, blank or for an expert, pending."""
        return self.db.execute(
            """
            SELECT q.id, q.customer, q.status, q.created_at,
                   (SELECT min(e.at) FROM exports e WHERE e.questionnaire_id = q.id),
                   count(r.id),
                   coalesce(sum(r.status = 'accepted' AND r.entry_ext_id = r.proposed), 0),
                   coalesce(sum(r.status = 'accepted' AND r.entry_ext_id IS NOT r.proposed), 0),
                   coalesce(sum(r.status = 'edited'), 0),
                   coalesce(sum(r.status IN ('blank', 'needs_expert')), 0),
                   coalesce(sum(r.status = 'pending'), 0)
            FROM questionnaires q LEFT JOIN review_questions r ON r.questionnaire_id = q.id
            GROUP BY q.id ORDER BY q.created_at DESC
            """
        ).fetchall()

    def edited_entry_rows(self, limit: int) -> list[tuple]:
        """(entry, edits, questionnaires, last edit) for entries whose proposed answers were rewritten."""
        return self.db.execute(
            """
            SELECT entry_ext_id, count(*), count(DISTINCT questionnaire_id), max(reviewed_at)
            FROM review_questions WHERE status = 'edited' AND entry_ext_id IS NOT NULL
            GROUP BY entry_ext_id ORDER BY count(*) DESC, entry_ext_id LIMIT ?
            """,
            [limit],
        ).fetchall()

    # ---- exports --------------------------------------------------------

    def record_export(self, qn_id: str, *, stored_name: str, summary_name: str, user: str,
                      answered: int, blank: int, report: dict[str, Any] | None = None) -> ExportRecord:
        with transaction(self.db):
            self.get(qn_id)
            self.db.execute(
                "INSERT INTO exports (questionnaire_id, stored_name, summary_name, at, user, answered, blank, report) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [qn_id, stored_name, summary_name, utcnow(), user, answered, blank,
                 _dumps(report) if report is not None else None],
            )
            self.db.execute("UPDATE questionnaires SET status = 'exported', updated_at = ? WHERE id = ?",
                            [utcnow(), qn_id])
            detail = {"answered": answered, "blank": blank}
            if report is not None:
                detail.update({k: report[k] for k in ("written", "kept", "skipped", "pending") if k in report})
            self._action(user, qn_id, None, "export", None, detail)
        return self.latest_export(qn_id)

    def latest_export(self, qn_id: str) -> ExportRecord | None:
        row = self.db.execute(
            "SELECT id, questionnaire_id, stored_name, summary_name, at, user, answered, blank, report FROM exports "
            "WHERE questionnaire_id = ? ORDER BY id DESC LIMIT 1", [qn_id],
        ).fetchone()
        if not row:
            return None
        return ExportRecord(*row[:8], report=json.loads(row[8]) if row[8] else None)

    # ---- proposed bank changes -----------------------------------------

    def propose(self, ext_id: str, *, base_version: int | None, content: dict[str, Any], note: str | None,
                user: str) -> int:
        with transaction(self.db):
            cur = self.db.execute(
                "INSERT INTO bank_proposals (ext_id, base_version, content, note, proposed_by, proposed_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", [ext_id, base_version, _dumps(content), note, user, utcnow()],
            )
            return cur.lastrowid

    def proposals(self, status: str | None = "pending", ext_id: str | None = None,
                  proposal_id: int | None = None) -> list[Proposal]:
        sql = ("SELECT id, ext_id, base_version, content, note, proposed_by, proposed_at, status, decided_by, "
               "decided_at, decision_note FROM bank_proposals WHERE 1=1")
        params: list[Any] = []
        if proposal_id is not None:
            sql += " AND id = ?"
            params.append(proposal_id)
        if status:
            sql += " AND status = ?"
            params.append(status)
        if ext_id:
            sql += " AND ext_id = ?"
            params.append(ext_id)
        rows = self.db.execute(sql + " ORDER BY id DESC", params).fetchall()
        return [Proposal(r[0], r[1], r[2], json.loads(r[3]), *r[4:]) for r in rows]

    def proposal(self, proposal_id: int) -> Proposal:
        found = self.proposals(status=None, proposal_id=proposal_id)
        if not found:
            raise ProposalNotFound(f"no proposed change {proposal_id}")
        return found[0]

    def decide_proposal(
        self, proposal_id: int, *, approved: bool, user: str, note: str | None = None,
        apply: Callable[[], object] | None = None,
    ) -> None:
        """Record an approver's decision. `apply` (for an approval: writing the
        change into the bank with `Bank.write_entry`) runs in the same
        transaction, so a change is never applied without its decision or the
        other way round. Raises ReviewError when already decided or when the
        approver proposed it; whatever `apply` raises rolls everything back."""
        with transaction(self.db):
            row = self.db.execute("SELECT status, proposed_by FROM bank_proposals WHERE id = ?", [proposal_id]).fetchone()
            if row is None:
                raise ProposalNotFound(f"no proposed change {proposal_id}")
            if row[0] != "pending":
                raise ReviewError(f"this change was already {row[0]}")
            if approved and row[1].lower() == user.lower():
                raise ReviewError("you proposed this change; another approver must approve it")
            if approved and apply is not None:
                apply()
            self.db.execute(
                "UPDATE bank_proposals SET status = ?, decided_by = ?, decided_at = ?, decision_note = ? WHERE id = ?",
                ["approved" if approved else "rejected", user, utcnow(), note, proposal_id],
            )


def job_owner() -> str:
    """A worker's name for the job table: host, process id and a random token."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"


def _lease_until(seconds: int) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)).isoformat(timespec="seconds")


def new_id() -> str:
    return uuid.uuid4().hex


def _hints_dict(hints: IngestHints) -> dict[str, Any]:
    return {k: v for k, v in vars(hints).items() if v}


def _layout_dict(layout: Any) -> dict[str, Any]:
    """What ingest detected, as a JSON object (some formats describe it in a word)."""
    value = json.loads(json.dumps(layout, default=str))
    return value if isinstance(value, dict) else {"layout": value}


def _decide(q: ReviewQuestion, action: str, *, candidate: str | None = None, short_answer: str | None = None,
            narrative: str | None = None, note: str | None = None, draft_entry: str | None = None) -> dict[str, Any]:
    """The question's review state after `action` (pure; raises ReviewError)."""
    cleared = {"entry": None, "entry_version": None, "short_answer": None, "narrative": None,
               "note": None, "draft_entry": None}
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE_CHARS:
        raise ReviewError(f"the note is longer than {MAX_NOTE_CHARS} characters")
    if action in ("accept", "pick"):
        chosen = q.proposal if action == "accept" else q.candidate(candidate or "")
        if chosen is None:
            raise ReviewError("there is no proposed answer to accept; pick an alternative or write the answer"
                              if action == "accept" else f"{candidate} is not one of this question's alternatives")
        return {"status": "accepted", "entry": chosen["id"], "entry_version": chosen.get("version"),
                "short_answer": chosen.get("short_answer"), "narrative": chosen.get("answer"),
                "note": None, "draft_entry": None}
    if action == "edit":
        narrative = (narrative or "").strip() or None
        short_answer = (short_answer or "").strip() or None
        if short_answer is not None and short_answer not in SHORT_ANSWERS:
            raise ReviewError(f"the short answer must be one of {', '.join(SHORT_ANSWERS)} or empty")
        if not narrative and not short_answer:
            raise ReviewError("write an answer (or choose 'leave blank')")
        if narrative and len(narrative) > MAX_ANSWER_CHARS:
            raise ReviewError(f"the answer is longer than {MAX_ANSWER_CHARS:,} characters, the most a spreadsheet cell holds")
        base = q.entry_ext_id or q.proposed
        base_snap = q.candidate(base) if base else None
        return {"status": "edited", "entry": base, "entry_version": base_snap.get("version") if base_snap else None,
                "short_answer": short_answer, "narrative": narrative, "note": note, "draft_entry": draft_entry}
    if action == "needs_expert":
        return dict(cleared, status="needs_expert", note=note)
    if action == "blank":
        return dict(cleared, status="blank", note=note)
    if action == "reset":
        return dict(cleared, status="pending")
    raise ReviewError(f"unknown review action: {action}")


# ---- autofill -------------------------------------------------------------


def autofill(store: ReviewStore, qn_id: str, match_many: Callable[[list[Any]], list[Any]],
             *, chunk: int = 32, only_pending: bool = False, owner: str | None = None) -> None:
    """Propose answers for every question (`only_pending`: those not reviewed
    yet), `chunk` at a time, saving progress after each chunk so a person sees
    it move. The caller has called `start_matching` (or `start_rematch`);
    errors mark the questionnaire failed and are re-raised. With `owner`,
    each chunk renews that worker's lease, and a worker whose job was taken
    over stops without writing (JobLost)."""
    try:
        questions = store.questions(qn_id, status="pending" if only_pending else None)
        done = 0
        for start in range(0, len(questions), chunk):
            part = questions[start : start + chunk]
            results = match_many(part)  # the questions with ref and section, in order
            done += len(part)
            store.store_matches(qn_id, [(q.position, r) for q, r in zip(part, results)], done, owner=owner)
        store.finish_matching(qn_id, rematch=only_pending, owner=owner)
    except JobLost:
        raise
    except Exception as e:
        store.finish_matching(qn_id, error=f"proposing answers failed ({type(e).__name__}: {e})", rematch=only_pending,
                              owner=owner)
        raise
