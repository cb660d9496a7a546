"""Review cycles: when each approved entry must be looked at again.

An entry's review-by date is its own when it has one. Otherwise it follows
the rules: a period per tag or per owner (the strictest that applies wins),
else the bank's `review_days` setting (365 by default), counted from the
entry's last approval. Approving an entry, or confirming it as reviewed,
writes the next date into the entry itself, so the matcher's overdue rule
(never the high tier) sees it.
"""
from __future__ import annotations

import copy
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from answer_bank import curation_db
from answer_bank.curation_db import DEFAULT_REVIEW_DAYS, ensure_schema, get_setting
from answer_bank.db import transaction
from answer_bank.model import BankEntry
from answer_bank.store import Bank, BankError, utcnow

SCOPES = ("tag", "owner")
DUE_WITHIN_DAYS = 30


class ReviewRuleError(BankError):
    pass


@dataclass(frozen=True)
class ReviewRule:
    scope: str  # tag | owner
    name: str
    days: int

    def applies_to(self, entry: BankEntry) -> bool:
        if self.scope == "owner":
            return (entry.owner or "").casefold() == self.name.casefold()
        return any(t.casefold() == self.name.casefold() for t in entry.tags)

    def describe(self) -> str:
        return f"{self.scope} {self.name}: every {self.days} days"


@dataclass
class DueItem:
    entry: BankEntry
    review_by: dt.date
    days_left: int  # negative when overdue
    scheduled_by: str  # "entry" (its own date) or the rule that set it

    @property
    def state(self) -> str:
        return "overdue" if self.days_left < 0 else "due"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.entry.ext_id, "question": self.entry.question, "owner": self.entry.owner,
                "review_by": self.review_by.isoformat(), "days_left": self.days_left,
                "state": self.state, "scheduled_by": self.scheduled_by}


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


# ---- rules ----------------------------------------------------------------


def review_rules(bank: Bank) -> list[ReviewRule]:
    return [ReviewRule(*r) for r in curation_db.review_rule_rows(bank.db)]


def set_review_rule(bank: Bank, scope: str, name: str, days: int | None, *, user: str) -> None:
    """Set (or with days=None remove) the review period for a tag or an owner.
    Raises ReviewRuleError."""
    name = " ".join((name or "").split())
    if scope not in SCOPES:
        raise ReviewRuleError(f"a review rule is per tag or per owner, not {scope!r}")
    if not name:
        raise ReviewRuleError(f"name the {scope} the rule is for")
    if days is not None and not (0 < days <= 3660):
        raise ReviewRuleError(f"a review period is 1 to 3660 days, not {days}")
    ensure_schema(bank.db)
    with transaction(bank.db):
        if days is None:
            if not curation_db.delete_review_rule(bank.db, scope, name):
                raise ReviewRuleError(f"there is no review rule for {scope} {name!r}")
            detail = f"{scope} {name}: removed"
        else:
            curation_db.put_review_rule(bank.db, scope, name, days, user=user, at=utcnow())
            detail = f"{scope} {name}: every {days} days"
        bank.record_event(user, "review_rule", detail=detail)


def default_days(bank: Bank) -> int:
    return int(get_setting(bank, "review_days") or DEFAULT_REVIEW_DAYS)


def period_for(entry: BankEntry, rules: list[ReviewRule], fallback_days: int) -> tuple[int, str]:
    """(days, which rule): the strictest rule that applies, else the bank default."""
    applicable = [r for r in rules if r.applies_to(entry)]
    if not applicable:
        return fallback_days, f"default: every {fallback_days} days"
    rule = min(applicable, key=lambda r: (r.days, r.scope, r.name))
    return rule.days, rule.describe()


def next_review_by(bank: Bank, entry: BankEntry, today: dt.date | None = None) -> str:
    """The review-by date an approval gives `entry`: a future date it already
    has is kept; otherwise today plus its period."""
    return review_by_on_approval(entry, review_rules(bank), default_days(bank), today)


def review_by_on_approval(entry: BankEntry, rules: list[ReviewRule], fallback_days: int,
                          today: dt.date | None = None) -> str:
    """`next_review_by` with the rules already read (one read for many entries)."""
    today = today or today_utc()
    current = _parse(entry.review_by)
    if current and current > today:
        return current.isoformat()
    days, _ = period_for(entry, rules, fallback_days)
    return (today + dt.timedelta(days=days)).isoformat()


def effective_review_by(entry: BankEntry, rules: list[ReviewRule], fallback_days: int) -> tuple[dt.date | None, str]:
    """The date an entry is due for review and what set it."""
    own = _parse(entry.review_by)
    if own:
        return own, "entry"
    start = _parse((entry.approved_at or entry.updated_at or "")[:10])
    if start is None:
        return None, "no date"
    days, why = period_for(entry, rules, fallback_days)
    return start + dt.timedelta(days=days), why


# ---- what is due ----------------------------------------------------------


def due_entries(bank: Bank, within_days: int = DUE_WITHIN_DAYS, today: dt.date | None = None) -> list[DueItem]:
    """Approved entries overdue or due within `within_days`, by owner then date."""
    today = today or today_utc()
    rules, fallback = review_rules(bank), default_days(bank)
    items = []
    for entry in bank.list_entries(status="approved"):
        when, why = effective_review_by(entry, rules, fallback)
        if when is None:
            continue
        left = (when - today).days
        if left <= within_days:
            items.append(DueItem(entry, when, left, why))
    items.sort(key=lambda i: ((i.entry.owner or "").casefold(), i.review_by, i.entry.ext_id))
    return items


def due_by_owner(items: list[DueItem]) -> dict[str, list[DueItem]]:
    grouped: dict[str, list[DueItem]] = defaultdict(list)
    for item in items:
        grouped[item.entry.owner or "(no owner)"].append(item)
    return dict(grouped)


def due_json(items: list[DueItem], within_days: int, today: dt.date | None = None) -> dict[str, Any]:
    today = today or today_utc()
    return {
        "today": today.isoformat(), "within_days": within_days,
        "overdue": sum(1 for i in items if i.state == "overdue"),
        "due": sum(1 for i in items if i.state == "due"),
        "owners": [{"owner": owner, "entries": [i.to_json() for i in group]}
                   for owner, group in due_by_owner(items).items()],
    }


# ---- writes -----------------------------------------------------------------


def mark_reviewed(bank: Bank, ext_id: str, *, user: str, expected_version: int | None = None,
                  today: dt.date | None = None) -> BankEntry:
    """Confirm an approved entry is still right: its next review-by date is
    today plus its period (a new version). Raises EntryNotFound, VersionConflict,
    ReviewRuleError."""
    today = today or today_utc()
    ensure_schema(bank.db)
    with transaction(bank.db):
        existing = bank.entry_for_update(ext_id, expected_version)
        if existing.status != "approved":
            raise ReviewRuleError(f"{ext_id} is {existing.status}; only approved entries have review cycles")
        days, why = period_for(existing, review_rules(bank), default_days(bank))
        entry = copy.deepcopy(existing)
        entry.review_by = (today + dt.timedelta(days=days)).isoformat()
        if entry.content() == existing.content():
            return existing
        bank.write_version(existing, entry, user, utcnow(), note=f"reviewed; next review {entry.review_by} ({why})")
        bank.bump_revision()
    return bank.get_entry(ext_id)


def schedule_reviews(bank: Bank, *, user: str) -> list[str]:
    """Write the rule-derived review-by date into every approved entry that has
    none, in one transaction, so the matcher sees it. Returns the entries changed."""
    ensure_schema(bank.db)
    changed = []
    with transaction(bank.db):
        # Read inside the write transaction: the dates come from the rules as committed.
        rules, fallback = review_rules(bank), default_days(bank)
        now = utcnow()
        for existing in bank.list_entries(status="approved"):
            if existing.review_by:
                continue
            when, why = effective_review_by(existing, rules, fallback)
            if when is None:
                continue
            entry = copy.deepcopy(existing)
            entry.review_by = when.isoformat()
            bank.write_version(existing, entry, user, now, note=f"review scheduled ({why})")
            changed.append(existing.ext_id)
        if changed:
            bank.bump_revision()
    return changed


def _parse(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
