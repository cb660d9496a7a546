"""Helpers shared by the curation test modules (starter bank, small banks)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from answer_bank.model import BankEntry, Evidence
from answer_bank.store import Bank


def starter_entries_or_skip() -> list[BankEntry]:
    if not resources.files("answer_bank.starter").joinpath("aims_bank.json").is_file():
        pytest.skip("the starter AIMS bank (answer_bank/starter/aims_bank.json) is not there yet")
    from answer_bank.starter import starter_entries

    return starter_entries()


def starter_bank(path: Path) -> Bank:
    """The starter AIMS bank, approved, as `aimsq init --demo` loads it (without indexing)."""
    bank = Bank.open(path)
    bank.import_entries(starter_entries_or_skip(), approve=True, user="aimsq-init", source="starter AIMS bank")
    return bank


def small_bank_entries() -> list[BankEntry]:
    """Four approved ISO 42001 answers, one overdue, one draft, one citing an unlisted id."""
    return [
        BankEntry("POL-1", "Do you have an AI policy?", "Yes. POL-AI-01.", short_answer="Yes", status="approved",
                  evidence=[Evidence("AI policy", "POL-AI-01")], frameworks=["ISO42001:A.2.2", "NIST-AI-RMF:GOVERN 1.2"],
                  review_by="2099-01-01"),
        BankEntry("POL-2", "How often is the AI policy reviewed?", "=Every year (formula-looking text).",
                  status="approved", frameworks=["ISO42001:A.2.4"], review_by="2020-01-01"),
        BankEntry("ROLE-1", "Who is accountable for AI?", "The CTO.", status="approved",
                  frameworks=["ISO42001:A.3.2", "ISO42001:A.2.2"], evidence=[Evidence("RACI")]),
        BankEntry("ART-1", "Which AI Act article applies?", "Article 13, transparency.", status="approved",
                  frameworks=["EU-AI-ACT:Art. 13(3)", "ISO42001:B.9.9"]),
        BankEntry("DRAFT-1", "Do you assess AI impacts?", "Yes.", status="draft", frameworks=["ISO42001:A.5.2"]),
    ]
