"""One check of question text for every format (SECURITY.md cases 12 and 35):
text over Excel's 32,767-character cell limit or holding control characters
is flagged — a note on the question and one warning per kind — never cut."""
from __future__ import annotations

import re
from typing import Callable

from ingest.model import Question

TEXT_LIMIT = 32_767  # Excel's cell limit: an answer sheet cannot carry more
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def flag_odd_text(questions: list[Question], warnings: list[str], where: Callable[[Question], str]) -> None:
    """Add a note to each question whose text is over TEXT_LIMIT characters or
    holds control characters, and one warning per kind naming the first
    (`where(q)` says where it is, e.g. "'Q-1' in sheet 'Security'")."""
    long = [q for q in questions if len(q.text) > TEXT_LIMIT]
    for q in long:
        q.notes.append(f"the question cell holds {len(q.text):,} characters, more than Excel allows ({TEXT_LIMIT:,})")
    if long:
        warnings.append(
            f"{len(long)} question(s) are longer than Excel's {TEXT_LIMIT:,}-character cell limit "
            f"(first: {where(long[0])}); they were read in full — check the file."
        )
    odd = [q for q in questions if CONTROL.search(q.text)]
    for q in odd:
        q.notes.append("the question text contains control characters")
    if odd:
        warnings.append(f"{len(odd)} question(s) contain control characters (first: {where(odd[0])}).")
