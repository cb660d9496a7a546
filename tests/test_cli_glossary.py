"""`aimsq bank glossary` and the starter glossary of `aimsq init --demo`
(cli/glossary.py), over a real SQLite bank. `init --demo`
indexes the bank with the FAKE embedder from conftest."""
from __future__ import annotations

import json

import pytest

from answer_bank.starter import starter_glossary_pairs
from answer_bank.store import Bank


@pytest.fixture
def run(run, monkeypatch):
    """conftest's `run`, acting as "tess"."""
    monkeypatch.setenv("AIMSQ_USER", "tess")
    return run


def test_add_list_remove(run):
    assert run("bank", "glossary", "add", "cloud-based", "hosted").output == "Glossary: “cloud-based” = “hosted”\n"
    run("bank", "glossary", "add", "hosted", "SaaS")
    listed = run("bank", "glossary", "list")
    assert listed.exit_code == 0
    assert "cloud-based = hosted    (added by tess," in listed.output
    out = json.loads(run("bank", "glossary", "list", "--json").stdout)
    assert [(p["term"], p["equivalent"], p["created_by"]) for p in out["pairs"]] == [
        ("cloud-based", "hosted", "tess"), ("hosted", "SaaS", "tess")]
    assert out["groups"] == [["cloud-based", "hosted", "SaaS"]]
    removed = run("bank", "glossary", "remove", "SaaS", "hosted")
    assert removed.exit_code == 0 and "Removed “hosted” = “SaaS”" in removed.output
    assert run("bank", "glossary", "remove", "hosted").exit_code == 0
    assert json.loads(run("bank", "glossary", "list", "--json").stdout) == {"pairs": [], "groups": [], "distinct": []}
    bank = Bank.open(run.db)
    assert [(r["user"], r["action"]) for r in bank.glossary_audit()] == [
        ("tess", "glossary_remove"), ("tess", "glossary_remove"), ("tess", "glossary_add"), ("tess", "glossary_add")]


@pytest.mark.parametrize("args, message", [
    (["add", "", "hosted"], "needs at least one letter or digit"),
    (["add", "SSO", "sso"], "are the same term"),
    (["add", "hosted", "cloud-based"], "already in the glossary"),
    (["remove", "nope"], "“nope” is not in the glossary"),
    (["remove", "hosted", "SaaS"], "“hosted” = “SaaS” is not in the glossary"),
])
def test_errors_are_one_line_and_change_nothing(run, args, message):
    run("bank", "glossary", "add", "cloud-based", "hosted")
    result = run("bank", "glossary", *args)
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(json.loads(run("bank", "glossary", "list", "--json").stdout)["pairs"]) == 1


def test_help_texts_say_what_the_commands_do(run):
    assert "mean the same" in run("bank", "glossary", "--help").output
    assert "TERM EQUIVALENT" in run("bank", "glossary", "add", "--help").output
    assert "without EQUIVALENT, every pair with" in run("bank", "glossary", "remove", "--help").output


def test_init_demo_loads_the_starter_glossary(run):
    result = run("init", "--demo")
    assert result.exit_code == 0, result.output
    assert f"Starter glossary: {len(starter_glossary_pairs())} pairs added" in result.output
    out = json.loads(run("bank", "glossary", "list", "--json").stdout)
    assert len(out["pairs"]) == len(starter_glossary_pairs())
    assert {p["created_by"] for p in out["pairs"]} == {"aimsq-init"}
    assert ["MFA", "multi-factor authentication"] == sorted(
        t for g in out["groups"] for t in g if t in ("MFA", "multi-factor authentication"))


def test_add_starter_fills_in_what_a_bank_lacks(run):
    run("init")
    run("bank", "glossary", "add", "MFA", "multi-factor authentication")
    result = run("bank", "glossary", "add-starter")
    assert result.exit_code == 0
    assert f"{len(starter_glossary_pairs()) - 1} pairs added" in result.output
    assert "0 pairs added" in run("bank", "glossary", "add-starter").output
