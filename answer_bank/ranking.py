"""Ranking and calibration core of the matcher: pure functions over texts and vectors.

No database and no model in here: the caller injects `embed(texts) -> (n, d)`
L2-normalised float32 vectors. See docs/matching.md for the method and the
measurements behind every constant below.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp

# --------------------------------------------------------------------------
# Tokenisation (lexical side only; the dense side always sees the raw text)
# --------------------------------------------------------------------------

_STOP = frozenset("""
a an the and or of to in on for by with at from as is are was were be been being it its this that these those there
their they them we our us you your yours i me my he she his her do does did done doing have has had having will would
shall should can could may might must not no nor so than then too very any all each both either such other some which
who whom whose what when where why how if into onto over under about above below between through during before after
up down out off again further once here also e g eg ie etc per via within without whether
""".split())

# Domain phrases that mean the same thing in security / AI-risk questionnaires, mapped
# to one token before tokenisation. Written from domain knowledge, not from the
# benchmark sets' failures (docs/matching.md).
_PHRASES: list[tuple[str, str]] = [
    (r"multi[\s-]?factor authentication|two[\s-]?factor authentication|2fa|mfa", "mfa"),
    (r"single[\s-]sign[\s-]on|sso", "sso"),
    (r"artificial intelligence", "ai"),
    (r"machine[\s-]learning", "ml"),
    (r"large language models?|llms?", "llm"),
    (r"generative ai|gen[\s-]?ai", "genai"),
    (r"personally identifiable information|personal data|personal information|pii", "pii"),
    (r"data protection impact assessments?|privacy impact assessments?|dpias?", "dpia"),
    (r"(?:solution|service|cloud|technology) providers?|suppliers?", "vendor"),
    (r"professional services|consulting|consultancy|consultants?", "consult"),
    (r"penetration test(?:s|ing)?|pen[\s-]?test(?:s|ing)?", "pentest"),
    (r"sub[\s-]?processors?|sub[\s-]?contractors?|third[\s-]part(?:y|ies)", "thirdparty"),
    (r"red[\s-]team(?:s|ing)?|adversarial test(?:s|ing)?", "redteam"),
    (r"human[\s-]in[\s-]the[\s-]loop|human oversight|human review", "humanoversight"),
    (r"every year|each year|once a year|yearly|annually|annual", "annual"),
]
# Single words (after stemming) with the same meaning here.
_WORD_SYNONYMS = {
    "supplier": "vendor", "client": "custom", "tenant": "custom", "solut": "product",
    "keep": "retain", "kept": "retain", "retent": "retain",
    "staff": "employe", "personnel": "employe", "workforc": "employe",
    "eras": "delet", "erasur": "delet", "purg": "delet",
}

_PHRASE_RE = [(re.compile(r"\b(?:%s)\b" % p), r) for p, r in _PHRASES]
_WORD_RE = re.compile(r"[a-z0-9]+")


# Porter (1980) stemmer, compact. Stdlib only; deterministic.
def _is_cons(w: str, i: int) -> bool:
    c = w[i]
    if c in "aeiou":
        return False
    if c == "y":
        return i == 0 or not _is_cons(w, i - 1)
    return True


def _measure(s: str) -> int:
    n, i, size = 0, 0, len(s)
    while i < size and _is_cons(s, i):
        i += 1
    while i < size:
        while i < size and not _is_cons(s, i):
            i += 1
        if i >= size:
            break
        n += 1
        while i < size and _is_cons(s, i):
            i += 1
    return n


def _has_vowel(s: str) -> bool:
    return any(not _is_cons(s, i) for i in range(len(s)))


def _double_cons(s: str) -> bool:
    return len(s) >= 2 and s[-1] == s[-2] and _is_cons(s, len(s) - 1)


def _cvc(s: str) -> bool:
    return (len(s) >= 3 and _is_cons(s, len(s) - 3) and not _is_cons(s, len(s) - 2)
            and _is_cons(s, len(s) - 1) and s[-1] not in "wxy")


_STEP2 = [("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
          ("abli", "able"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
          ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
          ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")]
_STEP3 = [("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", "")]
_STEP4 = sorted(["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
                 "ism", "ate", "iti", "ous", "ive", "ize"], key=len, reverse=True)


def stem(word: str) -> str:
    """Porter stem of a lowercase word; words with digits or of two letters are kept."""
    w = word
    if len(w) <= 2 or not w.isalpha():
        return w
    if w.endswith("sses") or w.endswith("ies"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    again = False
    if w.endswith("eed"):
        if _measure(w[:-3]) > 0:
            w = w[:-1]
    elif w.endswith("ed") and _has_vowel(w[:-2]):
        w, again = w[:-2], True
    elif w.endswith("ing") and _has_vowel(w[:-3]):
        w, again = w[:-3], True
    if again:
        if w.endswith(("at", "bl", "iz")):
            w += "e"
        elif _double_cons(w) and w[-1] not in "lsz":
            w = w[:-1]
        elif _measure(w) == 1 and _cvc(w):
            w += "e"
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    for suffix, repl in _STEP2:
        if w.endswith(suffix):
            if _measure(w[: -len(suffix)]) > 0:
                w = w[: -len(suffix)] + repl
            break
    for suffix, repl in _STEP3:
        if w.endswith(suffix):
            if _measure(w[: -len(suffix)]) > 0:
                w = w[: -len(suffix)] + repl
            break
    for suffix in _STEP4:
        if w.endswith(suffix):
            base = w[: -len(suffix)]
            if _measure(base) > 1 and (suffix != "ion" or base.endswith(("s", "t"))):
                w = base
            break
    if w.endswith("e"):
        base = w[:-1]
        m = _measure(base)
        if m > 1 or (m == 1 and not _cvc(base)):
            w = base
    if _measure(w) > 1 and _double_cons(w) and w.endswith("l"):
        w = w[:-1]
    return w


_STEM_CACHE: dict[str, str] = {}


def tokenize(text: str, *, synonyms: bool = True) -> list[str]:
    """Lexical tokens of a text: lowercase, domain phrases joined, stop-words out, Porter stems."""
    low = text.lower()
    if synonyms:
        for rx, repl in _PHRASE_RE:
            low = rx.sub(repl, low)
    out = []
    for w in _WORD_RE.findall(low):
        if w in _STOP:
            continue
        s = _STEM_CACHE.get(w)
        if s is None:
            s = _STEM_CACHE[w] = stem(w)
        if synonyms:
            s = _WORD_SYNONYMS.get(s, s)
        out.append(s)
    return out


_SENTENCE_SPLIT = re.compile(r"(?<=[.?!])\s+(?=[A-Z(\"'])")


def sentence_chunks(text: str, min_sentences: int = 2) -> list[str]:
    """The sentences of a long text (a control title followed by its specification)."""
    parts = [" ".join(p.split()) for p in _SENTENCE_SPLIT.split(text) if len(p.strip()) > 2]
    return parts if len(parts) >= min_sentences else []


class _LexicalIndex:
    """BM25 and IDF-weighted overlap over many short texts, as sparse matrices."""

    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        for i, toks in enumerate(docs):
            counts: dict[int, int] = {}
            for t in toks:
                j = vocab.setdefault(t, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            rows.extend([i] * len(counts))
            cols.extend(counts.keys())
            vals.extend(counts.values())
        self.vocab = vocab
        n, v = len(docs), len(vocab)
        rows_a = np.asarray(rows, np.int64)
        cols_a = np.asarray(cols, np.int64)
        tf = np.asarray(vals, np.float32)
        df = np.bincount(cols_a, minlength=v).astype(np.float32)
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        length = np.bincount(rows_a, weights=tf, minlength=n).astype(np.float32)
        self.avg_len = float(length.mean()) if n and length.mean() > 0 else 1.0
        norm = tf + k1 * (1 - b + b * length[rows_a] / self.avg_len)
        bm25 = self.idf[cols_a] * tf * (k1 + 1) / norm
        # Stored transposed (vocab x docs) so a query product is one CSR x CSC.
        self.bm25_t = sp.csr_matrix((bm25, (cols_a, rows_a)), shape=(v, n), dtype=np.float32)
        self.idf_t = sp.csr_matrix((self.idf[cols_a], (cols_a, rows_a)), shape=(v, n), dtype=np.float32)
        self.doc_idf = np.asarray(self.idf_t.sum(axis=0)).ravel().astype(np.float32)
        self.max_idf = float(self.idf.max()) if v else 1.0

    def idf_of(self, term: str) -> float:
        j = self.vocab.get(term)
        return float(self.idf[j]) if j is not None else self.max_idf

    def query_matrix(self, queries: list[list[str]]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Binary query-term matrix and each query's IDF mass (unknown terms count at the max IDF)."""
        rows, cols, mass = [], [], np.zeros(len(queries), np.float32)
        for i, toks in enumerate(queries):
            for t in set(toks):
                j = self.vocab.get(t)
                if j is None:
                    mass[i] += self.max_idf
                else:
                    rows.append(i)
                    cols.append(j)
                    mass[i] += self.idf[j]
        q = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(queries), len(self.vocab)))
        return q, mass

    def scores(self, q: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """(BM25, IDF mass shared) of each query with each text, dense (nq, ntexts)."""
        return (q @ self.bm25_t).toarray(), (q @ self.idf_t).toarray()


def _group_max(m: np.ndarray, starts: np.ndarray, empty: float) -> np.ndarray:
    """Max over contiguous column groups; groups of size zero get `empty`."""
    nq, ngroups = m.shape[0], len(starts)
    out = np.full((nq, ngroups), empty, np.float32)
    if m.shape[1] == 0:
        return out
    sizes = np.diff(np.append(starts, m.shape[1]))
    nonempty = sizes > 0
    if nonempty.any():
        out[:, nonempty] = np.maximum.reduceat(m, starts[nonempty], axis=1)
    return out


@dataclass
class RankedList:
    candidates: list[tuple[int, float]]  # (entry index, score in [0, 1]) best first
    confidence: float  # calibrated P(candidates[0] is right and an answer should be given)
    features: dict[str, float] = field(default_factory=dict)


# Fusion weights of the per-query z-scored signals, fitted as a conditional logit
# (softmax over the bank, likelihood of the labelled entry) on the three bench sets
# together; each leave-one-set-out fold gave weights within ±30 % of these and the
# same top-1 (docs/matching.md). Their scale makes softmax(fused) a probability.
FUSION = {"dense": 1.35, "lexical": 0.71, "context": 0.24, "answer": 12.0}
MIN_ANSWER_TOKENS = 10


class Ranker:
    """Ranks bank entries for incoming questions and calibrates a confidence.

    entries[i] holds the texts of bank entry i: the canonical question first,
    then its variants. extra_texts[i] is entry i's answer text, or None.
    `embed` is called once here with every text (the caller caches vectors)
    and once per `rank` call with the queries.
    """

    def __init__(self, entries: list[list[str]], embed: Callable[[list[str]], np.ndarray], *,
                 extra_texts: list[str | None] | None = None, block_size: int = 32):
        self.embed = embed
        self.block_size = block_size
        self.n_entries = len(entries)
        texts: list[str] = []
        owner: list[int] = []
        units: list[list[str]] = []  # lexical units: sentences of long texts, else the text
        unit_owner: list[int] = []
        for i, entry in enumerate(entries):
            cleaned = list(dict.fromkeys(" ".join(t.split()) for t in entry if t and t.strip()))
            for t in cleaned or [""]:  # an entry without text keeps a place (it never ranks high)
                texts.append(t)
                owner.append(i)
                for u in sentence_chunks(t) or [t]:
                    units.append(tokenize(u))
                    unit_owner.append(i)
        # Answers help only when they say something: a placeholder or a bare
        # "Yes." would add noise, so short answers are left out.
        answers: list[str] = []
        self.answer_owner = np.zeros(0, np.int64)
        if extra_texts is not None:
            keep = [(i, " ".join(a.split())) for i, a in enumerate(extra_texts[: self.n_entries])
                    if a and len(tokenize(a)) >= MIN_ANSWER_TOKENS]
            self.answer_owner = np.asarray([i for i, _ in keep], np.int64)
            answers = [a for _, a in keep]
        self.owner = np.asarray(owner, np.int64)
        self.unit_owner = np.asarray(unit_owner, np.int64)
        self.starts = np.searchsorted(self.owner, np.arange(self.n_entries))
        self.unit_starts = np.searchsorted(self.unit_owner, np.arange(self.n_entries))
        self.units = units
        everything = texts + answers
        if everything:
            vecs = np.ascontiguousarray(np.asarray(embed(everything), dtype=np.float32))
            self.vecs, self.answer_vecs = vecs[: len(texts)], vecs[len(texts):]
            empty = np.asarray([not t for t in texts])
            if empty.any():
                self.vecs[empty] = 0.0
        else:
            self.vecs = self.answer_vecs = np.zeros((0, 1), np.float32)
        self.lex = _LexicalIndex(units)

    # -- scoring --------------------------------------------------------
    def signals(self, qvecs: np.ndarray, qtokens: list[list[str]]) -> dict[str, np.ndarray]:
        """Raw entry-level signals (nq, n_entries) for one block of queries."""
        sims = qvecs @ self.vecs.T
        # Max over the entry's texts, anchored on its canonical question: curated
        # wording counts more than any one variant (docs/matching.md).
        dense = 0.5 * (_group_max(sims, self.starts, -1.0) + sims[:, self.starts])
        q, _ = self.lex.query_matrix(qtokens)
        bm25, _ = self.lex.scores(q)
        out = {"dense": dense, "lexical": _group_max(bm25, self.unit_starts, 0.0)}
        answer = np.zeros_like(dense)
        if len(self.answer_owner):
            a = qvecs @ self.answer_vecs.T
            answer[:, self.answer_owner] = a - a.mean(axis=1, keepdims=True)
        out["answer"] = answer
        return out

    def base_scores(self, signals: dict[str, np.ndarray]) -> np.ndarray:
        """Fused score before context: weighted per-query z-scores plus the answer term."""
        return (FUSION["dense"] * _zscore(signals["dense"]) + FUSION["lexical"] * _zscore(signals["lexical"])
                + FUSION["answer"] * signals["answer"])

    def rank(self, queries: Sequence[str], top_k: int = 5, *, sequential: bool = True,
             exclude: Sequence[Sequence[int]] | None = None) -> list[RankedList]:
        """Top `top_k` entries for each query, best first, with a calibrated confidence.

        sequential: the queries are consecutive questions of one questionnaire, so
        each question's predecessor lends a little context (follow-ups such as
        "Are the policies reviewed annually?"). Pass False for unrelated queries.
        exclude: entry indices to leave out, per query (simulates a bank that
        does not cover the question; used for calibration).
        """
        queries = list(queries)
        if not queries:
            return []
        if self.n_entries == 0 or top_k <= 0:
            return [RankedList([], 0.0, {}) for _ in queries]
        qvecs = np.asarray(self.embed(queries), dtype=np.float32)
        qtokens = [tokenize(q) for q in queries]
        out: list[RankedList] = []
        prev = np.zeros((1, self.n_entries), np.float32)
        for lo in range(0, len(queries), self.block_size):
            hi = min(lo + self.block_size, len(queries))
            sig = self.signals(qvecs[lo:hi], qtokens[lo:hi])
            base = self.base_scores(sig)
            fused = base
            if sequential:
                fused = base + FUSION["context"] * np.vstack([prev, base[:-1]])
                prev = base[-1:]
            for r in range(hi - lo):
                row = fused[r]
                if exclude is not None and len(exclude[lo + r]):
                    row = row.copy()
                    row[np.asarray(list(exclude[lo + r]), np.int64)] = -np.inf
                out.append(self._ranked(row, sig, r, qtokens[lo + r], top_k))
        return out

    def _ranked(self, fused: np.ndarray, sig: dict[str, np.ndarray], r: int, qtokens: list[str],
                top_k: int) -> RankedList:
        valid = np.isfinite(fused)
        n_valid = int(valid.sum())
        if n_valid == 0:
            return RankedList([], 0.0, {})
        kk = min(max(top_k, 2), n_valid)
        top = np.argpartition(-fused, kk - 1)[:kk]
        top = top[np.argsort(-fused[top], kind="stable")]
        # Softmax over the bank: the fusion weights are log-odds, so this is the
        # probability of each candidate given that one of them is right.
        shifted = np.exp(fused[valid] - fused[top[0]])
        p = np.exp(fused[top] - fused[top[0]]) / shifted.sum()
        j = int(top[0])
        feats = {
            "p_top": float(p[0]),
            "margin": float(fused[top[0]] - fused[top[1]]) if len(top) > 1 else 10.0,
            "fused": float(fused[j]),
            "dense": float(sig["dense"][r, j]),
            "lexical": float(sig["lexical"][r, j]),
        }
        feats.update(self._coverage(qtokens, j))
        conf = confidence(feats)
        cands = [(int(e), float(conf * p[k] / p[0])) for k, e in enumerate(top[:top_k])]
        return RankedList(cands, conf, feats)

    def _coverage(self, qtokens: list[str], entry: int) -> dict[str, float]:
        """How much of the question's lexical weight the entry's best unit covers."""
        qset = set(qtokens)
        if not qset:
            return {"coverage": 0.0, "unit_coverage": 0.0, "missing_idf": 0.0}
        idf = {t: self.lex.idf_of(t) for t in qset}
        mass = sum(idf.values())
        lo = self.unit_starts[entry]
        hi = self.unit_starts[entry + 1] if entry + 1 < self.n_entries else len(self.units)
        best = (0.0, 0.0, max(idf.values()))
        for u in self.units[lo:hi]:
            uset = set(u)
            shared = sum(idf[t] for t in qset & uset)
            umass = sum(self.lex.idf_of(t) for t in uset) or 1.0
            missing = max((idf[t] for t in qset - uset), default=0.0)
            cand = (shared / mass, shared / umass, missing)
            if cand[0] > best[0]:
                best = cand
        return {"coverage": best[0], "unit_coverage": best[1], "missing_idf": best[2] / max(self.lex.max_idf, 1e-6)}


def _zscore(m: np.ndarray) -> np.ndarray:
    mean = m.mean(axis=1, keepdims=True)
    std = m.std(axis=1, keepdims=True)
    return (m - mean) / np.maximum(std, 1e-6)


# Placeholder calibration; replaced by fitted coefficients below.
CALIBRATION = {"bias": -3.0, "p_top": 2.0, "dense": 3.0}


def confidence(features: dict[str, float]) -> float:
    z = CALIBRATION["bias"] + sum(w * features.get(k, 0.0) for k, w in CALIBRATION.items() if k != "bias")
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


TIER_THRESHOLDS = (("high", 0.9), ("medium", 0.75), ("low", 0.3))
ANSWER_TIERS = ("high", "medium")


def tier_for(confidence: float) -> str:
    for name, lo in TIER_THRESHOLDS:
        if confidence >= lo:
            return name
    return "none"
