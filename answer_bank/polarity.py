"""Yes/No polarity: would an entry's short answer say the opposite for this question?

"Do you limit the privileges of the LLM?" and "Can your AI take actions?"
are about the same thing, but a "No" to the second is a "Yes" to the first.
A question's polarity here is the parity of its negations ("not", "never",
"without", "don't") and restricting verbs ("limit", "prevent", "prohibit",
"disable", ...): two questions whose parities differ ask the same thing the
other way round, so the short answer of one would invert the truth for the
other. Written from the language of yes/no questions, not from any set.
"""
from __future__ import annotations

import re

from answer_bank.ranking import stem

# Words (lowercase) that negate a yes/no question.
_NEGATIONS = frozenset("not no never without nor neither none cannot nobody nothing".split())
# Contractions, split at the apostrophe: "don't" -> "don" "t".
_NEGATED_AUXILIARIES = frozenset(
    "don doesn didn isn aren wasn weren hasn haven hadn won wouldn shouldn couldn can mustn".split())
# Stems of verbs (and their nouns) that ask whether something is kept from happening.
_RESTRICTING = frozenset(stem(w) for w in """
limit limits limited limiting limitation restrict restricted restricting restriction restrictions
prevent prevents prevented preventing prevention prohibit prohibits prohibited prohibiting prohibition
forbid forbids forbidden block blocks blocked blocking deny denies denied denying disable disables
disabled disabling disallow disallows disallowed exclude excludes excluded excluding exclusion
avoid avoids avoided avoiding refrain prevention minimise minimize minimised minimized
""".split())
_WORD = re.compile(r"[a-z]+")


def polarity(text: str) -> int:
    """0 for a question asked the positive way, 1 for one asked the negative or restricting way."""
    words = _WORD.findall((text or "").lower())
    count = 0
    for i, w in enumerate(words):
        if w in _NEGATIONS:
            count += 1
        elif w in _NEGATED_AUXILIARIES and i + 1 < len(words) and words[i + 1] == "t":
            count += 1
        elif stem(w) in _RESTRICTING:
            count += 1
    return count % 2


def inverts(question: str, entry_question: str, short_answer: str | None) -> bool:
    """Would writing the entry's Yes/No short answer for `question` say the opposite?"""
    if short_answer not in ("Yes", "No"):
        return False
    return polarity(question) != polarity(entry_question)
