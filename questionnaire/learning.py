"""Learning from review: what reviewers decide goes back to the bank.

- An accepted match records the customer's wording as a learned variant of
  that entry, so the next questionnaire asking it that way matches better.
- An edited answer becomes a draft bank entry (source: the questionnaire)
  that an approver can approve; it is never used to answer until then.
"""
from __future__ import annotations

import logging

from answer_bank.model import BankEntry
from answer_bank.store import Bank, BankError, EntryNotFound
from questionnaire.review import Questionnaire, ReviewQuestion

log = logging.getLogger(__name__)


def draft_entry_id(qn: Questionnaire, q: ReviewQuestion) -> str:
    """The id of the draft entry an edit of this question becomes (stable, so
    editing the same question again updates the same draft)."""
    return f"draft-{qn.id[:8]}-{q.position}"


def learn(bank: Bank, qn: Questionnaire, q: ReviewQuestion, *, user: str) -> str | None:
    """Feed one reviewed question back to the bank. Returns what was learned
    (for the flash message), or None. Bank errors are logged, not raised: the
    review itself is already saved."""
    try:
        if q.status == "accepted" and q.entry_ext_id:
            if bank.add_learned_variant(q.entry_ext_id, q.text, user=user):
                return f"the wording was added to {q.entry_ext_id}"
            return None
        if q.status == "edited" and q.draft_entry:
            return _save_draft(bank, qn, q, user=user)
    except BankError as e:
        log.warning("learning from question %s of %s failed: %s", q.id, qn.id, e)
    return None


def _save_draft(bank: Bank, qn: Questionnaire, q: ReviewQuestion, *, user: str) -> str | None:
    try:
        existing = bank.get_entry(q.draft_entry)
    except EntryNotFound:
        existing = None
    if existing is not None and existing.status != "draft":
        return None  # an approver already took an earlier edit; leave it
    base = None
    if q.entry_ext_id:
        try:
            base = bank.get_entry(q.entry_ext_id)
        except EntryNotFound:
            base = None
    draft = BankEntry(
        ext_id=q.draft_entry,
        question=q.text,
        answer=q.narrative or q.short_answer or "",
        short_answer=q.short_answer,
        evidence=list(base.evidence) if base else [],
        frameworks=list(base.frameworks) if base else [],
        tags=list(base.tags) if base else [],
        owner=base.owner if base else None,
        status="draft",
        source=f"questionnaire {qn.customer} ({qn.filename}, {qn.id[:8]}) question {q.label}"
        + (f", edited from {base.ext_id}" if base else ""),
    )
    bank.save_entry(draft, user=user, expected_version=existing.version if existing else None,
                    note="edited in review")
    return f"the edited answer was saved as draft entry {draft.ext_id} for an approver"
