"""What a bank entry is."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

SHORT_ANSWERS = ("Yes", "No", "N/A", "Partial")
STATUSES = ("draft", "approved", "retired")
# Everything a person curates; versions and change detection compare these.
CONTENT_FIELDS = (
    "question", "answer", "short_answer", "variants", "evidence", "frameworks",
    "tags", "owner", "status", "review_by", "source", "retired_reason",
)


@dataclass(frozen=True)
class Evidence:
    title: str
    ref: str | None = None

    def to_text(self) -> str:
        return f"{self.title}|{self.ref}" if self.ref else self.title


@dataclass
class BankEntry:
    ext_id: str
    question: str
    answer: str
    short_answer: str | None = None
    variants: list[str] = field(default_factory=list)  # curated phrasings
    learned_variants: list[str] = field(default_factory=list)  # customer wordings from accepted reviews
    evidence: list[Evidence] = field(default_factory=list)
    frameworks: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    owner: str | None = None
    status: str = "draft"
    review_by: str | None = None  # ISO date
    source: str | None = None
    retired_reason: str | None = None
    version: int = 1
    id: int | None = None  # database row id
    created_at: str | None = None
    created_by: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    approved_at: str | None = None
    approved_by: str | None = None
    # Where the entry came from when it was imported from a questionnaire:
    # questionnaire family (the file it was read from), the question's ref and
    # section. Not curated content (no new version when only these change).
    origin_family: str | None = None
    origin_ref: str | None = None
    origin_section: str | None = None
    # (family, ref, section) of each learned wording that has one, by wording.
    learned_origins: dict[str, tuple[str | None, str | None, str | None]] = field(
        default_factory=dict, compare=False, repr=False)
    # False when an imported row had no status: an existing entry keeps its own.
    status_given: bool = field(default=True, compare=False, repr=False)

    def is_overdue(self, today: dt.date | None = None) -> bool:
        if not self.review_by:
            return False
        today = today or dt.datetime.now(dt.timezone.utc).date()
        try:
            return dt.date.fromisoformat(self.review_by) < today
        except ValueError:
            return False

    def content(self) -> dict[str, Any]:
        """The curated content, as stored in a version snapshot."""
        data = asdict(self)
        out = {k: data[k] for k in CONTENT_FIELDS}
        out["evidence"] = [asdict(e) for e in self.evidence]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The export / JSON shape (same keys the importer reads)."""
        out = {"id": self.ext_id}
        out.update(self.content())
        out["version"] = self.version
        out["updated_at"] = self.updated_at
        out["updated_by"] = self.updated_by
        return out

    @property
    def texts(self) -> list[str]:
        """What the matcher compares a question with: canonical first."""
        seen: list[str] = []
        for t in [self.question, *self.variants, *self.learned_variants]:
            if t and t not in seen:
                seen.append(t)
        return seen
