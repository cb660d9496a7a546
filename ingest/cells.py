"""Rules for one text cell that every format shares.

- `CELL_LIMIT`: Excel's 32,767 characters per cell. Longer question text is
  read in full and flagged; a longer answer fails the export.
- `CONTROL`: control characters a spreadsheet cell or XML cannot hold
  (TAB, LF and CR are ordinary text).
- `flag_odd_text`: the note and warning every reader adds for those two.
- `neutralise` / `unneutralise`: the single quote that makes a spreadsheet
  show formula-like text (= + - @ TAB CR) as text, for every CSV written;
  the bank keeps the raw text.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable

from ingest.model import Question

CELL_LIMIT = 32_767
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def flag_odd_text(questions: Iterable[Question], warnings: list[str], where: Callable[[Question], str]) -> None:
    """Note on each question longer than CELL_LIMIT or holding control
    characters, and one warning per kind naming the first (`where(q)`)."""
    questions = list(questions)
    long = [q for q in questions if len(q.text) > CELL_LIMIT]
    for q in long:
        q.notes.append(f"the question cell holds {len(q.text):,} characters, more than Excel allows ({CELL_LIMIT:,})")
    if long:
        warnings.append(
            f"{len(long)} question(s) are longer than Excel's {CELL_LIMIT:,}-character cell limit "
            f"(first: {where(long[0])}); they were read in full — check the file."
        )
    odd = [q for q in questions if CONTROL.search(q.text)]
    for q in odd:
        q.notes.append("the question text contains control characters")
    if odd:
        warnings.append(f"{len(odd)} question(s) contain control characters (first: {where(odd[0])}).")


def neutralise(value: str) -> str:
    """`value` with a leading single quote when a spreadsheet would run it as
    a formula. Text that already starts with quotes before such a character
    gets one more, so `unneutralise` gives back exactly `value`."""
    return "'" + value if value.lstrip("'").startswith(FORMULA_LEADS) else value


def unneutralise(value: str) -> str:
    """The text `neutralise` was given (a cell read back from a CSV we wrote)."""
    return value[1:] if value.startswith("'") and value.lstrip("'").startswith(FORMULA_LEADS) else value
