"""The starter AIMS bank shipped with aimsq (a fictional company's approved answers)."""
from __future__ import annotations

from importlib import resources

from answer_bank.io import read_entries
from answer_bank.model import BankEntry


def starter_entries() -> list[BankEntry]:
    with resources.files(__package__).joinpath("aims_bank.json").open("rb") as fp:
        return read_entries(fp, "json")
