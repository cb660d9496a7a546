"""Figures the trust team reads off the review records: per questionnaire, how
much aimsq answered by itself, how much people had to edit, how long it took
from upload to export; across questionnaires, the bank entries whose answers
reviewers edit most (the ones to rewrite).

Read-only queries over the review tables of `questionnaire.review_db`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from questionnaire.review import ReviewStore


@dataclass
class QuestionnaireFigures:
    id: str
    customer: str
    status: str
    uploaded_at: str
    exported_at: str | None
    total: int
    automatic: int  # the proposed answer accepted as it was
    picked: int  # an alternative the matcher offered
    edited: int  # a person rewrote the answer
    blank: int  # left blank or sent to an expert
    pending: int

    @property
    def share_automatic(self) -> float:
        return self.automatic / self.total if self.total else 0.0

    @property
    def share_edited(self) -> float:
        return self.edited / self.total if self.total else 0.0

    @property
    def hours_to_export(self) -> float | None:
        if not self.exported_at:
            return None
        delta = _parse(self.exported_at) - _parse(self.uploaded_at)
        return round(delta.total_seconds() / 3600, 2)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "customer": self.customer, "status": self.status, "total": self.total,
                "automatic": self.automatic, "picked": self.picked, "edited": self.edited, "blank": self.blank,
                "pending": self.pending, "share_automatic": round(self.share_automatic, 4),
                "share_edited": round(self.share_edited, 4), "uploaded_at": self.uploaded_at,
                "exported_at": self.exported_at, "hours_to_export": self.hours_to_export}


@dataclass
class EditedEntry:
    ext_id: str
    edits: int
    questionnaires: int
    last_edited_at: str | None


def questionnaire_figures(db: sqlite_utils.Database) -> list[QuestionnaireFigures]:
    """One row per questionnaire, newest upload first."""
    rows = ReviewStore(db).figure_rows()
    return [QuestionnaireFigures(*r) for r in rows]


def totals(figures: list[QuestionnaireFigures]) -> dict[str, Any]:
    """The same figures over all questionnaires (questions weighted equally)."""
    total = sum(f.total for f in figures)
    hours = sorted(h for f in figures if (h := f.hours_to_export) is not None)
    return {
        "questionnaires": len(figures), "questions": total,
        "share_automatic": sum(f.automatic for f in figures) / total if total else 0.0,
        "share_edited": sum(f.edited for f in figures) / total if total else 0.0,
        "median_hours_to_export": hours[len(hours) // 2] if hours else None,
    }


def most_edited_entries(db: sqlite_utils.Database, limit: int = 20) -> list[EditedEntry]:
    """Bank entries whose proposed answers reviewers rewrote, most edits first."""
    rows = ReviewStore(db).edited_entry_rows(limit)
    return [EditedEntry(*r) for r in rows]


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
