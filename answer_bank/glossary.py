"""The bank's glossary: terms the trust team says mean the same here
("multi-factor authentication" = "MFA", "cloud-based" = "hosted").

Stored as pairs (`Bank.add_glossary_pair`); a term and everything linked to it
through pairs form one group, and the matcher reads every term of a group as
the same word on both sides, the incoming question and the bank's texts
(docs/matching.md, "Tokens"). Pure functions only: no database, no model.
"""
from __future__ import annotations

import re
from typing import Iterable

MAX_TERM_CHARS = 200
_WORD_RE = re.compile(r"[a-z0-9]+")  # the matcher's words (answer_bank.ranking)


def clean_term(text: str | None) -> str:
    """A term as it is stored and shown: whitespace collapsed."""
    return " ".join((text or "").split())


def term_key(text: str | None) -> str:
    """What a term means to the matcher: its lowercase words, so "Multi-Factor"
    and "multi factor" are one term."""
    return " ".join(_WORD_RE.findall((text or "").lower()))


def groups(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The groups of terms linked by pairs (each term once, by its key; a group
    sorted, the groups sorted by their first term)."""
    parent: dict[str, str] = {}
    shown: dict[str, str] = {}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in pairs:
        ka, kb = term_key(a), term_key(b)
        if not ka or not kb:
            continue
        for k, t in ((ka, a), (kb, b)):
            if k not in parent:
                parent[k] = k
                shown[k] = clean_term(t)
        ra, rb = find(ka), find(kb)
        if ra != rb:
            parent[rb] = ra
    out: dict[str, list[str]] = {}
    for k in parent:
        out.setdefault(find(k), []).append(shown[k])
    return sorted((sorted(g, key=str.lower) for g in out.values()), key=lambda g: g[0].lower())
