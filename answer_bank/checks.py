"""Bank checks: entries that ask the same thing, and near-identical questions
with answers that contradict each other (a Yes against a No, 30 days against
90 days). Each finding names both entries; a curator merges them (keeping
both histories) or dismisses the finding (remembered, never shown again).

Two entries ask the same thing when their questions (canonical or curated
variants) are close in the embedding space AND share most of their content
words, or are very close in the embedding space alone. Dense similarity alone
pairs questions that differ in the one word that matters ("customer data" vs
"public data"); word overlap alone misses rephrasings. See docs/curation.md
for how the thresholds were set.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from answer_bank import curation_db
from answer_bank.curation import SelfApproval, own_unapproved_versions
from answer_bank.curation_db import ensure_schema
from answer_bank.db import transaction
from answer_bank.embeddings import CachedEmbedder, Embedder
from answer_bank.model import BankEntry
from answer_bank.store import Bank, BankError, utcnow

KINDS = ("duplicate", "conflict")
# Cosine similarity of the closest pair of question texts of two entries.
DENSE_ALONE = 0.93  # this close, the wording does not matter
DENSE_WITH_WORDS = 0.82  # this close, if they also share most of their weighted content words
WORD_OVERLAP = 0.55  # IDF-weighted Jaccard overlap of content words


class CheckError(BankError):
    pass


class MergeRefused(SelfApproval):
    """Merging one's own unapproved change into an approved entry would approve it alone."""

    def __init__(self, merge_away: str, keep: str, user: str, versions: list[int]):
        super().__init__(merge_away, user, versions)
        which = ", ".join(str(v) for v in versions)
        self.args = (f"{user} wrote version {which} of {merge_away} since it was last approved; merging it into "
                     f"the approved entry {keep} would approve it, so another approver must merge them "
                     f"(or approve {merge_away} first)",)


@dataclass
class Finding:
    kind: str  # duplicate | conflict
    a: BankEntry
    b: BankEntry
    similarity: float
    overlap: float
    reasons: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return pair_key(self.kind, self.a.ext_id, self.b.ext_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "entries": [self.a.ext_id, self.b.ext_id],
            "questions": [self.a.question, self.b.question],
            "similarity": round(self.similarity, 4),
            "overlap": round(self.overlap, 4),
            "reasons": self.reasons,
        }


def pair_key(kind: str, ext_a: str, ext_b: str) -> tuple[str, str, str]:
    a, b = sorted((ext_a, ext_b))
    return kind, a, b


# ---- words and quantities -------------------------------------------------

_STOP = frozenset("""
a an and any are as at be been being by can could do does did for from has have how if in into
is it its of on or our over please provide describe explain the their them there these this those
to us was we were what when where whether which who will with within would you your yours
""".split())
_WORD = re.compile(r"[a-z0-9]+")
# (suffix, replacement), first match wins: "certified", "certification" and
# "certify" are one word here, as are "tests", "testing" and "tested".
_SUFFIXES = (
    ("ifications", "ify"), ("ification", "ify"), ("ified", "ify"), ("ifies", "ify"),
    ("ations", "ate"), ("ation", "ate"), ("ated", "ate"), ("ating", "ate"),
    ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("ies", "y"), ("ied", "y"),
    ("ings", ""), ("ing", ""), ("ed", ""), ("s", ""),
)


def _stem(word: str) -> str:
    """Crude suffix stripping, enough to compare two questions' words."""
    if word.endswith("ss") or any(ch.isdigit() for ch in word):
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def content_words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP)


def identifiers(text: str) -> frozenset[str]:
    """Tokens with digits: standard numbers, article numbers, periods ("27001", "12")."""
    return frozenset(w for w in _WORD.findall(text.lower()) if any(ch.isdigit() for ch in w))


class Lexicon:
    """Word weights from the bank's own questions: a word most entries use
    ("AI", "system") says little; a rare one ("subprocessors") says a lot."""

    def __init__(self, texts_per_entry: list[list[str]]):
        df: dict[str, int] = {}
        for texts in texts_per_entry:
            for w in frozenset().union(*(content_words(t) for t in texts)):
                df[w] = df.get(w, 0) + 1
        self.n = len(texts_per_entry)
        self.df = df

    def weight(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df.get(word, 0) + 1)) + 1.0

    def overlap(self, a: str, b: str) -> float:
        """IDF-weighted Jaccard overlap of two texts' content words (0..1)."""
        wa, wb = content_words(a), content_words(b)
        if not wa or not wb:
            return 0.0
        return sum(self.weight(w) for w in wa & wb) / sum(self.weight(w) for w in wa | wb)


_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "eighteen": 18,
    "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "sixty": 60, "ninety": 90,
    "a": 1, "an": 1, "one hundred": 100,
}
_UNIT_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "business day": 1, "working day": 1,
              "week": 7, "month": 30, "year": 365}
_QUANTITY = re.compile(
    r"\b(?P<num>\d+(?:[.,]\d+)?|" + "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))
    + r")(?:\s*\(\d+\))?[\s-]*(?P<unit>business days?|working days?|minutes?|hours?|days?|weeks?|months?|years?"
    r"|%|percent)(?!\w)",
    re.I,
)


def quantities(text: str) -> dict[str, dict[float, str]]:
    """Durations (normalised to days) and percentages an answer states, each
    with the words that stated it: {"duration": {30.0: "30 days"}, "percent": {...}}."""
    found: dict[str, dict[float, str]] = {}
    for m in _QUANTITY.finditer(text or ""):
        raw, unit = m.group("num").lower(), m.group("unit").lower()
        value = float(raw.replace(",", ".")) if raw[0].isdigit() else float(_NUMBER_WORDS[raw])
        if unit in ("%", "percent"):
            dim, norm = "percent", value
        else:
            dim, norm = "duration", round(value * _UNIT_DAYS[unit[:-1] if unit.endswith("s") else unit], 4)
        found.setdefault(dim, {}).setdefault(norm, " ".join(m.group(0).split()))
    return found


def yes_no(entry: BankEntry) -> str | None:
    """The entry's Yes/No position: its short answer, else how its answer starts."""
    if entry.short_answer in ("Yes", "No"):
        return entry.short_answer
    if entry.short_answer:
        return None
    m = re.match(r"\s*(yes|no)\b", entry.answer or "", re.I)
    return m.group(1).capitalize() if m else None


def contradictions(a: BankEntry, b: BankEntry) -> list[str]:
    """Why the answers of two entries cannot both be right (empty when they can)."""
    reasons = []
    ya, yb = yes_no(a), yes_no(b)
    if ya and yb and ya != yb:
        reasons.append(f"{a.ext_id} answers {ya}, {b.ext_id} answers {yb}")
    qa, qb = quantities(a.answer), quantities(b.answer)
    for dim in sorted(set(qa) & set(qb)):
        va, vb = set(qa[dim]), set(qb[dim])
        # One answer adding a detail (30 days, then 7 days to purge) is not a
        # contradiction; two different figures for the same thing are.
        if not (va <= vb or vb <= va):
            said_a = ", ".join(qa[dim][v] for v in sorted(va - vb))
            said_b = ", ".join(qb[dim][v] for v in sorted(vb - va))
            reasons.append(f"different {'periods' if dim == 'duration' else 'figures'}: "
                           f"{a.ext_id} says {said_a}, {b.ext_id} says {said_b}")
    return reasons


# ---- finding pairs ----------------------------------------------------------


def similar_pairs(entries: list[BankEntry], embedder: Embedder, floor: float = DENSE_WITH_WORDS,
                  chunk: int = 1024) -> dict[tuple[int, int], tuple[float, float]]:
    """{(i, j): (dense, words)} for entry pairs i < j with a pair of question
    texts (canonical or curated variant) of cosine similarity ≥ floor; the
    text pair kept is the one that most looks like the same question.
    O(n²) in blocks: fine for banks of tens of thousands of texts."""
    if len(entries) < 2:
        return {}
    texts, owner = [], []
    for i, e in enumerate(entries):
        for t in [e.question, *e.variants]:
            texts.append(t)
            owner.append(i)
    lexicon = Lexicon([[e.question, *e.variants] for e in entries])
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    owner_arr = np.asarray(owner)
    best: dict[tuple[int, int], tuple[bool, float, float]] = {}
    for start in range(0, len(texts), chunk):
        block = vectors[start : start + chunk] @ vectors.T
        for r, c in zip(*np.nonzero(block >= floor)):
            ti, tj = start + int(r), int(c)
            i, j = int(owner_arr[ti]), int(owner_arr[tj])
            if i >= j:
                continue
            dense = float(block[r, c])
            words = lexicon.overlap(texts[ti], texts[tj])
            same = asks_the_same(dense, words) and same_identifiers(texts[ti], texts[tj])
            candidate = (same, dense, words)
            if candidate > best.get((i, j), (False, -1.0, -1.0)):
                best[(i, j)] = candidate
    return {key: (dense, words) for key, (same, dense, words) in best.items() if same}


def asks_the_same(dense: float, words: float) -> bool:
    return dense >= DENSE_ALONE or (dense >= DENSE_WITH_WORDS and words >= WORD_OVERLAP)


def same_identifiers(a: str, b: str) -> bool:
    """"ISO/IEC 27001" and "ISO/IEC 42001" are different questions however alike
    the sentences: when both name numbers, they must name the same ones."""
    ia, ib = identifiers(a), identifiers(b)
    return not (ia and ib) or ia == ib


def find_findings(bank: Bank, embedder: Embedder, *, include_dismissed: bool = False) -> list[Finding]:
    """Duplicates and conflicts among the entries that are not retired, most
    similar first. Vectors come from the bank's cache (`CachedEmbedder`)."""
    ensure_schema(bank.db)
    entries = bank.list_entries(status=("approved", "draft"))
    cached = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder, bank)
    dismissed = set() if include_dismissed else dismissed_keys(bank)
    findings = []
    for (i, j), (dense, words) in similar_pairs(entries, cached).items():
        a, b = entries[i], entries[j]
        why = contradictions(a, b)
        if why:
            finding = Finding("conflict", a, b, dense, words, why)
        else:
            finding = Finding("duplicate", a, b, dense, words,
                              [f"questions {dense:.0%} alike in meaning, {words:.0%} of their words shared"])
        if finding.key not in dismissed:
            findings.append(finding)
    # Conflicts first: a customer could be told two different things.
    findings.sort(key=lambda f: (f.kind != "conflict", -f.similarity, f.a.ext_id, f.b.ext_id))
    return findings


# ---- dismiss and merge --------------------------------------------------------


def dismissed_keys(bank: Bank) -> set[tuple[str, str, str]]:
    return curation_db.dismissed_keys(bank.db)


def dismiss(bank: Bank, kind: str, ext_a: str, ext_b: str, *, user: str, note: str | None = None) -> None:
    """Remember that a finding is not a problem. Raises CheckError, EntryNotFound."""
    if kind not in KINDS:
        raise CheckError(f"a finding is a duplicate or a conflict, not {kind!r}")
    if ext_a == ext_b:
        raise CheckError("a finding is about two different entries")
    ensure_schema(bank.db)
    key = pair_key(kind, ext_a, ext_b)
    with transaction(bank.db):
        for ext_id in key[1:]:
            bank.entry_for_update(ext_id)  # raises EntryNotFound
        curation_db.put_dismissal(bank.db, key, (note or "").strip() or None, user=user, at=utcnow())
        bank.record_event(user, "dismiss_finding",
                          detail=f"{kind}: {key[1]} / {key[2]}" + (f" ({note})" if note else ""))


def merge(bank: Bank, keep: str, merge_away: str, *, user: str,
          expected_versions: dict[str, int] | None = None) -> BankEntry:
    """Merge `merge_away` into `keep` in ONE transaction. The survivor gains the
    other's question and variants (curated and learned) as curated variants, and
    the union of evidence, framework references and tags; the other is retired
    with reason "merged into KEEP". Both keep their full history. An approved
    survivor stays approved, so whoever wrote the other's versions since it was
    last approved may not merge it (four eyes).
    Raises EntryNotFound, VersionConflict, CheckError, MergeRefused."""
    if keep == merge_away:
        raise CheckError("cannot merge an entry into itself")
    expected_versions = expected_versions or {}
    ensure_schema(bank.db)
    with transaction(bank.db):
        live = []
        for ext_id in (keep, merge_away):
            current = bank.entry_for_update(ext_id, expected_versions.get(ext_id))
            if current.status == "retired":
                raise CheckError(f"{ext_id} is retired ({current.retired_reason}); merge only live entries")
            live.append(current)
        survivor, other = live
        if survivor.status == "approved":
            # The survivor stays approved with the other's wordings, evidence,
            # frameworks and tags: merging is approving them, so whoever wrote
            # them since their last approval may not do it (SECURITY.md 28).
            authored = own_unapproved_versions(bank, other, user)
            if authored:
                raise MergeRefused(other.ext_id, keep, user, authored)
        merged = copy.deepcopy(survivor)
        for text in [other.question, *other.variants, *other.learned_variants]:
            if text not in merged.texts and text not in merged.variants:
                merged.variants.append(text)
        merged.evidence += [ev for ev in other.evidence if ev not in merged.evidence]
        merged.frameworks += [r for r in other.frameworks if r not in merged.frameworks]
        merged.tags += [t for t in other.tags if t not in merged.tags]
        now = utcnow()
        bank.write_version(survivor, merged, user, now, note=f"merged {merge_away} into it")
        retired = copy.deepcopy(other)
        retired.status, retired.retired_reason = "retired", f"merged into {keep}"
        bank.write_version(other, retired, user, now, note=f"merged into {keep}")
        bank.record_event(user, "merge", ext_id=keep, entry_id=survivor.id,
                          detail=f"{merge_away} (version {other.version}) merged into {keep} "
                                 f"(now version {merged.version})")
        bank.bump_revision()
    return bank.get_entry(keep)
