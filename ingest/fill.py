"""What to write where for one AnswerFill, whatever the format.

The policy, in one place:
- a dropdown (options known): the answer cell gets exactly one of the
  options, the one that spells the short answer (Yes -> "Yes", "Y", "Sí",
  "1) Yes"; N/A -> "NA", "N/A", "Not Applicable"; ...). When no option fits,
  the answer cell is left as it is and a note says why;
- a Yes/No question without a dropdown: the short answer as "Yes", "No",
  "N/A" or "Partial", or the spelling the column already uses;
- the narrative goes in the comment cell when the form has one; otherwise a
  free-text answer cell gets "<short answer>. <narrative>", and a dropdown
  cell gets only the option (the narrative is reported as not written);
- a free-text question with a comment column: the short answer (if any) in
  the answer cell and the narrative in the comment cell; with no short
  answer the narrative goes in the answer cell.
- Yes/No mark columns (DOCX `marks`): "X" in the place of the chosen option.

Neutralising formula-like text is the writer's job (XLSX writes inline
strings, CSV prefixes a quote), not this module's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ingest.model import AnswerFill, Locator, Question
from ingest.vocabulary import norm, short_answer_family

CANONICAL = {"yes": "Yes", "no": "No", "n/a": "N/A", "partial": "Partial"}


@dataclass
class PlannedWrite:
    at: Locator
    value: str
    role: str  # "answer" | "comment" | "mark" | "clear"
    option: str | None = None  # a mark: the option chosen (several options can share one place)

    def to_json(self) -> dict:
        return {"at": self.at.to_json(), "value": self.value, "role": self.role}


def match_option(short_answer: str | None, options: list[str] | None) -> str | None:
    """The option of a dropdown that spells `short_answer`, or None.

    Exact text first (case-insensitive), then the same Yes/No/N/A/Partial
    family in any spelling, preferring the plainest option ("Yes" over
    "Yes, with exceptions").
    """
    if not short_answer or not options:
        return None
    want = norm(short_answer)
    for opt in options:
        if norm(opt) == want:
            return opt
    family = short_answer_family(short_answer)
    if family is None:
        return None
    same = [opt for opt in options if short_answer_family(opt) == family]
    if not same:
        return None
    return min(same, key=lambda o: (len(norm(o)), options.index(o)))


def cleared_marks(q: Question, planned: list[PlannedWrite], is_marked: Callable[[Locator], bool]) -> list[PlannedWrite]:
    """Marking one option clears a mark already in another place of the same
    question; `is_marked` says whether the file holds a mark at a place."""
    chosen = {w.at for w in planned if w.role == "mark"}
    if not chosen or not q.answer_at.marks:
        return []
    return [PlannedWrite(loc, "", "clear") for _, loc in q.answer_at.marks if loc not in chosen and is_marked(loc)]


def combine(short: str | None, narrative: str | None) -> str | None:
    """One text for a single free-text cell: "Yes. We encrypt ..."."""
    short = short.strip() if short and short.strip() else None
    narrative = narrative if narrative and narrative.strip() else None
    if not narrative:
        return short
    if not short:
        return narrative
    if norm(narrative).startswith(norm(short)):
        return narrative
    return f"{short}. {narrative}"


def plan_fill(fill: AnswerFill, column_spelling: dict[str, str] | None = None) -> tuple[list[PlannedWrite], list[str]]:
    """(writes, notes) for one fill. `column_spelling` maps a Yes/No family to the
    spelling already used in the answer column ("yes" -> "Y")."""
    q = fill.question
    # blank means absent; otherwise the text is written as the bank holds it
    short = fill.short_answer.strip() if fill.short_answer and fill.short_answer.strip() else None
    narrative = fill.narrative if fill.narrative and fill.narrative.strip() else None
    writes: list[PlannedWrite] = []
    notes: list[str] = []
    if q.answer_at.marks:
        chosen = None
        labels = [label for label, _ in q.answer_at.marks]
        label = match_option(short, labels) if short else None
        for opt, loc in q.answer_at.marks:
            if opt == label:
                chosen = loc
        if chosen is not None:
            writes.append(PlannedWrite(chosen, "X", "mark", option=label))
        elif short:
            notes.append(f"no place to mark {short!r} (the form offers {', '.join(labels)})")
        if narrative and q.comment_at is not None:
            writes.append(PlannedWrite(q.comment_at, narrative, "comment"))
        return writes, notes

    if q.options:
        option = match_option(short, q.options)
        if option is not None:
            writes.append(PlannedWrite(q.answer_at, option, "answer"))
        elif short:
            notes.append(
                f"the dropdown has no option for {short!r} (options: {', '.join(q.options)}); "
                "the answer cell was left as it is"
            )
        if narrative:
            if q.comment_at is not None:
                writes.append(PlannedWrite(q.comment_at, narrative, "comment"))
            elif option is None:
                notes.append("the answer cell is a dropdown and the form has no comment column; the narrative was not written")
            else:
                notes.append("the form has no comment column; only the dropdown option was written")
        return writes, notes

    if short and q.answer_kind == "yes_no_na":
        family = short_answer_family(short)
        if family:
            short = (column_spelling or {}).get(family) or CANONICAL[family]
    if q.comment_at is not None:
        if short:
            writes.append(PlannedWrite(q.answer_at, short, "answer"))
            if narrative:
                writes.append(PlannedWrite(q.comment_at, narrative, "comment"))
        elif narrative:
            target = q.comment_at if q.answer_kind == "yes_no_na" else q.answer_at
            writes.append(PlannedWrite(target, narrative, "comment" if target is q.comment_at else "answer"))
        return writes, notes
    text = combine(short, narrative)
    if text:
        writes.append(PlannedWrite(q.answer_at, text, "answer"))
    return writes, notes


# ---- what an export did -----------------------------------------------------------------

OUTCOMES = ("written", "kept", "skipped")
SAME_VALUE = "the file already holds this answer"


def where(loc: Locator) -> str:
    """A place in the customer's file, as a person reads it: "Sheet1!C3",
    "table 2, row 4, column 3", "paragraph 17", "row 5, column 'Answer'"."""
    if loc.sheet is not None:
        return f"{loc.sheet}!{loc.cell}"
    if loc.table is not None:
        return f"table {loc.table + 1}, row {(loc.row or 0) + 1}, column {(loc.col or 0) + 1}"
    if loc.paragraph is not None:
        return f"after paragraph {loc.paragraph + 1}" if loc.insert_after else f"paragraph {loc.paragraph + 1}"
    return f"row {loc.row}, column {loc.column!r}" if loc.column else f"row {loc.row}, column {(loc.col or 0) + 1}"


@dataclass
class QuestionExport:
    """What an export did with one question.

    `outcome` is "written" (at least one cell of the file changed: `changes`),
    "kept" (the file already holds exactly this answer; nothing changed) or
    "skipped" (nothing written; `reason` says why). `notes` name the parts of
    a written answer that could not go in (a short answer the dropdown does
    not allow while the narrative went in the comment cell, ...)."""

    question: Question
    outcome: str
    reason: str | None = None
    changes: list[PlannedWrite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "ref": self.question.ref,
            "text": self.question.text,
            "outcome": self.outcome,
            "reason": self.reason,
            "changes": [dict(w.to_json(), where=where(w.at)) for w in self.changes],
            "notes": list(self.notes),
        }


@dataclass
class ExportReport:
    """One QuestionExport per question the writer was given, in order.
    `cells_written` is the number of places of the file that changed."""

    questions: list[QuestionExport] = field(default_factory=list)

    def _of(self, outcome: str) -> list[QuestionExport]:
        return [q for q in self.questions if q.outcome == outcome]

    @property
    def written(self) -> list[QuestionExport]:
        return self._of("written")

    @property
    def kept(self) -> list[QuestionExport]:
        return self._of("kept")

    @property
    def skipped(self) -> list[QuestionExport]:
        return self._of("skipped")

    @property
    def cells_written(self) -> int:
        return sum(len(q.changes) for q in self.questions)

    def to_json(self) -> dict:
        return {
            "written": len(self.written), "kept": len(self.kept), "skipped": len(self.skipped),
            "cells_written": self.cells_written, "questions": [q.to_json() for q in self.questions],
        }


def plan_export(fill: AnswerFill) -> tuple[list[PlannedWrite], list[str], str | None]:
    """(writes, notes, refusal) for one fill: plan_fill's writes, or none and the
    reason when the question's place cannot take an answer."""
    reason = getattr(fill.question, "not_writable", None)
    if reason:
        return [], [], reason
    writes, notes = plan_fill(fill)
    return writes, notes, None


class ExportTally:
    """Collects, per fill, which planned writes changed the file, which found the
    same value already there and which were refused (with a reason), and turns
    that into the QuestionExport. Every writer uses it, so the rules for
    written / kept / skipped are the same for XLSX, CSV and DOCX."""

    def __init__(self, fill: AnswerFill, notes: list[str], refusal: str | None = None):
        self.fill = fill
        self.notes = list(notes)
        self.refusal = refusal
        self.changed: list[PlannedWrite] = []
        self.same: list[PlannedWrite] = []
        self.refused: list[tuple[PlannedWrite, str]] = []

    def refuse(self, write: PlannedWrite, reason: str) -> None:
        self.refused.append((write, reason))

    def result(self) -> QuestionExport:
        q = self.fill.question
        refused = [f"{where(w.at)}: {why}" for w, why in self.refused]
        if self.changed:
            return QuestionExport(q, "written", None, list(self.changed), refused + self.notes)
        if self.same:
            return QuestionExport(q, "kept", SAME_VALUE, [], refused + self.notes)
        reasons = ([self.refusal] if self.refusal else []) + refused + self.notes
        return QuestionExport(q, "skipped", "; ".join(reasons) or "there was nothing to write", [], [])
