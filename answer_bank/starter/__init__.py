"""The starter AIMS bank shipped with aimsq (a fictional company's approved
answers) and the starter glossary (general domain terms that mean the same)."""
from __future__ import annotations

import json
from importlib import resources

from answer_bank.io import read_entries
from answer_bank.model import BankEntry


def starter_entries() -> list[BankEntry]:
    with resources.files(__package__).joinpath("aims_bank.json").open("rb") as fp:
        return read_entries(fp, "json")


def starter_glossary() -> list[list[str]]:
    """The starter glossary's groups of terms that mean the same."""
    with resources.files(__package__).joinpath("glossary.json").open("rb") as fp:
        return [list(g) for g in json.load(fp)["groups"]]


def starter_glossary_pairs() -> list[tuple[str, str]]:
    """The starter glossary as pairs to store: each group's first term with each other one."""
    return [(g[0], t) for g in starter_glossary() for t in g[1:]]
