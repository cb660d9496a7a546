"""Checks on the starter AIMS answer bank and the framework catalogues it cites.

Reads the JSON files shipped inside the `answer_bank` package only; no other
project code is imported, so these tests stay valid whatever the store looks like.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from importlib.resources import files

import pytest

PACKAGE = files("answer_bank")
BANK_FILE = PACKAGE / "starter" / "aims_bank.json"
CATALOGUE_FILES = {
    "ISO42001": "iso42001.json",
    "NIST-AI-RMF": "nist-ai-rmf.json",
    "EU-AI-ACT": "eu-ai-act.json",
}
REQUIRED_KEYS = (
    "id", "question", "variants", "answer", "short_answer", "evidence",
    "frameworks", "tags", "owner", "status", "review_by",
)
SHORT_ANSWERS = {"Yes", "No", "N/A", "Partial", None}
OWNERS = {"trust-team", "security", "ml-platform", "legal", "privacy"}
NIST_FUNCTIONS = ("GOVERN", "MAP", "MEASURE", "MANAGE")
# Management-system clauses (4-10) are cited as "ISO42001:9.2"; the catalogue holds Annex A only.
ISO_CLAUSE = re.compile(r"\d+(\.\d+)*")


@cache
def bank() -> list[dict]:
    return json.loads(BANK_FILE.read_text(encoding="utf-8"))


@cache
def catalogue(prefix: str) -> dict:
    path = PACKAGE / "frameworks" / CATALOGUE_FILES[prefix]
    return json.loads(path.read_text(encoding="utf-8"))


def control_ids(prefix: str) -> set[str]:
    return {c["id"] for g in catalogue(prefix)["groups"] for c in g["controls"]}


def refs(prefix: str) -> list[tuple[str, str]]:
    """(entry id, control id) for every framework ref in the bank with this prefix."""
    out = []
    for entry in bank():
        for ref in entry["frameworks"]:
            p, _, cid = ref.partition(":")
            if p == prefix:
                out.append((entry["id"], cid))
    return out


def test_bank_is_a_list_of_at_least_120_entries():
    assert isinstance(bank(), list)
    assert len(bank()) >= 120


def test_entry_ids_are_unique_and_well_formed():
    ids = [e["id"] for e in bank()]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"duplicate ids: {dupes}"
    bad = [i for i in ids if not re.fullmatch(r"AIMS-[A-Z]+-\d{3}", i)]
    assert not bad, f"ids not shaped AIMS-<AREA>-NNN: {bad}"


def test_canonical_questions_are_unique():
    seen: dict[str, str] = {}
    for e in bank():
        key = " ".join(e["question"].lower().split())
        assert key not in seen, f"{e['id']} repeats the question of {seen[key]}"
        seen[key] = e["id"]


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_required_key_present_and_non_empty(key):
    missing = [e.get("id", "?") for e in bank() if key not in e]
    assert not missing, f"{key!r} missing in {missing}"
    if key == "short_answer":  # null is a valid value for descriptive answers
        return
    empty = [e["id"] for e in bank() if e[key] in (None, "", [], {})]
    assert not empty, f"{key!r} empty in {empty}"


def test_entries_have_no_unknown_keys():
    extra = {e["id"]: sorted(set(e) - set(REQUIRED_KEYS)) for e in bank() if set(e) - set(REQUIRED_KEYS)}
    assert not extra, f"unexpected keys: {extra}"


def test_short_answer_is_allowed_value_or_null():
    bad = {e["id"]: e["short_answer"] for e in bank() if e["short_answer"] not in SHORT_ANSWERS}
    assert not bad, f"short_answer outside {SHORT_ANSWERS}: {bad}"


def test_variants_are_two_to_four_distinct_strings():
    for e in bank():
        variants = e["variants"]
        assert 2 <= len(variants) <= 4, e["id"]
        assert all(isinstance(v, str) and v.strip() for v in variants), e["id"]
        lowered = [v.lower() for v in variants] + [e["question"].lower()]
        assert len(set(lowered)) == len(lowered), f"{e['id']} repeats a phrasing"


def test_owner_and_status_values():
    bad_owner = {e["id"]: e["owner"] for e in bank() if e["owner"] not in OWNERS}
    assert not bad_owner, bad_owner
    assert {e["status"] for e in bank()} == {"approved"}


def test_every_entry_has_evidence_with_title_and_ref():
    for e in bank():
        evidence = e["evidence"]
        assert isinstance(evidence, list) and 1 <= len(evidence) <= 3, e["id"]
        for item in evidence:
            assert isinstance(item.get("title"), str) and item["title"].strip(), e["id"]
            assert isinstance(item.get("ref"), str) and item["ref"].strip(), e["id"]


def test_review_by_parses_as_iso_date():
    for e in bank():
        try:
            dt.date.fromisoformat(e["review_by"])
        except (TypeError, ValueError):
            pytest.fail(f"{e['id']}: review_by {e['review_by']!r} is not an ISO date")


def test_iso42001_catalogue_has_exactly_38_annex_a_controls():
    ids = [c["id"] for g in catalogue("ISO42001")["groups"] for c in g["controls"]]
    assert len(ids) == 38
    assert len(set(ids)) == 38
    assert all(i.startswith("A.") for i in ids)
    assert [g["id"] for g in catalogue("ISO42001")["groups"]] == [f"A.{n}" for n in range(2, 11)]


def test_every_annex_a_control_is_referenced():
    used = {cid for _, cid in refs("ISO42001")}
    missing = sorted(control_ids("ISO42001") - used)
    assert not missing, f"Annex A controls with no bank entry: {missing}"


def test_nist_catalogue_has_72_subcategories():
    assert len(control_ids("NIST-AI-RMF")) == 72


@pytest.mark.parametrize("function", NIST_FUNCTIONS)
def test_each_nist_function_is_referenced(function):
    assert any(cid.split()[0] == function for _, cid in refs("NIST-AI-RMF"))


def test_at_least_8_eu_ai_act_articles_are_referenced():
    articles = {cid for _, cid in refs("EU-AI-ACT")}
    assert len(articles) >= 8, sorted(articles)


def test_framework_refs_use_known_prefixes():
    for e in bank():
        for ref in e["frameworks"]:
            prefix, sep, cid = ref.partition(":")
            assert sep and cid, f"{e['id']}: malformed ref {ref!r}"
            assert prefix in CATALOGUE_FILES, f"{e['id']}: unknown prefix in {ref!r}"


@pytest.mark.parametrize("prefix", sorted(CATALOGUE_FILES))
def test_framework_refs_exist_in_catalogue(prefix):
    known = control_ids(prefix)
    unknown = [
        (entry_id, cid) for entry_id, cid in refs(prefix)
        if cid not in known and not (prefix == "ISO42001" and ISO_CLAUSE.fullmatch(cid))
    ]
    assert not unknown, f"refs missing from {CATALOGUE_FILES[prefix]}: {unknown}"


@pytest.mark.parametrize("prefix", sorted(CATALOGUE_FILES))
def test_catalogue_shape(prefix):
    cat = catalogue(prefix)
    assert cat["ref_prefix"] == prefix
    assert cat["framework"] and cat["name"]
    for group in cat["groups"]:
        assert group["id"] and group["title"] and group["controls"]
        for control in group["controls"]:
            assert control["id"] and control["title"] and control["description"]
