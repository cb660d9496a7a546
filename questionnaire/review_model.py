"""What is stored of a questionnaire under review: the questionnaire, its
questions with their review state, its exports and the bank changes proposed
from review; the errors of the review store; the limits of a review action.
`questionnaire.review` (ReviewStore) reads and writes them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.cells import CELL_LIMIT
from ingest.model import Locator, Question

REVIEW_ACTIONS = ("accept", "pick", "edit", "needs_expert", "blank", "reset")
# The cell limit of XLSX; the narrower formats check their own on export.
MAX_ANSWER_CHARS = CELL_LIMIT
MAX_NOTE_CHARS = 2_000
ALTERNATIVES = 3


class ReviewError(Exception):
    """A review request that cannot be carried out; the message says why."""


class QuestionnaireNotFound(ReviewError):
    pass


class QuestionNotFound(ReviewError):
    pass


class ProposalNotFound(ReviewError):
    pass


class JobLost(ReviewError):
    """Another worker took over the job (this one's lease had expired)."""

    def __init__(self, qn_id: str, owner: str):
        super().__init__(f"proposing answers for {qn_id} was taken over by another worker")
        self.qn_id, self.owner = qn_id, owner


class ReviewConflict(ReviewError):
    """The question changed since the version the reviewer saw."""

    def __init__(self, current: "ReviewQuestion", expected_version: int):
        super().__init__(
            f"question {current.label} was changed by {current.reviewed_by or 'someone'} "
            f"at {current.reviewed_at or 'just now'} (now version {current.version}, you saw version "
            f"{expected_version}); look at their change and act again"
        )
        self.current = current
        self.expected_version = expected_version


# ---- what is stored -------------------------------------------------------


@dataclass
class Questionnaire:
    id: str
    customer: str
    due_date: str | None
    owner: str
    status: str
    filename: str
    format: str
    stored_name: str
    size: int
    hints: dict[str, Any]
    layout: dict[str, Any]
    warnings: list[str]
    progress_done: int
    progress_total: int
    error: str | None
    created_at: str
    updated_at: str
    total: int = 0
    reviewed: int = 0
    archived_at: str | None = None
    archived_by: str | None = None

    @property
    def share_reviewed(self) -> float:
        return self.reviewed / self.total if self.total else 0.0


# The XLSX reader notes a formula answer cell with this opening (Question.not_writable).
NOT_WRITABLE_NOTE = "not writable: "


@dataclass
class ReviewQuestion:
    id: int
    questionnaire_id: str
    position: int
    ref: str | None
    section: str | None
    text: str
    answer_kind: str
    options: list[str] | None
    answer_at: dict[str, Any]
    comment_at: dict[str, Any] | None
    existing_answer: str | None
    hidden: bool
    notes: list[str]
    tier: str | None
    score: float | None
    confidence: float | None
    proposed: str | None  # ext id the matcher would answer with, or None
    candidates: list[dict[str, Any]]  # snapshots of the top entries, best first
    reasons: list[str]
    status: str
    entry_ext_id: str | None
    entry_version: int | None
    short_answer: str | None
    narrative: str | None
    note: str | None
    draft_entry: str | None
    reviewed_by: str | None
    reviewed_at: str | None
    version: int

    @property
    def label(self) -> str:
        return self.ref or f"#{self.position}"

    @property
    def proposal(self) -> dict[str, Any] | None:
        for c in self.candidates:
            if c["id"] == self.proposed:
                return c
        return None

    @property
    def alternatives(self) -> list[dict[str, Any]]:
        return [c for c in self.candidates if c["id"] != self.proposed][:ALTERNATIVES]

    def candidate(self, ext_id: str) -> dict[str, Any] | None:
        for c in self.candidates:
            if c["id"] == ext_id:
                return c
        return None

    @property
    def not_writable(self) -> str | None:
        """Why the answer cannot be written (a formula cell), kept as the reader's note."""
        return next((n[len(NOT_WRITABLE_NOTE):] for n in self.notes if n.startswith(NOT_WRITABLE_NOTE)), None)

    def to_question(self) -> Question:
        """The ingest Question again, for the writers."""
        return Question(
            text=self.text, answer_at=locator_from_json(self.answer_at), ref=self.ref, section=self.section,
            answer_kind=self.answer_kind, options=self.options, comment_at=locator_from_json(self.comment_at),
            existing_answer=self.existing_answer, hidden=self.hidden, notes=list(self.notes),
            not_writable=self.not_writable,
        )

    def state(self) -> dict[str, Any]:
        """What a review action changes (the audit row's before/after)."""
        return {
            "status": self.status, "entry": self.entry_ext_id, "entry_version": self.entry_version,
            "short_answer": self.short_answer, "narrative": self.narrative, "note": self.note,
            "draft_entry": self.draft_entry, "version": self.version,
        }


@dataclass
class ExportRecord:
    id: int
    questionnaire_id: str
    stored_name: str
    summary_name: str
    at: str
    user: str
    answered: int
    blank: int
    report: dict[str, Any] | None = None  # see export_outcomes; None for exports made before it existed


@dataclass
class Proposal:
    id: int
    ext_id: str
    base_version: int | None
    content: dict[str, Any]
    note: str | None
    proposed_by: str
    proposed_at: str
    status: str
    decided_by: str | None
    decided_at: str | None
    decision_note: str | None


def locator_from_json(data: dict[str, Any] | None) -> Locator | None:
    """The inverse of `Locator.to_json`."""
    if not data:
        return None
    marks = data.get("marks")
    mark_locs = tuple((opt, locator_from_json(loc)) for opt, loc in marks.items()) if marks else None
    if data.get("sheet") is not None:
        return Locator(sheet=data["sheet"], cell=data.get("cell"), marks=mark_locs)
    if data.get("table") is not None:
        return Locator(table=data["table"], row=data.get("row"), col=data.get("col"), marks=mark_locs)
    if data.get("paragraph") is not None:
        return Locator(paragraph=data["paragraph"], insert_after=bool(data.get("insert_after")), marks=mark_locs)
    return Locator(row=data.get("row"), column=data.get("column"), marks=mark_locs)


def candidate_snapshot(entry, score: float, matched: str | None = None) -> dict[str, Any]:
    """What the reviewer sees of a bank entry, frozen at match time: the answer
    exported is the answer that was reviewed, whatever the bank does later.
    `matched` is the entry's text (question or variant) that matched."""
    return {
        "id": entry.ext_id, "score": round(float(score), 4), "version": entry.version,
        "question": entry.question, "answer": entry.answer, "short_answer": entry.short_answer,
        "evidence": [{"title": e.title, "ref": e.ref} for e in entry.evidence],
        "frameworks": list(entry.frameworks), "overdue": entry.is_overdue(),
        "matched": matched or entry.question,
    }
