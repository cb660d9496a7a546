"""The matching engine: question text in, the approved entry to answer with
(or none), a confidence tier, and ranked alternatives out.

This module joins the bank (approved entries, cached vectors) with the
ranking and calibration in `answer_bank.ranking`; see docs/matching.md.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from answer_bank.embeddings import CachedEmbedder, Embedder, embedder_from_env
from answer_bank.model import BankEntry
from answer_bank.store import Bank

if TYPE_CHECKING:
    from answer_bank.ranking import Ranker

# Below this many questions the encoding is not started ahead of the index
# (a search box's single question gains nothing from a thread).
PREFETCH_MIN_QUESTIONS = 8

TIERS = ("high", "medium", "low", "none")


@dataclass
class Candidate:
    entry: BankEntry
    score: float


@dataclass
class MatchResult:
    question: str
    tier: str  # high | medium | low | none
    answer: BankEntry | None  # the decision: the entry to answer with, or None
    score: float
    confidence: float
    candidates: list[Candidate] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def to_json(self, qid: str | None = None) -> dict:
        out = {} if qid is None else {"qid": qid}
        out.update({
            "answer": self.answer.ext_id if self.answer else None,
            "tier": self.tier,
            "matches": [{"id": c.entry.ext_id, "score": round(c.score, 4)} for c in self.candidates],
        })
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
            from answer_bank.ranking import Glossary, Ranker  # scipy: imported while the questions are encoded

            entries = self.bank.list_entries(status="approved")
            ranker = None
            if entries:
                ranker = Ranker(
                    [e.texts for e in entries], self.embedder.embed,
                    extra_texts=[e.answer for e in entries],
                    # e.texts: canonical, curated variants (deduplicated), then learned wordings
                    curated_counts=[len({t for t in (e.question, *e.variants) if t}) for e in entries],
                    query_embed=self._embed_questions,
                    # the bank's glossary: its terms read alike in questions and bank texts
                    glossary=Glossary(self.bank.glossary_groups()),
                )
            self._entries, self._ranker, self._revision = entries, ranker, revision
        return self._entries, self._ranker

    def match(self, question: str, top_k: int = 5) -> MatchResult:
        return self.match_many([question], top_k=top_k)[0]

    def match_many(self, questions: list[str], top_k: int = 5) -> list[MatchResult]:
        questions = list(questions)
        self._prefetch(questions, top_k)
        try:
            entries, ranker = self._index()
            if ranker is None:
                return [MatchResult(q, "none", None, 0.0, 0.0, [], ["the bank has no approved entries"])
                        for q in questions]
            ranked = ranker.rank(questions, top_k=top_k)
        finally:
            pending = getattr(self._prefetched, "pending", None)
            self._prefetched.pending = None
            if pending is not None:
                pending[1].exception()  # wait: never leave the thread running behind us
        return [self._decide(q, r, entries) for q, r in zip(questions, ranked)]

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

    def _decide(self, question: str, ranked, entries: list[BankEntry]) -> MatchResult:
        from answer_bank.ranking import ANSWER_TIERS, tier_for

        candidates = [Candidate(entries[i], float(s)) for i, s in ranked.candidates]
        if not candidates:
            return MatchResult(question, "none", None, 0.0, 0.0, [], ["no bank entry resembles this question"])
        top = candidates[0]
        tier = tier_for(ranked.confidence)
        reasons = [f"confidence {ranked.confidence:.2f} → {tier}"]
        if top.entry.is_overdue():
            if tier == "high":
                tier = "medium"
            reasons.append(f"entry {top.entry.ext_id} is past its review-by date ({top.entry.review_by}): "
                           "it is never used in the high tier until the trust team reviews it")
        answer = top.entry if tier in ANSWER_TIERS else None
        if answer is None and tier != "none":
            reasons.append("not sure enough to answer: shown as a suggestion only")
        return MatchResult(question, tier, answer, top.score, float(ranked.confidence), candidates, reasons)

