"""Autofill: read a customer questionnaire, answer it from the bank, write the copy.

Policy (what gets written):
- every question is matched; only matches whose tier is at least `min_tier`
  ("medium" by default, so "high" and "medium") are written. A "low" match is
  a suggestion for the reviewer and "none" means no answer: both are left
  blank in the file and listed in the report — a wrong answer sent to a
  customer costs more than a blank one;
- a question that already has an answer in the file keeps it unless
  `overwrite=True` (a half-filled or previously answered questionnaire is
  never silently changed);
- what goes in which cell (dropdown option, comment column, ...) is
  `ingest.fill.plan_fill`'s policy; the writer's `ExportReport` says what
  really changed: a question counts as written only when a cell of the copy
  changed, and each question has one outcome ("written", "kept" or
  "skipped") with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from answer_bank.tiers import TIER_RANK
from ingest import read_questionnaire, write_answers_report
from ingest.fill import PlannedWrite, where
from ingest.model import AnswerFill, IngestHints, Question



@dataclass
class QuestionOutcome:
    """What autofill did with one question."""

    question: Question
    tier: str
    score: float
    entry_id: str | None  # the bank entry used (or suggested, below the tier)
    status: str  # "written" | "blank" (no answer good enough) | "kept" (already answered) | "not written"
    writes: list[PlannedWrite] = field(default_factory=list)  # the places that changed in the copy
    notes: list[str] = field(default_factory=list)
    outcome: str = "skipped"  # "written" | "kept" | "skipped", as the writer reports it
    reason: str | None = None  # why kept or skipped

    def describe(self) -> str:
        """The outcome in a line: where and what was written, or why not."""
        if self.outcome == "written":
            return "; ".join(f"{where(w.at)} = {w.value!r}" if w.role != "clear" else f"{where(w.at)} cleared"
                             for w in self.writes)
        return self.reason or ""
    # For a question left blank: the best entries to read, with the bank text each matched on.
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        q = self.question
        return {
            "ref": q.ref,
            "text": q.text,
            "section": q.section,
            "tier": self.tier,
            "score": round(self.score, 4),
            "entry": self.entry_id,
            "status": self.status,
            "written": [w.to_json() for w in self.writes],
            "answer_at": q.answer_at.to_json(),
            "notes": self.notes,
            "outcome": self.outcome,
            "reason": self.reason,
            "where": [where(w.at) for w in self.writes],
            "suggestions": self.suggestions,
        }


@dataclass
class AutofillReport:
    format: str
    min_tier: str
    outcomes: list[QuestionOutcome]
    warnings: list[str]
    output: bytes = field(repr=False, default=b"")

    @property
    def written(self) -> list[QuestionOutcome]:
        return [o for o in self.outcomes if o.status == "written"]

    @property
    def unanswered(self) -> list[QuestionOutcome]:
        return [o for o in self.outcomes if o.status in ("blank", "not written")]

    @property
    def kept(self) -> list[QuestionOutcome]:
        return [o for o in self.outcomes if o.outcome == "kept"]

    @property
    def skipped(self) -> list[QuestionOutcome]:
        return [o for o in self.outcomes if o.outcome == "skipped"]

    @property
    def cells_written(self) -> int:
        return sum(len(o.writes) for o in self.written)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "min_tier": self.min_tier,
            "questions": [o.to_json() for o in self.outcomes],
            "written": len(self.written),
            "kept": len(self.kept),
            "skipped": len(self.skipped),
            "cells_written": self.cells_written,
            "unanswered": [o.question.ref or o.question.text for o in self.unanswered],
            "warnings": list(self.warnings),
        }


def autofill(
    data: bytes,
    filename: str | None,
    matcher,
    hints: IngestHints | None = None,
    *,
    min_tier: str = "medium",
    overwrite: bool = False,
) -> AutofillReport:
    """Answer every question of `data` with `matcher` and write the filled copy.

    `matcher.match_many(questions, top_k=...)` gets the ingested questions
    (text, ref, section, sheet, in file order) and returns one result per
    question with `.tier`, `.answer` (a BankEntry or None), `.score` and
    `.candidates`; `.withhold_short_answer` keeps the entry's Yes/No out of
    a question that asks the other way round.
    Raises IngestError subclasses (unreadable file, ExportError when an answer
    cannot be written).
    """
    if min_tier not in TIER_RANK or min_tier == "none":
        raise ValueError(f"min_tier must be high, medium or low, not {min_tier!r}")
    result = read_questionnaire(data, filename, hints)
    questions = result.questions
    # Questions the file already answers are kept, so they are not matched at all.
    todo = [q for q in questions if overwrite or not q.existing_answer]
    found = matcher.match_many(todo, top_k=3) if todo else []
    matches = dict(zip(map(id, todo), found))
    fills: list[AnswerFill] = []
    filled: list[QuestionOutcome] = []
    outcomes: list[QuestionOutcome] = []
    for q in questions:
        m = matches.get(id(q))
        if m is None:
            outcome = QuestionOutcome(q, "none", 0.0, None, "kept", outcome="kept",
                                      reason="the file already answers this question (use overwrite to replace)",
                                      notes=["the file already answers this question; kept (use overwrite to replace)"])
            outcomes.append(outcome)
            continue
        entry = m.answer
        suggested = entry or (m.candidates[0].entry if getattr(m, "candidates", None) else None)
        outcome = QuestionOutcome(q, m.tier, float(m.score), suggested.ext_id if suggested else None, "blank")
        if entry is None or TIER_RANK.get(m.tier, 0) < TIER_RANK[min_tier]:
            outcome.notes.extend(getattr(m, "reasons", []) or [])
            outcome.reason = ("no answer in the bank" if suggested is None or m.tier == "none"
                              else f"the best match is tier {m.tier}, below {min_tier}")
            outcome.suggestions = [
                {"id": c.entry.ext_id, "score": round(float(c.score), 4),
                 "matched": getattr(c, "matched", None) or c.entry.question}
                for c in (getattr(m, "candidates", None) or [])[:3]]
        else:
            withhold = bool(getattr(m, "withhold_short_answer", False))
            fills.append(AnswerFill(q, None if withhold else entry.short_answer, entry.answer))
            filled.append(outcome)
            if withhold:
                outcome.notes.append(
                    f"{entry.ext_id}'s short answer “{entry.short_answer}” answers “{entry.question}”, "
                    "which asks the other way round: only the narrative answer was written")
        outcomes.append(outcome)
    output, written = write_answers_report(data, filename, fills)
    for outcome, done in zip(filled, written.questions):
        outcome.outcome, outcome.reason = done.outcome, done.reason
        # notes made here (a withheld Yes/No) come first, then the writer's
        said = done.notes if done.outcome != "skipped" else [done.reason or ""]
        outcome.writes, outcome.notes = done.changes, [*outcome.notes, *said]
        # "kept": the file already held exactly this answer
        outcome.status = {"written": "written", "kept": "kept", "skipped": "not written"}[done.outcome]
    return AutofillReport(result.format, min_tier, outcomes, list(result.warnings), output)
