"""answer_bank.review_cycle: review periods per tag / owner, what is due, by owner."""
from __future__ import annotations

import datetime as dt

import pytest

from answer_bank.curation import approve
from answer_bank.curation_db import SettingError, set_setting
from answer_bank.model import BankEntry
from answer_bank.review_cycle import (
    ReviewRule, ReviewRuleError, due_by_owner, due_entries, due_json, mark_reviewed, next_review_by,
    period_for, review_rules, schedule_reviews, set_review_rule,
)

TODAY = dt.date(2026, 6, 1)


def entry(ext_id, review_by=None, owner="security", tags=("security",), status="approved"):
    return BankEntry(ext_id, f"Question {ext_id}?", "Yes.", short_answer="Yes", status=status,
                     review_by=review_by, owner=owner, tags=list(tags))


def test_the_strictest_applicable_rule_wins():
    rules = [ReviewRule("tag", "security", 180), ReviewRule("owner", "legal", 90), ReviewRule("tag", "ai", 365)]
    assert period_for(entry("A", owner="legal"), rules, 365) == (90, "owner legal: every 90 days")
    assert period_for(entry("B", tags=["AI", "security"]), rules, 365)[0] == 180
    assert period_for(entry("C", owner="sales", tags=[]), rules, 400) == (400, "default: every 400 days")


@pytest.mark.parametrize("scope, name, days, message", [
    ("team", "x", 30, "per tag or per owner"),
    ("tag", "  ", 30, "name the tag"),
    ("tag", "security", 0, "1 to 3660 days"),
    ("owner", "legal", 99999, "1 to 3660 days"),
])
def test_bad_rules_are_refused(bank, scope, name, days, message):
    with pytest.raises(ReviewRuleError, match=message):
        set_review_rule(bank, scope, name, days, user="ana")
    assert review_rules(bank) == []


def test_rules_are_set_replaced_removed_and_audited(bank):
    set_review_rule(bank, "tag", "security", 180, user="ana")
    set_review_rule(bank, "tag", "security", 90, user="ana")
    set_review_rule(bank, "owner", "legal", 60, user="bo")
    assert review_rules(bank) == [ReviewRule("owner", "legal", 60), ReviewRule("tag", "security", 90)]
    set_review_rule(bank, "owner", "legal", None, user="bo")
    assert review_rules(bank) == [ReviewRule("tag", "security", 90)]
    with pytest.raises(ReviewRuleError, match="no review rule"):
        set_review_rule(bank, "owner", "legal", None, user="bo")
    assert [a["action"] for a in bank.audit()][:4] == ["review_rule"] * 4


def test_the_bank_default_period_is_a_setting(bank):
    set_setting(bank, "review_days", "200", user="ana")
    assert next_review_by(bank, entry("A", owner="x", tags=[]), today=TODAY) == "2026-12-18"
    with pytest.raises(SettingError):
        set_setting(bank, "review_days", "soon", user="ana")
    with pytest.raises(SettingError, match="unknown setting"):
        set_setting(bank, "colour", "red", user="ana")


def test_due_lists_overdue_and_due_within_30_days_by_owner(bank):
    bank.import_entries([
        entry("OVER", review_by="2026-05-01", owner="legal"),
        entry("SOON", review_by="2026-06-20", owner="security"),
        entry("LATER", review_by="2026-09-01", owner="security"),
        entry("DRAFT", review_by="2020-01-01", status="draft"),  # drafts do not answer: not listed
        entry("NOOWNER", review_by="2026-06-02", owner=None),
    ], user="ana", keep_status=True)
    items = due_entries(bank, today=TODAY)
    assert [(i.entry.ext_id, i.state, i.days_left) for i in items] == [
        ("NOOWNER", "due", 1), ("OVER", "overdue", -31), ("SOON", "due", 19)]
    grouped = due_by_owner(items)
    assert list(grouped) == ["(no owner)", "legal", "security"]
    payload = due_json(items, 30, today=TODAY)
    assert (payload["overdue"], payload["due"]) == (1, 2)
    assert payload["owners"][1] == {"owner": "legal", "entries": [{
        "id": "OVER", "question": "Question OVER?", "owner": "legal", "review_by": "2026-05-01",
        "days_left": -31, "state": "overdue", "scheduled_by": "entry"}]}
    assert [i.entry.ext_id for i in due_entries(bank, within_days=120, today=TODAY)][-1] == "LATER"


def test_an_entry_without_a_date_follows_its_rule_from_its_last_approval(bank):
    bank.import_entries([entry("NODATE")], user="ana", approve=True)
    approved_on = dt.date.fromisoformat(bank.get_entry("NODATE").approved_at[:10])
    set_review_rule(bank, "tag", "security", 10, user="ana")
    [item] = due_entries(bank, today=approved_on)
    assert item.review_by == approved_on + dt.timedelta(days=10)
    assert item.scheduled_by == "tag security: every 10 days"
    # Writing the date into the entry lets the matcher see it (never high when overdue).
    assert schedule_reviews(bank, user="ana") == ["NODATE"]
    assert bank.get_entry("NODATE").review_by == (approved_on + dt.timedelta(days=10)).isoformat()
    assert schedule_reviews(bank, user="ana") == []


def test_approval_and_review_confirmation_start_the_next_cycle(bank):
    set_review_rule(bank, "owner", "legal", 90, user="ana")
    bank.save_entry(entry("E", review_by="2020-01-01", owner="legal", status="draft"), user="ana")
    approved = approve(bank, "E", user="bo")
    today = dt.datetime.now(dt.timezone.utc).date()
    assert approved.review_by == (today + dt.timedelta(days=90)).isoformat()
    reviewed = mark_reviewed(bank, "E", user="cy", today=today + dt.timedelta(days=80))
    assert reviewed.review_by == (today + dt.timedelta(days=170)).isoformat()
    assert bank.versions("E")[-1]["note"].startswith("reviewed; next review")


def test_an_approval_keeps_a_future_date_the_entry_already_has(bank):
    assert next_review_by(bank, entry("E", review_by="2099-01-01"), today=TODAY) == "2099-01-01"


def test_only_approved_entries_are_marked_reviewed(bank):
    bank.save_entry(entry("D", status="draft"), user="ana")
    with pytest.raises(ReviewRuleError, match="only approved"):
        mark_reviewed(bank, "D", user="bo")
