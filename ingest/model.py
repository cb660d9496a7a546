"""Plain dataclasses every ingest format returns and every writer takes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AnswerKind = Literal["yes_no_na", "choice", "text"]
FormatName = Literal["xlsx", "csv", "docx"]


@dataclass(frozen=True)
class Locator:
    """Where something goes in the customer's file.

    Exactly one shape is used, matching the `aimsq ingest --json` contract:
    - XLSX: sheet + cell ("C3")
    - DOCX table cell: table + row + col (python-docx `document.tables` index)
    - DOCX paragraph: paragraph (python-docx `document.paragraphs` index)
    - CSV: row (1-based, header is row 1) + column (header name)
    `marks` is for forms where the answer is a mark in one of several places
    (Yes / No columns, checkboxes): option text -> Locator of that place.
    """

    sheet: str | None = None
    cell: str | None = None
    table: int | None = None
    row: int | None = None
    col: int | None = None
    paragraph: int | None = None
    column: str | None = None
    marks: tuple[tuple[str, "Locator"], ...] | None = None
    insert_after: bool = False  # DOCX: no answer space; a paragraph is inserted after `paragraph`

    def to_json(self) -> dict[str, Any]:
        if self.sheet is not None:
            out: dict[str, Any] = {"sheet": self.sheet, "cell": self.cell}
        elif self.table is not None:
            out = {"table": self.table, "row": self.row, "col": self.col}
        elif self.paragraph is not None:
            out = {"paragraph": self.paragraph}
            if self.insert_after:
                out["insert_after"] = True
        else:
            out = {"row": self.row, "column": self.column}
        if self.marks:
            out["marks"] = {opt: loc.to_json() for opt, loc in self.marks}
        return out


@dataclass
class Question:
    """One question a vendor must answer, and where its answer goes."""

    text: str
    answer_at: Locator
    ref: str | None = None
    section: str | None = None
    answer_kind: AnswerKind = "text"
    options: list[str] | None = None
    comment_at: Locator | None = None
    existing_answer: str | None = None
    hidden: bool = False  # hidden sheet/row in the source: the reviewer is told
    notes: list[str] = field(default_factory=list)
    existing_comment: str | None = None  # what the comment cell already holds (completed files)
    # None: the answer can be written at answer_at. Otherwise why not, in plain words
    # (the answer cell is a formula Excel computes); writers must leave such a question alone.
    not_writable: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "section": self.section,
            "text": self.text,
            "answer_kind": self.answer_kind,
            "options": self.options,
            "answer_at": self.answer_at.to_json(),
            "comment_at": self.comment_at.to_json() if self.comment_at else None,
            "existing_answer": self.existing_answer,
            "existing_comment": self.existing_comment,
            "hidden": self.hidden,
            "not_writable": self.not_writable,
        }


@dataclass
class IngestHints:
    """A person's corrections when the layout is ambiguous (CLI flags / review app)."""

    sheet: str | None = None
    question_col: str | None = None  # column letter ("B") or header text
    answer_col: str | None = None
    comment_col: str | None = None
    # Read exactly these sheets (the review app's sheet choice); `sheet` adds one more
    sheets: list[str] | None = None


@dataclass
class IngestResult:
    format: FormatName
    questions: list[Question]
    warnings: list[str] = field(default_factory=list)
    # What was detected, for the person to check (sheets used, columns, ...)
    layout: dict[str, Any] = field(default_factory=dict)
    kind: str = "questionnaire"  # or "standard" when the document is not a questionnaire
    # Sheets (XLSX) that were not read for questions, each with the reason in plain words
    skipped_sheets: list["SkippedSheet"] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "questions": [q.to_json() for q in self.questions],
            "warnings": list(self.warnings),
            "skipped_sheets": [s.to_json() for s in self.skipped_sheets],
        }


@dataclass(frozen=True)
class SkippedSheet:
    """A sheet that holds no answers for the vendor to give, and why."""

    sheet: str
    reason: str
    questions: int = 0  # question-like rows it holds (a person may still choose to read it)

    def to_json(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "reason": self.reason, "questions": self.questions}


@dataclass
class AnswerFill:
    """What to write for one question: the short answer goes in answer_at
    (an option the form accepts), the narrative in comment_at when the form
    has one, else in answer_at."""

    question: Question
    short_answer: str | None
    narrative: str | None
