"""Terms the trust team says are NOT the same ("privacy" ≠ "security").

The embedding model reads "Is privacy awareness training mandatory?" and "Is
security awareness training mandatory?" as nearly the same question (cosine
above 0.9): the sentences differ in one word, and the model places the two
words close together. Only the trust team knows that here a privacy answer
never answers a security question. A "not the same" pair of the glossary
(`aimsq bank glossary distinct privacy security`) says so, and the matcher
then never answers a question that names one term (and not the other) with an
entry whose questions name only the other: the entry is still shown as a
suggestion, with the reason (answer_bank.matching).

Terms are matched as in the glossary: lowercase words compared by their stems
("penetration tests" names "penetration test"), and a term also stands for
the terms the glossary says mean the same. Pure functions: no database, no model.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from answer_bank.glossary import term_key
from answer_bank.ranking import stem

Stems = tuple[str, ...]


def stems(text: str) -> Stems:
    """The stems of a text's words (the glossary's words: lowercase letters and digits), in order."""
    return tuple(stem(w) for w in term_key(text).split())


def _names(text: Stems, forms: Sequence[Stems]) -> bool:
    """Whether `text` holds one of the forms as consecutive words."""
    for form in forms:
        n = len(form)
        if n and any(text[i:i + n] == form for i in range(len(text) - n + 1) if text[i] == form[0]):
            return True
    return False


class Distinctions:
    """The bank's "not the same" pairs, ready to check one match at a time."""

    def __init__(self, pairs: Iterable[tuple[str, str]], groups: Iterable[Sequence[str]] = ()):
        same: dict[Stems, list[Stems]] = {}
        for group in groups:
            forms = [k for k in (stems(t) for t in group) if k]
            for k in forms:
                same[k] = forms

        def forms_of(term: str) -> list[Stems]:
            k = stems(term)
            return same.get(k, [k]) if k else []

        self.pairs = [(a, b, forms_of(a), forms_of(b)) for a, b in pairs if stems(a) and stems(b)]

    def __len__(self) -> int:
        return len(self.pairs)

    def conflict(self, question: str, entry_texts: Sequence[str]) -> tuple[str, str] | None:
        """(the question's term, the entry's term) when the question names one
        term of a pair and not the other, and the entry's texts (its question,
        variants and learned wordings) name the other and never the first;
        else None."""
        if not self.pairs:
            return None
        q = stems(question)
        texts = [stems(t) for t in entry_texts if t]
        for a, b, fa, fb in self.pairs:
            for x, y, fx, fy in ((a, b, fa, fb), (b, a, fb, fa)):
                if (_names(q, fx) and not _names(q, fy) and any(_names(t, fy) for t in texts)
                        and not any(_names(t, fx) for t in texts)):
                    return x, y
        return None
