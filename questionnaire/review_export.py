"""A reviewed questionnaire going back into the customer's file: which
answers are written, what the export did with each question, and the review
summary (CSV) kept beside the filled copy."""
from __future__ import annotations

import csv
import io
from typing import Any

from ingest.cells import neutralise
from ingest.fill import ExportReport
from ingest.model import AnswerFill
from questionnaire.review_model import Questionnaire, ReviewQuestion


ANSWERED = ("accepted", "edited")


def answer_fills(questions: list[ReviewQuestion]) -> list[AnswerFill]:
    """What goes into the customer's file: accepted and edited answers only;
    blank, needs-expert and unreviewed questions stay empty."""
    return [
        AnswerFill(question=q.to_question(), short_answer=q.short_answer, narrative=q.narrative)
        for q in questions if _has_answer(q)
    ]


def _has_answer(q: ReviewQuestion) -> bool:
    return q.status in ANSWERED and bool(q.short_answer or q.narrative)


PENDING = ("pending", "needs_expert")
EXPORT_OUTCOMES = ("written", "kept", "skipped", "pending")


def export_outcomes(questions: list[ReviewQuestion], report: ExportReport) -> dict[str, Any]:
    """What an export did with every question, for the page after the export and
    the review summary: `report` is the writer's report for `answer_fills(questions)`.

    Each question is "written" (with where and what), "kept" (the file already
    held that answer, or its own answer stays because the review left the
    question blank), "skipped" (with why) or "pending" (not reviewed yet, or
    waiting for an expert). Returns {"written": n, "kept": n, "skipped": n,
    "pending": n, "cells_written": n, "questions": [...]} in file order.
    """
    from ingest.fill import where

    done = iter(report.questions)
    rows: list[dict[str, Any]] = []
    for q in questions:
        row: dict[str, Any] = {"id": q.id, "position": q.position, "label": q.label, "text": q.text,
                               "where": [], "notes": []}
        if _has_answer(q):  # answer_fills' order: one writer result each
            r = next(done)
            row.update(outcome=r.outcome, reason=r.reason, notes=list(r.notes),
                       where=[{"where": where(w.at), "value": w.value, "role": w.role} for w in r.changes])
        elif q.status == "pending":
            row.update(outcome="pending", reason="not reviewed yet")
        elif q.status == "needs_expert":
            row.update(outcome="pending", reason="waiting for an expert" + (f": {q.note}" if q.note else ""))
        elif q.existing_answer:
            row.update(outcome="kept", reason="left blank in the review; the answer already in the file stays")
        elif q.status == "blank":
            row.update(outcome="skipped", reason="left blank in the review")
        else:
            row.update(outcome="skipped", reason="the accepted answer is empty")
        rows.append(row)
    out: dict[str, Any] = {k: sum(1 for r in rows if r["outcome"] == k) for k in EXPORT_OUTCOMES}
    out["cells_written"] = report.cells_written
    out["questions"] = rows
    return out


SUMMARY_COLUMNS = ["position", "ref", "section", "question", "status", "answered_from", "entry_version",
                   "tier", "score", "short_answer", "answer", "note", "reviewed_by", "reviewed_at"]


def review_summary_csv(qn: Questionnaire, questions: list[ReviewQuestion], *, exported_by: str,
                       outcomes: dict[str, Any] | None = None) -> bytes:
    """The review summary, one table with its header on the first line: per
    question its status (the app's words: pending, accepted, edited,
    needs_expert, blank), what was answered from which entry, who reviewed,
    and (with `outcomes`, see export_outcomes) what the export did with it.
    Who exported and when is on the export's page. Cells that a spreadsheet
    would run as a formula are prefixed with an apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SUMMARY_COLUMNS + (["export", "export_detail"] if outcomes is not None else []))
    by_id = {r["id"]: r for r in outcomes["questions"]} if outcomes is not None else {}
    for q in questions:
        source = q.entry_ext_id or ""
        if q.status == "edited":
            source = f"edited (from {q.entry_ext_id})" if q.entry_ext_id else "written by reviewer"
        writer.writerow([_safe_cell(v) for v in (
            q.position, q.ref or "", q.section or "", q.text, q.status,
            source, q.entry_version or "", q.tier or "none", f"{q.score:.3f}" if q.score is not None else "",
            q.short_answer or "", q.narrative or "", q.note or "", q.reviewed_by or "", q.reviewed_at or "",
            *(_export_cells(by_id[q.id]) if q.id in by_id else ()),
        )])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _export_cells(row: dict[str, Any]) -> tuple[str, str]:
    if row["outcome"] == "written":
        detail = "; ".join(f"{w['where']}: {w['value']}" if w["value"] else f"{w['where']}: cleared" for w in row["where"])
        detail = "; ".join([detail, *row["notes"]])
    else:
        detail = "; ".join([row.get("reason") or "", *row["notes"]]).strip("; ")
    return row["outcome"], detail


def _safe_cell(value: Any) -> Any:
    return neutralise(value) if isinstance(value, str) else value
