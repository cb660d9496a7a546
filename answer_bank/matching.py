"""The matching engine: question text in, the approved entry to answer with
(or none), a confidence tier, and ranked alternatives out.

This module joins the bank (approved entries, cached vectors) with the
ranking and calibration in `answer_bank.ranking`; see docs/matching.md.
"""
from __future__ import annotations

import logging
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, Sequence

import aimsq_settings
from answer_bank.embeddings import CachedEmbedder, Embedder, embedder_from_env
from answer_bank.model import BankEntry
from answer_bank.store import Bank

if TYPE_CHECKING:
    from answer_bank.distinct import Distinctions
    from answer_bank.ranking import Ranker

log = logging.getLogger(__name__)

# Below this many questions the encoding is not started ahead of the index
# (a search box's single question gains nothing from a thread).
PREFETCH_MIN_QUESTIONS = 8

# Confidence given to a repeat: a question the bank holds word for word (or
# under the same ref of the same questionnaire with near-identical text).
REPEAT_CONFIDENCE = 0.99
# Near-identical: difflib ratio of the normalised texts (typo fixes, a word
# added or dropped in a long question; not a different requirement).
NEAR_IDENTICAL = 0.9
# A questionnaire family in the bank is "the family of this questionnaire"
# when it holds at least this share of the batch's refs.
FAMILY_SHARE = 0.5
# How many suggestions a "low" or "none" result shows the reviewer.
SUGGESTIONS = 3

_WORDS = re.compile(r"[0-9a-z]+")


def normal_text(text: str | None) -> str:
    """A question's words, lowercase, punctuation and spacing ignored."""
    return " ".join(_WORDS.findall((text or "").casefold()))


def _normal_label(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


@dataclass(frozen=True)
class QuestionIn:
    """What the matcher knows of a question: its text and, when it came from
    a questionnaire, its ref, section and sheet (position is its place in the
    batch). match_many accepts plain strings too."""

    text: str
    ref: str | None = None
    section: str | None = None
    sheet: str | None = None

    @classmethod
    def of(cls, item: Any) -> "QuestionIn":
        if isinstance(item, str):
            return cls(item)
        if isinstance(item, QuestionIn):
            return item
        at = getattr(item, "answer_at", None)
        sheet = getattr(item, "sheet", None) or (at.get("sheet") if isinstance(at, dict) else getattr(at, "sheet", None))
        return cls(str(getattr(item, "text", "") or ""), getattr(item, "ref", None) or None,
                   getattr(item, "section", None) or None, sheet or None)


@dataclass
class Candidate:
    entry: BankEntry
    score: float
    matched: str | None = None  # the entry's text closest to the question (its question or a variant)


@dataclass
class MatchResult:
    question: str
    tier: str  # high | medium | low | none
    answer: BankEntry | None  # the decision: the entry to answer with, or None
    score: float
    confidence: float
    candidates: list[Candidate] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    # "text": the bank holds the question word for word; "ref": same ref of
    # the same questionnaire family, near-identical text; None otherwise.
    repeat: str | None = None
    # The answer entry's Yes/No would say the opposite for this question
    # (docs/matching.md, "Polarity"): write its narrative only.
    withhold_short_answer: bool = False
    # (the question's term, the entry's term) of a glossary "not the same" pair
    # that kept the first candidate from answering (answer_bank.distinct).
    kept_apart: tuple[str, str] | None = None

    @property
    def suggestions(self) -> list[Candidate]:
        """The best candidates a reviewer should read (for "low" and "none":
        there is no answer, so these are what the review shows)."""
        return self.candidates[:SUGGESTIONS]

    def to_json(self, qid: str | None = None) -> dict:
        out = {} if qid is None else {"qid": qid}
        out.update({
            "answer": self.answer.ext_id if self.answer else None,
            "tier": self.tier,
            "matches": [{"id": c.entry.ext_id, "score": round(c.score, 4), "matched": c.matched}
                        for c in self.candidates],
        })
        if self.repeat:
            out["repeat"] = self.repeat
        if self.withhold_short_answer:
            out["short_answer_withheld"] = True
        if self.kept_apart:
            out["kept_apart"] = {"question": self.kept_apart[0], "entry": self.kept_apart[1]}
        return out


class Matcher:
    """Matches questions against the bank's approved entries.

    The index is built on first use and rebuilt when the bank's revision
    changes (an import, an approval, a learned variant, a glossary change).
    """

    def __init__(self, bank: Bank, embedder: Embedder | None = None):
        self.bank = bank
        self.raw_embedder = embedder or embedder_from_env()
        # Bank texts: vectors cached in the database (computed once per model
        # and text). Questions: embedded as they come, never written to disk.
        self.embedder = CachedEmbedder(self.raw_embedder, bank)
        self._revision: int | None = None
        self._entries: list[BankEntry] = []
        self._ranker: Ranker | None = None
        self._distinct: Distinctions | None = None  # the glossary's "not the same" pairs (answer_bank.distinct)
        # Repeats: normalised text -> entries holding it, and ref -> entries
        # imported or learned under it (docs/matching.md, "Repeats").
        self._by_text: dict[str, list[tuple[int, tuple]]] = {}
        self._by_ref: dict[str, list[tuple[int, tuple, str]]] = {}
        self._prefetched = threading.local()  # (questions, future) of this thread's match_many

    def refresh(self) -> int:
        """Bring the index up to date with the bank (embedding any new entry
        texts into the cache). Returns the number of texts embedded."""
        before = self.embedder.computed
        self._index()
        return self.embedder.computed - before

    def _index(self) -> tuple[list[BankEntry], Ranker | None]:
        revision = self.bank.revision()
        if revision != self._revision:
            from answer_bank.distinct import Distinctions
            from answer_bank.ranking import Glossary, Ranker  # scipy: imported while the questions are encoded

            entries = self.bank.list_entries(status="approved")
            groups = self.bank.glossary_groups()
            ranker = None
            if entries:
                ranker = Ranker(
                    [e.texts for e in entries], self.embedder.embed,
                    extra_texts=[e.answer for e in entries],
                    # e.texts: canonical, curated variants (deduplicated), then learned wordings
                    curated_counts=[len({t for t in (e.question, *e.variants) if t}) for e in entries],
                    query_embed=self._embed_questions,
                    # the bank's glossary: its terms read alike in questions and bank texts
                    glossary=Glossary(groups),
                    # the bank adapter: fitted once per bank content, kept in the bank
                    adapter=self._adapter if aimsq_settings.bank_adapter() else None,
                )
            self._by_text, self._by_ref = _repeat_index(entries)
            self._distinct = Distinctions(((p.term, p.equivalent) for p in self.bank.glossary_distinct()), groups)
            self._entries, self._ranker, self._revision = entries, ranker, revision
        return self._entries, self._ranker

    def adapter_state(self) -> tuple[bool, int]:
        """(whether the current index has a bank adapter, how many of the
        bank's own wordings and answers it was offered)."""
        ranker = self._index()[1]
        if ranker is None:
            return False, 0
        return ranker.adapter_matrix is not None, ranker.adapter_examples

    def adapter_summary(self) -> str:
        """One line on the bank adapter of the current index, for people."""
        if self._index()[1] is None:
            return "no bank adapter (no approved entries)"
        fitted, examples = self.adapter_state()
        if fitted:
            return f"bank adapter fitted on {examples} of the bank's own wordings and answers"
        if not aimsq_settings.bank_adapter():
            return "no bank adapter (AIMSQ_BANK_ADAPTER=off)"
        from answer_bank import adapter

        return (f"no bank adapter ({examples} wordings and answers; it needs at least "
                f"{adapter.MIN_ANCHORS} in a bank of at least {adapter.MIN_ENTRIES} entries)")

    def _adapter(self, anchors, labels, canon):
        """The bank adapter for these inputs: read from the bank when it was
        fitted before (same model, same texts), else fitted and kept."""
        from answer_bank import adapter

        key = adapter.cache_key(anchors, labels, canon)
        matrix = self.bank.cached_adapter(self.embedder.model_id, key)  # the key covers the vector size
        if matrix is None:
            matrix = adapter.fit_adapter(anchors, labels, canon)
            if matrix is not None:
                try:
                    self.bank.store_adapter(self.embedder.model_id, key, matrix)
                except sqlite3.Error as e:  # a read-only bank still matches; it fits again next time
                    log.info("bank adapter not kept: %s", e)
        return matrix

    def match(self, question: str, top_k: int = 5) -> MatchResult:
        return self.match_many([question], top_k=top_k)[0]

    def match_many(self, questions: Sequence[Any], top_k: int = 5) -> list[MatchResult]:
        """Match questions in questionnaire order. Each item is a question
        text, or a question with `text` and optionally `ref`, `section` and
        `answer_at.sheet` (an ingested Question, a review question, a
        QuestionIn): ref and section tell repeated wordings apart."""
        items = [QuestionIn.of(q) for q in questions]
        texts = [q.text for q in items]
        self._prefetch(texts, top_k)
        try:
            entries, ranker = self._index()
            if ranker is None:
                return [MatchResult(t, "none", None, 0.0, 0.0, [], ["the bank has no approved entries"])
                        for t in texts]
            ranked = ranker.rank(texts, top_k=top_k)
        finally:
            pending = getattr(self._prefetched, "pending", None)
            self._prefetched.pending = None
            if pending is not None:
                pending[1].exception()  # wait: never leave the thread running behind us
        families = self._families_of(items)
        return [self._decide(q, r, entries, self._repeat_of(q, families)) for q, r in zip(items, ranked)]

    def _families_of(self, items: list[QuestionIn]) -> set[str]:
        """Questionnaire families in the bank that hold at least FAMILY_SHARE of
        this batch's refs: last year's copy of this questionnaire."""
        refs = {_normal_label(q.ref) for q in items if q.ref}
        if not refs:
            return set()
        counts: dict[str, set[str]] = {}
        for ref in refs:
            for _, (family, _, _), _ in self._by_ref.get(ref, ()):
                if family:
                    counts.setdefault(family, set()).add(ref)
        return {f for f, found in counts.items() if len(found) >= FAMILY_SHARE * len(refs)}

    def _repeat_of(self, q: QuestionIn, families: set[str]) -> tuple[int, str] | None:
        """(entry index, "text" | "ref") when the bank holds this question already."""
        norm = normal_text(q.text)
        if not norm:
            return None
        ref, section = _normal_label(q.ref), _normal_label(q.section)
        hits = self._by_text.get(norm)
        if hits:
            chosen = _narrow(hits, ref, section)
            if chosen is not None:
                return chosen, "text"
            return None  # several entries hold this text and neither ref nor section decides
        if not ref:
            return None
        same_ref = [(i, origin, text) for i, origin, text in self._by_ref.get(ref, ())
                    if origin[0] in families and SequenceMatcher(None, norm, text).ratio() >= NEAR_IDENTICAL]
        if len({i for i, _, _ in same_ref}) == 1:
            return same_ref[0][0], "ref"
        return None

    def _prefetch(self, questions: list[str], top_k: int) -> None:
        """Start encoding the questions on a thread while this one builds the
        index (imports, bank rows, BM25): the encoder is NumPy and releases the
        GIL. Only for an embedder that says it may run beside itself, for a
        batch of questions, and when the bank has something to rank."""
        self._prefetched.pending = None
        if (len(questions) < PREFETCH_MIN_QUESTIONS or top_k <= 0
                or not getattr(self.raw_embedder, "thread_safe", False)):
            return
        if self._revision is not None and self._revision == self.bank.revision():
            if self._ranker is None:
                return
        elif not self.bank.count(status="approved"):
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="aimsq-prefetch")
        self._prefetched.pending = (questions, pool.submit(self.raw_embedder.embed, questions))
        pool.shutdown(wait=False)  # no more work for it; the call already submitted runs on

    def _embed_questions(self, texts: list[str]):
        pending = getattr(self._prefetched, "pending", None)
        if pending is not None and pending[0] == texts:
            self._prefetched.pending = None
            return pending[1].result()
        return self.raw_embedder.embed(texts)

    def _decide(self, q: QuestionIn, ranked, entries: list[BankEntry],
                repeat: tuple[int, str] | None = None) -> MatchResult:
        from answer_bank.polarity import inverts
        from answer_bank.tiers import ANSWER_TIERS, tier_for

        question = q.text
        matched = list(getattr(ranked, "matched", None) or [])
        matched += [None] * (len(ranked.candidates) - len(matched))
        candidates = [Candidate(entries[i], float(s), m) for (i, s), m in zip(ranked.candidates, matched)]
        confidence = float(ranked.confidence)
        reasons: list[str] = []
        if repeat is not None:
            i, kind = repeat
            entry = entries[i]
            confidence = max(confidence, REPEAT_CONFIDENCE)
            scale = confidence / candidates[0].score if candidates and candidates[0].score > 0 else 1.0
            rest = [Candidate(c.entry, min(c.score * scale, confidence), c.matched)
                    for c in candidates if c.entry.ext_id != entry.ext_id]
            same = next((t for t in entry.texts if normal_text(t) == normal_text(question)), entry.question)
            candidates = [Candidate(entry, confidence, same)] + rest[: max(len(candidates) - 1, 0)]
            reasons.append(f"the bank holds this question word for word (entry {entry.ext_id})" if kind == "text"
                           else f"entry {entry.ext_id} was imported or learned for {q.ref} of this questionnaire, "
                                "with nearly the same text")
        if not candidates:
            return MatchResult(question, "none", None, 0.0, 0.0, [], ["no bank entry resembles this question"])
        top = candidates[0]
        tier = tier_for(confidence)
        reasons.insert(0, f"confidence {confidence:.2f} → {tier}")
        withhold = repeat is None and inverts(question, top.entry.question, top.entry.short_answer)
        if withhold:
            if tier == "high":
                tier = "medium"
            reasons.append(f"the entry's short answer “{top.entry.short_answer}” answers “{top.entry.question}”, "
                           "which asks the other way round: only its narrative answer is used")
        clash = None if repeat is not None or not self._distinct else self._distinct.conflict(question, top.entry.texts)
        if clash:
            if tier in ANSWER_TIERS:
                tier = "low"
            reasons.append(f"the question asks about “{clash[0]}” and entry {top.entry.ext_id} about “{clash[1]}”, "
                           "which the glossary says are not the same: shown as a suggestion only")
        if top.entry.is_overdue():
            if tier == "high":
                tier = "medium"
            reasons.append(f"entry {top.entry.ext_id} is past its review-by date ({top.entry.review_by}): "
                           "it is never used in the high tier until the trust team reviews it")
        answer = top.entry if tier in ANSWER_TIERS else None
        if answer is None and tier != "none" and not clash:
            reasons.append("not sure enough to answer: shown as a suggestion only")
        return MatchResult(question, tier, answer, top.score, confidence, candidates, reasons,
                           repeat=repeat[1] if repeat else None, withhold_short_answer=withhold, kept_apart=clash)


def _repeat_index(entries: list[BankEntry]) -> tuple[dict, dict]:
    """normalised text -> [(entry index, origin)], ref -> [(entry index, origin, normalised text)].
    An origin is (family, ref, section) with ref and section normalised."""
    by_text: dict[str, list[tuple[int, tuple]]] = {}
    by_ref: dict[str, list[tuple[int, tuple, str]]] = {}
    for i, e in enumerate(entries):
        own = (e.origin_family, _normal_label(e.origin_ref), _normal_label(e.origin_section))
        for t in e.texts:
            norm = normal_text(t)
            if not norm:
                continue
            learned = e.learned_origins.get(t)
            origin = (learned[0], _normal_label(learned[1]), _normal_label(learned[2])) if learned else (
                own if t == e.question else (None, "", ""))
            by_text.setdefault(norm, []).append((i, origin))
            if origin[1]:
                by_ref.setdefault(origin[1], []).append((i, origin, norm))
    return by_text, by_ref


def _narrow(hits: list[tuple[int, tuple]], ref: str, section: str) -> int | None:
    """The one entry among those holding the same text, or None: one entry
    decides by itself; several are told apart by the question's ref, then its section."""
    entries = {i for i, _ in hits}
    if len(entries) == 1:
        return next(iter(entries))
    for key, pos in ((ref, 1), (section, 2)):
        if key:
            found = {i for i, origin in hits if origin[pos] == key}
            if len(found) == 1:
                return next(iter(found))
            if found:
                entries = found
                hits = [h for h in hits if h[0] in found]
    return None

