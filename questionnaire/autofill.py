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
  `ingest.fill.plan_fill`'s policy; the report shows every planned write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest import read_questionnaire, write_answers
from ingest.fill import PlannedWrite, plan_fill
from ingest.model import AnswerFill, IngestHints, Question

TIER_RANK = {"high": 3, "medium": 2, "low": 1, "none": 0}


@dataclass
class QuestionOutcome:
    """What autofill did with one question."""

    question: Question
    tier: str
    score: float
    entry_id: str | None  # the bank entry used (or suggested, below the tier)
    status: str  # "written" | "blank" (no answer good enough) | "kept" (already answered) | "not written"
    writes: list[PlannedWrite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
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

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "min_tier": self.min_tier,
            "questions": [o.to_json() for o in self.outcomes],
            "written": len(self.written),
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
    outcomes: list[QuestionOutcome] = []
    for q in questions:
        m = matches.get(id(q))
        if m is None:
            outcome = QuestionOutcome(q, "none", 0.0, None, "kept",
                                      notes=["the file already answers this question; kept (use overwrite to replace)"])
            outcomes.append(outcome)
            continue
        entry = m.answer
        suggested = entry or (m.candidates[0].entry if getattr(m, "candidates", None) else None)
        outcome = QuestionOutcome(q, m.tier, float(m.score), suggested.ext_id if suggested else None, "blank")
        if entry is None or TIER_RANK.get(m.tier, 0) < TIER_RANK[min_tier]:
            outcome.notes.extend(getattr(m, "reasons", []) or [])
            outcome.suggestions = [
                {"id": c.entry.ext_id, "score": round(float(c.score), 4),
                 "matched": getattr(c, "matched", None) or c.entry.question}
                for c in (getattr(m, "candidates", None) or [])[:3]]
        else:
            withhold = bool(getattr(m, "withhold_short_answer", False))
            fill = AnswerFill(q, None if withhold else entry.short_answer, entry.answer)
            writes, notes = plan_fill(fill)
            if withhold:
                notes = [f"{entry.ext_id}'s short answer “{entry.short_answer}” answers “{entry.question}”, "
                         "which asks the other way round: only the narrative answer was written", *notes]
            outcome.writes, outcome.notes = writes, notes
            if writes:
                outcome.status = "written"
                fills.append(fill)
            else:
                outcome.status = "not written"
        outcomes.append(outcome)
    output = write_answers(data, filename, fills)
    return AutofillReport(result.format, min_tier, outcomes, list(result.warnings), output)
