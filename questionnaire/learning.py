"""Learning from review: what reviewers decide goes back to the bank.

- An accepted match records the customer's wording as a learned variant of
  that entry, so the next questionnaire asking it that way matches better.
  A bulk accept records all of its wordings in ONE transaction.
- When a question stops being accepted from an entry (undo, or another
  decision replacing the accept), the wording it taught that entry is removed
  again, unless another accepted review still relies on the same wording for
  the same entry. A learned wording thus exists while some accepted review
  vouches for it.
- An edited answer becomes a draft bank entry (source: the questionnaire)
  that an approver can approve; it is never used to answer until then.

Learning writes through `Bank.add_learned_variants`: an `entry_variants`
row with origin 'review', an `audit_log` row per entry ('learn_variant', or
'unlearn_variant' for a removal here, the wording as detail) and one bump of
the bank revision per transaction, so running matchers re-index.
"""
from __future__ import annotations

import logging
from typing import Iterable

from answer_bank.model import BankEntry
from answer_bank.store import Bank, BankError, EntryNotFound
from questionnaire.review import Questionnaire, ReviewQuestion, ReviewStore

log = logging.getLogger(__name__)


def draft_entry_id(qn: Questionnaire, q: ReviewQuestion) -> str:
    """The id of the draft entry an edit of this question becomes (stable, so
    editing the same question again updates the same draft)."""
    return f"draft-{qn.id[:8]}-{q.position}"


def wording(text: str | None) -> str:
    """A customer's wording as the bank stores it (whitespace collapsed)."""
    return " ".join((text or "").split())


def learn_variants(bank: Bank, pairs: Iterable[tuple[str, str]], *, user: str,
                   asked: Iterable[ReviewQuestion] = ()) -> list[tuple[str, str]]:
    """Record accepted (entry ext id, customer wording) pairs as learned
    variants in ONE transaction (`Bank.add_learned_variants`): a wording the
    entry already knows and an entry that no longer exists are skipped.
    `asked`: the review questions the wordings come from; each wording keeps
    where it was asked (questionnaire, ref, section), so the next copy of the
    questionnaire tells apart questions worded alike. Returns what was added."""
    origins = {(q.entry_ext_id, wording(q.text)): (f"questionnaire {q.questionnaire_id}", q.ref, q.section)
               for q in asked if q.entry_ext_id}
    return bank.add_learned_variants(pairs, user=user, origins=origins)


def _still_relied_on(bank: Bank, ext_id: str, text: str) -> bool:
    """Does an accepted review question answered from `ext_id` ask it in these words?"""
    return any(wording(t) == text for t in ReviewStore(bank.db).accepted_texts(ext_id))


def forget_variants(bank: Bank, pairs: Iterable[tuple[str, str]], *, user: str) -> list[tuple[str, str]]:
    """Remove learned (entry ext id, wording) variants that no accepted review
    relies on any more, in ONE transaction (`Bank.remove_learned_variants`).
    Curated variants and the question are never touched. Call after the
    review change that stopped the reliance was saved. Returns what was removed."""
    return bank.remove_learned_variants(pairs, user=user, keep=lambda ext_id, text: _still_relied_on(bank, ext_id, text))


def _accepted_from(q: ReviewQuestion | None) -> str | None:
    return q.entry_ext_id if q is not None and q.status == "accepted" and q.entry_ext_id else None


def learn_accepted(bank: Bank, questions: Iterable[ReviewQuestion], *, user: str,
                   taught: list[tuple[str, str]] | None = None) -> int:
    """Feed a batch of accepted questions (a bulk accept) back to the bank in
    one transaction. Returns the number of new wordings; `taught`, when
    given, receives the (entry, wording) pairs added. Bank errors are
    logged, not raised: the reviews themselves are already saved."""
    accepted = [q for q in questions if _accepted_from(q)]
    pairs = [(q.entry_ext_id, q.text) for q in accepted]
    try:
        added = learn_variants(bank, pairs, user=user, asked=accepted)
    except BankError as e:
        log.warning("learning from %d accepted questions failed: %s", len(pairs), e)
        return 0
    if taught is not None:
        taught.extend(added)
    return len(added)


def learn(bank: Bank, qn: Questionnaire, q: ReviewQuestion, *, user: str,
          before: ReviewQuestion | None = None, taught: list[tuple[str, str]] | None = None) -> str | None:
    """Feed one reviewed question back to the bank. `before` is the question
    as it was before this review action: when it was accepted from an entry
    and no longer is, the wording it taught that entry is removed (if no other
    accepted review relies on it). Returns what was learned or removed (for
    the flash message), or None; `taught`, when given, receives the
    (entry ext id, wording) pairs added (for the page's undo). Bank errors are logged, not raised: the
    review itself is already saved."""
    messages = []
    try:
        was, now = _accepted_from(before), _accepted_from(q)
        if was and was != now:
            if forget_variants(bank, [(was, before.text)], user=user):
                messages.append(f"the wording was removed from {was}")
        if now:
            added = learn_variants(bank, [(now, q.text)], user=user, asked=[q])
            if added:
                messages.append(f"the wording was added to {now}")
                if taught is not None:
                    taught.extend(added)
        elif q.status == "edited" and q.draft_entry:
            saved = _save_draft(bank, qn, q, user=user)
            if saved:
                messages.append(saved)
    except BankError as e:
        log.warning("learning from question %s of %s failed: %s", q.id, qn.id, e)
    return "; ".join(messages) or None


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


def learned_wordings(bank: Bank, ext_id: str) -> list[dict]:
    """An entry's learned wordings for its page: the wording, who taught it
    and when, and the questionnaires whose accepted questions ask it that way
    (customer, file, question label, questionnaire id). Oldest first."""
    out = [{"text": text, "at": at, "by": by, "questionnaires": []} for text, at, by in bank.learned_variants(ext_id)]
    if not out:
        return out
    by_text = {o["text"]: o for o in out}
    try:
        asked = ReviewStore(bank.db).accepted_sources(ext_id)
    except Exception:  # noqa: BLE001 - a bank without the review tables (CLI use): no sources to show
        asked = []
    for text, ref, position, qn_id, customer, filename in asked:
        hit = by_text.get(wording(text))
        if hit is not None:
            hit["questionnaires"].append({"id": qn_id, "customer": customer, "filename": filename,
                                          "label": ref or f"#{position}"})
    return out


def remove_wording(bank: Bank, ext_id: str, text: str, *, user: str) -> bool:
    """A person removes a learned wording from an entry (entry page, or the
    review's "undo the learning"): an 'unlearn_variant' audit row, a revision
    bump. The accepted answers stay. Returns False when it was not there."""
    return bool(bank.remove_learned_variants([(ext_id, text)], user=user))
