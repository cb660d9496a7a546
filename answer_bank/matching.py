"""The matching engine: question text in, the approved entry to answer with
(or none), a confidence tier, and ranked alternatives out.

This module joins the bank (approved entries, cached vectors) with the
ranking and calibration in `answer_bank.ranking`; see docs/matching.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from answer_bank.embeddings import CachedEmbedder, Embedder, embedder_from_env
from answer_bank.model import BankEntry
from answer_bank.ranking import ANSWER_TIERS, Ranker, tier_for
from answer_bank.store import Bank

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
    changes (an import, an approval, a learned variant).
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

    def refresh(self) -> int:
        """Bring the index up to date with the bank (embedding any new entry
        texts into the cache). Returns the number of texts embedded."""
        before = self.embedder.computed
        self._index()
        return self.embedder.computed - before

    def _index(self) -> tuple[list[BankEntry], Ranker | None]:
        revision = self.bank.revision()
        if revision != self._revision:
            entries = self.bank.list_entries(status="approved")
            ranker = None
            if entries:
                ranker = Ranker(
                    [e.texts for e in entries], self.embedder.embed,
                    extra_texts=[e.answer for e in entries],
                    # e.texts: canonical, curated variants (deduplicated), then learned wordings
                    curated_counts=[len({t for t in (e.question, *e.variants) if t}) for e in entries],
                    query_embed=self.raw_embedder.embed,
                )
            self._entries, self._ranker, self._revision = entries, ranker, revision
        return self._entries, self._ranker

    def match(self, question: str, top_k: int = 5) -> MatchResult:
        return self.match_many([question], top_k=top_k)[0]

    def match_many(self, questions: list[str], top_k: int = 5) -> list[MatchResult]:
        entries, ranker = self._index()
        if ranker is None:
            return [MatchResult(q, "none", None, 0.0, 0.0, [], ["the bank has no approved entries"]) for q in questions]
        ranked = ranker.rank(list(questions), top_k=top_k)
        return [self._decide(q, r, entries) for q, r in zip(questions, ranked)]

    def _decide(self, question: str, ranked, entries: list[BankEntry]) -> MatchResult:
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
