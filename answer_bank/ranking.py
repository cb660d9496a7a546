"""Ranking and calibration core of the matcher: pure functions over texts and vectors.

No database and no model in here: the caller injects `embed(texts) -> (n, d)`
L2-normalised float32 vectors. See docs/matching.md for the method and the
measurements behind every constant below.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from answer_bank.adapter import apply_adapter

# --------------------------------------------------------------------------
# Tokenisation (lexical side only; the dense side always sees the raw text)
# --------------------------------------------------------------------------

_STOP = frozenset("""
a an the and or of to in on for by with at from as is are was were be been being it its this that these those there
their they them we our us you your yours i me my he she his her do does did done doing have has had having will would
shall should can could may might must not no nor so than then too very any all each both either such other some which
who whom whose what when where why how if into onto over under about above below between through during before after
up down out off again further once here also e g eg ie etc per via within without whether
s t d ll m re ve don doesn didn isn aren wasn weren hasn haven hadn won wouldn shouldn couldn cannot
""".split())  # the second line: pieces of contractions ("don't", "vendor's") split at the apostrophe

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


_TOKEN_CACHE: dict[str, str | None] = {}  # word -> its token (stem), None for a stop-word
_KEY_CACHE: dict[str, str] = {}  # word -> what a glossary term's word is matched on (its stem)


def _word_token(w: str) -> str | None:
    tok = _TOKEN_CACHE.get(w, "")
    if tok == "":
        if w.startswith("#"):
            tok = w[1:]
        elif w in _STOP:
            tok = None
        else:
            tok = stem(w)
        if len(_TOKEN_CACHE) < 500_000:
            _TOKEN_CACHE[w] = tok
    return tok


def _word_key(w: str) -> str:
    key = _KEY_CACHE.get(w)
    if key is None:
        key = w if w in _STOP else stem(w)
        if len(_KEY_CACHE) < 500_000:
            _KEY_CACHE[w] = key
    return key


class Glossary:
    """The terms that mean the same in one bank (its glossary, answer_bank.glossary),
    as the tokeniser reads them: every term of a group becomes one token, in the
    questions and in the bank's texts alike. A term matches on the stems of its
    words, so "penetration test" also covers "penetration testing" and "pen tests";
    two groups with a term of the same stems are one group."""

    def __init__(self, groups: Iterable[Sequence[str]] = ()):
        parent: dict[tuple[str, ...], tuple[str, ...]] = {}

        def find(k: tuple[str, ...]) -> tuple[str, ...]:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for group in groups:
            keys = [k for k in (tuple(_word_key(w) for w in _WORD_RE.findall(t.lower())) for t in group) if k]
            for k in keys:
                parent.setdefault(k, k)
            for k in keys[1:]:
                ra, rb = find(keys[0]), find(k)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        members: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for k in parent:
            members.setdefault(find(k), []).append(k)
        # A group's token cannot collide with a word's stem (':' is never in a word).
        self.phrases = {k: "g:" + "_".join(root) for root, ks in members.items() if len(ks) > 1 for k in ks}
        self.first = frozenset(k[0] for k in self.phrases)
        self.maxlen = max((len(k) for k in self.phrases), default=0)
        # Words seen so far, and those whose stem starts a term: most texts have
        # no term, and two set operations per text say so.
        self._seen: set[str] = set()
        self._first_words: set[str] = set()

    def __len__(self) -> int:
        return len(self.phrases)

    def join(self, words: list[str]) -> list[str]:
        """`words` with every glossary term replaced by its group's token (marked
        with '#': not stemmed again); the longest term wins."""
        new = self._seen.issuperset(words) or set(words) - self._seen
        if new is not True:
            self._first_words.update(w for w in new if _word_key(w) in self.first)
            if len(self._seen) < 500_000:
                self._seen.update(new)
        if self._first_words.isdisjoint(words):
            return words
        keys = [_word_key(w) for w in words]
        out, i, n = [], 0, len(words)
        while i < n:
            if keys[i] in self.first:
                for size in range(min(self.maxlen, n - i), 0, -1):
                    tok = self.phrases.get(tuple(keys[i:i + size]))
                    if tok is not None:
                        out.append("#" + tok)
                        i += size
                        break
                else:
                    out.append(words[i])
                    i += 1
            else:
                out.append(words[i])
                i += 1
        return out


def tokenize(text: str, glossary: Glossary | None = None) -> list[str]:
    """Lexical tokens of a text: lowercase words, the glossary's terms joined,
    stop-words out, Porter stems."""
    return tokenize_many([text], glossary)[0]


def tokenize_many(texts: list[str], glossary: Glossary | None = None) -> list[list[str]]:
    """`tokenize` over many texts."""
    cache, findall = _TOKEN_CACHE, _WORD_RE.findall
    join = glossary.join if glossary else None
    out = []
    for text in texts:
        words = findall(text.lower())
        if join is not None:
            words = join(words)
        toks = []
        for w in words:
            tok = cache.get(w, "")
            if tok == "":
                tok = _word_token(w)
            if tok is not None:
                toks.append(tok)
        out.append(toks)
    return out


_SENTENCE_SPLIT = re.compile(r"(?<=[.?!])\s+(?=[A-Z\"'])")
_SENTENCE_END = re.compile(r"[.?!]\s+[A-Z\"']")


def sentence_chunks(text: str, min_sentences: int = 2) -> list[str]:
    """The sentences of a long text (a control title followed by its specification), or []."""
    if not _SENTENCE_END.search(text):
        return []
    parts = [" ".join(p.split()) for p in _SENTENCE_SPLIT.split(text) if len(p.strip()) > 2]
    return parts if len(parts) >= min_sentences else []


class _LexicalIndex:
    """Okapi BM25 over many short texts, as one sparse (vocabulary x texts) matrix."""

    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75):
        n = len(docs)
        flat = list(itertools.chain.from_iterable(docs))
        vocab = {t: j for j, t in enumerate(dict.fromkeys(flat))}
        lengths = np.fromiter(map(len, docs), np.int64, n)
        terms = np.fromiter(map(vocab.__getitem__, flat), np.int64, len(flat))
        v = len(vocab)
        doc_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
        keys, tf = np.unique(doc_of * max(v, 1) + terms, return_counts=True)
        rows, cols = keys // max(v, 1), keys % max(v, 1)
        tf = tf.astype(np.float32)
        df = np.bincount(cols, minlength=v).astype(np.float32)
        self.vocab = vocab
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
        weight = self.idf[cols] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[rows] / avg))
        # Stored transposed (vocabulary x texts): a query product is one sparse product.
        self.bm25_t = sp.csr_matrix((weight.astype(np.float32), (cols, rows)), shape=(v, n), dtype=np.float32)
        self.max_idf = float(self.idf.max()) if v else 1.0

    def idf_of(self, term: str) -> float:
        """IDF of a term; a term no text has counts as the rarest."""
        j = self.vocab.get(term)
        return float(self.idf[j]) if j is not None else self.max_idf

    def scores(self, queries: list[list[str]]) -> sp.csr_matrix:
        """BM25 of each query with each text (sparse, nq x ntexts)."""
        rows, cols = [], []
        for i, toks in enumerate(queries):
            for t in set(toks):
                j = self.vocab.get(t)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        q = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(queries), len(self.vocab)))
        return q @ self.bm25_t


def _single_threaded():
    """Limit BLAS threads where threadpoolctl is installed; otherwise do nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _group_max(m: np.ndarray, starts: np.ndarray, empty: float) -> np.ndarray:
    """Max over contiguous column groups; groups of size zero get `empty`."""
    nq, ngroups = m.shape[0], len(starts)
    out = np.full((nq, ngroups), empty, np.float32)
    if m.shape[1] == 0 or ngroups == 0:
        return out
    sizes = np.diff(np.append(starts, m.shape[1]))
    nonempty = sizes > 0
    if nonempty.all():
        return np.maximum.reduceat(m, starts, axis=1).astype(np.float32, copy=False)
    if nonempty.any():
        out[:, nonempty] = np.maximum.reduceat(m, starts[nonempty], axis=1)
    return out


@dataclass
class RankedList:
    candidates: list[tuple[int, float]]  # (entry index, score in [0, 1]) best first
    confidence: float  # calibrated P(candidates[0] is right and an answer should be given)
    features: dict[str, float] = field(default_factory=dict)
    matched: list[str] = field(default_factory=list)  # per candidate: its text closest to the question


# Fusion weights of the per-query z-scored signals, fitted as a conditional logit
# (softmax over the bank, likelihood of the labelled entry) on the three bench sets
# together; the leave-one-set-out folds are in docs/matching.md. Their scale makes
# softmax(fused) a probability. "context" and "next" weigh the previous and the next
# question's base scores (sequential questions only). "answer" multiplies the centred
# cosine of the question with the entry's answer text; fitted on the starter bank's variants.
FUSION = {"dense": 1.26, "lexical": 0.68, "context": 0.23, "next": 0.18, "answer": 12.4, "answer_lexical": 0.7}
# "answer_lexical" weighs BM25 over the sentences of the entries' answers (z-scored),
# for answers of at least MIN_ANSWER_TOKENS: a question about one point an answer
# makes ("external libraries") finds the entry whose answer makes it. Fitted on the
# starter bank's variants like "answer" (docs/matching.md); 0 change on banks of placeholders.
# A learned text (a customer wording accepted in review) counts in full for a
# question whose cosine with it is at least LEARNED_MIN_COSINE (a repeat of that
# wording, possibly with small edits). For any other question it counts with a
# discount: its cosine minus LEARNED_DENSE_DISCOUNT, its BM25 times
# LEARNED_LEXICAL_FACTOR, and not at all in the confidence's coverage. So a
# sibling question is not pulled by a close learned wording of another control,
# while wordings learned for a broad entry still help (docs/matching.md,
# "Learning from review", measured with bench/matching_experiments.py section 5).
LEARNED_MIN_COSINE = 0.9
LEARNED_DENSE_DISCOUNT = 0.15
LEARNED_LEXICAL_FACTOR = 0.75
MIN_ANSWER_TOKENS = 10  # shorter answers ("Yes.", placeholders) are not used to match
# Above this many texts the dense scan runs on PCA-reduced vectors and only the
# best candidates are rescored exactly (a full float32 scan of 100k texts is
# memory-bound at ~40 ms on a small machine).
EXACT_LIMIT = 20_000
COARSE_DIM = 64
RESCORE = 300


def _discount_learned(sims: np.ndarray, learned: np.ndarray) -> np.ndarray:
    """Cosines of texts, a learned one's discounted unless the question nearly repeats it."""
    return np.where(learned & (sims < LEARNED_MIN_COSINE), sims - np.float32(LEARNED_DENSE_DISCOUNT), sims)


class Ranker:
    """Ranks bank entries for incoming questions and calibrates a confidence.

    entries[i] holds the texts of bank entry i: the canonical question first,
    then its variants. extra_texts[i] is entry i's answer text, or None.
    curated_counts[i], when given, is how many of entries[i]'s first texts are
    curated (canonical + written variants); the texts after them are learned
    (customer wordings recorded from accepted reviews). A learned text counts in
    full only for a question that nearly repeats it (cosine >= LEARNED_MIN_COSINE)
    and with a discount otherwise: the same wording matches again, a sibling
    question is not pulled. Without curated_counts every text is curated.
    `embed` is called once here with every text and answer (the caller caches
    vectors) and once per `rank` call with the queries.
    """

    def __init__(self, entries: list[list[str]], embed: Callable[[list[str]], np.ndarray], *,
                 extra_texts: list[str | None] | None = None, curated_counts: Sequence[int] | None = None,
                 query_embed: Callable[[list[str]], np.ndarray] | None = None, block_size: int = 32,
                 glossary: Glossary | None = None,
                 adapter: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray | None] | None = None):
        # `adapter(anchors, labels, canon) -> W or None`: the bank adapter (answer_bank/adapter.py),
        # fitted on the bank's own texts and applied to the bank and the questions alike.
        # `embed` is for the bank's texts (the caller may cache them);
        # `query_embed`, when given, for the questions (default: `embed`).
        # `glossary`: the bank's terms that mean the same, read alike in the
        # bank's texts and the questions (lexical signal and coverage).
        self.glossary = glossary
        self.embed = embed
        self.query_embed = query_embed or embed
        self.block_size = block_size
        self.n_entries = len(entries)
        texts: list[str] = []
        owner: list[int] = []
        learned: list[bool] = []
        unit_texts: list[str] = []  # lexical units: sentences of long texts, else the text
        unit_owner: list[int] = []
        unit_text: list[int] = []  # the text each unit comes from
        for i, entry in enumerate(entries):
            n_curated = max(int(curated_counts[i]), 1) if curated_counts is not None else len(entry)
            cleaned: dict[str, bool] = {}  # text -> learned; a wording both curated and learned is curated
            for k, t in enumerate(entry):
                if t and t.strip():
                    cleaned.setdefault(" ".join(t.split()), k >= n_curated)
            if cleaned and next(iter(cleaned.values())):
                cleaned[next(iter(cleaned))] = False  # the first text is the canonical one
            for t, is_learned in (cleaned or {"": False}).items():  # an entry without text keeps its place
                chunks = sentence_chunks(t) or [t]
                unit_texts.extend(chunks)
                unit_owner.extend([i] * len(chunks))
                unit_text.extend([len(texts)] * len(chunks))
                texts.append(t)
                owner.append(i)
                learned.append(is_learned)
        self.texts = texts
        units = tokenize_many(unit_texts, glossary)
        # Answers help only when they say something: a placeholder or a bare
        # "Yes." would add noise, so short answers are left out.
        answers: list[str] = []
        answer_owner: list[int] = []
        given = [(i, a) for i, a in enumerate((extra_texts or [])[: self.n_entries]) if a and a.strip()]
        answer_units: list[str] = []  # sentences of the answers, for the answer-lexical signal
        answer_unit_owner: list[int] = []
        for (i, a), toks in zip(given, tokenize_many([a for _, a in given], glossary)):
            if len(toks) >= MIN_ANSWER_TOKENS:
                answers.append(" ".join(a.split()))
                answer_owner.append(i)
                chunks = sentence_chunks(answers[-1], 1) or [answers[-1]]
                answer_units.extend(chunks)
                answer_unit_owner.extend([i] * len(chunks))
        self.answer_lex = _LexicalIndex(tokenize_many(answer_units, glossary)) if answer_units else None
        self.answer_unit_owner = np.asarray(answer_unit_owner, np.int64)
        self.owner = np.asarray(owner, np.int64)
        self.unit_owner = np.asarray(unit_owner, np.int64)
        self.answer_owner = np.asarray(answer_owner, np.int64)
        self.has_answer = np.zeros(self.n_entries, bool)
        self.has_answer[self.answer_owner] = True
        self.starts = np.searchsorted(self.owner, np.arange(self.n_entries))
        self.ends = np.append(self.starts[1:], len(texts)).astype(np.int64)
        self.units = units
        self.unit_starts = np.searchsorted(self.unit_owner, np.arange(self.n_entries))
        self.unit_ends = np.append(self.unit_starts[1:], len(units)).astype(np.int64)
        self.single_text = bool(len(texts) == self.n_entries)
        self.learned = np.asarray(learned, bool)
        self.learned_idx = np.flatnonzero(self.learned)
        # Lexical units of learned texts, and the position of their text in learned_idx.
        unit_text_arr = np.asarray(unit_text, np.int64)
        self.learned_units = np.flatnonzero(self.learned[unit_text_arr]) if len(unit_text_arr) else np.zeros(0, np.int64)
        self.learned_unit_pos = np.searchsorted(self.learned_idx, unit_text_arr[self.learned_units])
        self.unit_learned_pos = np.full(len(unit_texts), -1, np.int64)
        self.unit_learned_pos[self.learned_units] = self.learned_unit_pos
        everything = texts + answers
        vecs = np.asarray(embed(everything), dtype=np.float32) if everything else np.zeros((0, 1), np.float32)
        self.vecs = np.ascontiguousarray(vecs[: len(texts)])
        self.answer_vecs = np.ascontiguousarray(vecs[len(texts):])
        empty = np.asarray([not t for t in texts], bool)
        if empty.any():
            self.vecs[empty] = 0.0
        self.adapter_examples = 0  # the bank's own texts the adapter was offered
        self.adapter_matrix = self._fit_adapter(adapter, texts) if adapter is not None else None
        self.adapter_inverse = None
        self.raw_answer_mean = self.answer_vecs.mean(axis=0) if len(answers) else None
        if self.adapter_matrix is not None:
            # The map ranks; the confidence reads the model's own cosines (the
            # inverse recovers them), so it means the same with or without a map.
            self.adapter_inverse = np.linalg.inv(self.adapter_matrix.astype(np.float64)).astype(np.float32)
            self.vecs = apply_adapter(self.adapter_matrix, self.vecs)
            self.answer_vecs = apply_adapter(self.adapter_matrix, self.answer_vecs)
        self.answer_mean = self.answer_vecs.mean(axis=0) if len(answers) else None
        self.lex = _LexicalIndex(units)
        self.coarse = None
        if len(texts) > EXACT_LIMIT:
            self._build_coarse()

    def _other_texts(self, texts: list[str]) -> list[int]:
        """Indices of every entry's non-empty texts after its canonical question."""
        return [k for i in range(self.n_entries) for k in range(int(self.starts[i]) + 1, int(self.ends[i]))
                if texts[k]]

    def _fit_adapter(self, adapter, texts: list[str]) -> np.ndarray | None:
        """Fit on each entry's other texts and its answer, against the entries' canonical questions."""
        rows = self._other_texts(texts)
        if not rows and not len(self.answer_owner):
            return None
        anchors = np.vstack([self.vecs[rows], self.answer_vecs]) if rows else self.answer_vecs
        labels = np.concatenate([self.owner[rows], self.answer_owner]).astype(np.int64)
        self.adapter_examples = len(anchors)
        return adapter(anchors, labels, self.vecs[self.starts])

    def _build_coarse(self) -> None:
        """PCA-reduced copies of the vectors for the first stage of a large bank."""
        rng = np.random.default_rng(0)
        canon = self.vecs if self.single_text else self.vecs[self.starts]
        pick = rng.choice(len(canon), min(len(canon), 8_000), replace=False)
        sample = np.vstack([canon[pick], self.answer_vecs[: 2_000]]).astype(np.float64)
        centred = sample - sample.mean(axis=0)
        with _single_threaded():  # a small LAPACK call: threads only contend (seconds on a busy machine)
            _, eigvecs = np.linalg.eigh(centred.T @ centred)
        self.proj = np.ascontiguousarray(eigvecs[:, ::-1][:, :COARSE_DIM].astype(np.float32))
        self.mu = sample.mean(axis=0).astype(np.float32)
        shift = self.mu @ self.proj
        # First stage on canonical questions only; variants count in the rescoring.
        self.coarse = np.ascontiguousarray(canon @ self.proj - shift)
        self.coarse_answers = np.ascontiguousarray(self.answer_vecs @ self.proj - shift)
        # Learned texts are gated on their PCA cosine in the first stage (an exact
        # scan of many learned vectors is memory-bound too) and exactly when rescored.
        self.coarse_learned = np.ascontiguousarray(self.vecs[self.learned_idx] @ self.proj - shift)
        # Mean and second moment of the canonical vectors give each query's mean
        # and spread of dense similarity over the bank without a full scan.
        self.canon_mean = canon.mean(axis=0)
        self.canon_second = (sample[: len(pick)].T @ sample[: len(pick)] / len(pick)).astype(np.float32)

    # -- scoring --------------------------------------------------------
    def _entry_dense(self, sims: np.ndarray) -> np.ndarray:
        # Max over the entry's texts, anchored on its canonical question: curated
        # wording counts more than any one variant (docs/matching.md).
        if self.single_text:
            return sims
        return 0.5 * (_group_max(sims, self.starts, -1.0) + sims[:, self.starts])

    def signals(self, qvecs: np.ndarray, qtokens: list[list[str]]) -> dict[str, np.ndarray]:
        """Entry-level signals (nq, n_entries) for one block of queries, with the
        mean and spread of the dense one. On a large bank the dense and answer
        signals are first-stage approximations until `_rescore`."""
        gate = None  # (nq, n_learned): the question nearly repeats that learned text
        if self.coarse is None:
            sims = qvecs @ self.vecs.T
            if len(self.learned_idx):
                lsims = sims[:, self.learned_idx]
                gate = lsims >= LEARNED_MIN_COSINE
                sims[:, self.learned_idx] = np.where(gate, lsims, lsims - LEARNED_DENSE_DISCOUNT)
            dense = self._entry_dense(sims)
            mean, std = dense.mean(axis=1), dense.std(axis=1)
        else:
            qc = qvecs @ self.proj
            if len(self.learned_idx):
                gate = (qc @ self.coarse_learned.T) + (qvecs @ self.mu)[:, None] >= LEARNED_MIN_COSINE
            dense = (qc @ self.coarse.T) + (qvecs @ self.mu)[:, None]
            mean = qvecs @ self.canon_mean
            std = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", qvecs, self.canon_second, qvecs) - mean ** 2, 1e-12))
        bm25 = self.lex.scores(qtokens)
        if gate is not None and len(self.learned_units):
            bm25 = bm25.tocsr()
            pos = self.unit_learned_pos[bm25.indices]
            hit = np.flatnonzero(pos >= 0)
            if len(hit):  # scaled in place: no rebuild of the sparse matrix
                rows = np.repeat(np.arange(bm25.shape[0]), np.diff(bm25.indptr))[hit]
                off = hit[~gate[rows, pos[hit]]]
                bm25.data[off] *= np.float32(LEARNED_LEXICAL_FACTOR)
        if len(self.units) == self.n_entries:
            lexical = bm25.toarray()
        elif bm25.nnz * 8 < bm25.shape[0] * bm25.shape[1]:
            coo = bm25.tocoo()
            lexical = np.zeros((len(qtokens), self.n_entries), np.float32)
            np.maximum.at(lexical, (coo.row, self.unit_owner[coo.col]), coo.data)
        else:
            lexical = _group_max(bm25.toarray(), self.unit_starts, 0.0)
        answer = None
        if len(self.answer_owner):
            answer = np.zeros_like(dense)
            if self.coarse is None:
                a = qvecs @ self.answer_vecs.T
            else:
                a = (qc @ self.coarse_answers.T) + (qvecs @ self.mu)[:, None]
            answer[:, self.answer_owner] = a - (qvecs @ self.answer_mean)[:, None]
        answer_lexical = None
        if self.answer_lex is not None:
            coo = self.answer_lex.scores(qtokens).tocoo()
            answer_lexical = np.zeros((len(qtokens), self.n_entries), np.float32)
            np.maximum.at(answer_lexical, (coo.row, self.answer_unit_owner[coo.col]), coo.data)
        return {"dense": dense, "lexical": lexical, "answer": answer, "learned_gate": gate,
                "answer_lexical": answer_lexical,
                "dense_mean": mean.astype(np.float32), "dense_std": np.maximum(std, 1e-6).astype(np.float32)}

    def base_scores(self, sig: dict[str, np.ndarray]) -> np.ndarray:
        """Fused score before context: weighted per-query z-scores plus the answer term."""
        dense_z = (sig["dense"] - sig["dense_mean"][:, None]) / sig["dense_std"][:, None]
        base = FUSION["dense"] * dense_z + FUSION["lexical"] * _zscore(sig["lexical"])
        if sig["answer"] is not None:
            base += FUSION["answer"] * sig["answer"]
        if sig.get("answer_lexical") is not None:
            base += FUSION["answer_lexical"] * _zscore(sig["answer_lexical"])
        return base

    def _rescore(self, sig: dict[str, np.ndarray], base: np.ndarray, r: int, qvec: np.ndarray,
                 order_by: np.ndarray) -> np.ndarray:
        """Second stage on a large bank: exact dense and answer signals for the
        best candidates of row r, written into `sig` and `base` in place.
        Returns the candidates' entry indices."""
        n = min(RESCORE, self.n_entries)
        cand = np.argpartition(order_by, self.n_entries - n)[self.n_entries - n:]
        lo, hi = self.starts[cand], self.ends[cand]
        sizes = hi - lo
        idx = np.repeat(lo - np.cumsum(np.append(0, sizes[:-1])), sizes) + np.arange(sizes.sum())
        sims = self.vecs[idx] @ qvec
        if len(self.learned_idx):
            sims = _discount_learned(sims, self.learned[idx])
        first = np.cumsum(np.append(0, sizes[:-1]))
        exact = 0.5 * (np.maximum.reduceat(sims, first) + sims[first])
        old = sig["dense"][r, cand]
        sig["dense"][r, cand] = exact
        base[r, cand] += FUSION["dense"] * (exact - old) / sig["dense_std"][r]
        if len(self.answer_owner):
            has = np.searchsorted(self.answer_owner, cand)
            has = np.minimum(has, len(self.answer_owner) - 1)
            ok = self.answer_owner[has] == cand
            if ok.any():
                a = self.answer_vecs[has[ok]] @ qvec - float(qvec @ self.answer_mean)
                old_a = sig["answer"][r, cand[ok]]
                sig["answer"][r, cand[ok]] = a
                base[r, cand[ok]] += FUSION["answer"] * (a - old_a)
        return cand

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
        qraw = np.asarray(self.query_embed(queries), dtype=np.float32)
        qvecs = apply_adapter(self.adapter_matrix, qraw)
        qtokens = tokenize_many(queries, self.glossary)
        out: list[RankedList] = []
        n = len(queries)
        prev = np.zeros(self.n_entries, np.float32)
        for lo in range(0, n, self.block_size):
            hi = min(lo + self.block_size, n)
            # In sequence, one question past the block is scored too: its base
            # row is the next-question context of the block's last question.
            ext = min(hi + 1, n) if sequential else hi
            sig = self.signals(qvecs[lo:ext], qtokens[lo:ext])
            base = self.base_scores(sig)

            def fused_row(r: int) -> np.ndarray:
                if not sequential:
                    return base[r]
                row = base[r] + FUSION["context"] * prev
                if lo + r + 1 < n:
                    row = row + FUSION["next"] * base[r + 1]
                return row

            for r in range(hi - lo):
                row = fused_row(r)
                pool = None
                if self.coarse is not None:
                    pool = self._rescore(sig, base, r, qvecs[lo + r], row)
                    row = fused_row(r)
                if sequential:
                    prev = base[r]
                if exclude is not None and len(exclude[lo + r]):
                    row = row.copy()
                    row[np.asarray(list(exclude[lo + r]), np.int64)] = -np.inf
                ranked = self._ranked(row, sig, r, qtokens[lo + r], top_k, pool, qraw[lo + r])
                ranked.matched = [self._closest_text(e, qvecs[lo + r]) for e, _ in ranked.candidates]
                out.append(ranked)
        return out

    def _closest_text(self, entry: int, qvec: np.ndarray) -> str:
        """The entry's text (canonical question or a variant) nearest the question."""
        lo, hi = int(self.starts[entry]), int(self.ends[entry])
        if hi - lo <= 1:
            return self.texts[lo] if hi > lo else ""
        return self.texts[lo + int(np.argmax(self.vecs[lo:hi] @ qvec))]

    def _ranked(self, fused: np.ndarray, sig: dict[str, np.ndarray], r: int, qtokens: list[str],
                top_k: int, pool: np.ndarray | None = None, qraw: np.ndarray | None = None) -> RankedList:
        """The top candidates of one fused row (searched within `pool` when given)."""
        pool = np.arange(len(fused)) if pool is None else pool
        pool = pool[np.isfinite(fused[pool])]
        if len(pool) == 0:
            return RankedList([], 0.0, {})
        kk = min(max(top_k, 2), len(pool))
        top = pool[np.argpartition(fused[pool], len(pool) - kk)[len(pool) - kk:]]
        top = top[np.argsort(-fused[top], kind="stable")]
        # Softmax over the bank: the fusion weights are log-odds, so this is the
        # probability of each candidate given that one of them is right.
        total = np.exp(fused - fused[top[0]]).sum()
        p = np.exp(fused[top] - fused[top[0]]) / total
        j = int(top[0])
        feats = {
            "p_top": float(p[0]),
            "margin": float(fused[top[0]] - fused[top[1]]) if len(top) > 1 else 10.0,
            "dense": float(sig["dense"][r, j]),
            "lexical": float(sig["lexical"][r, j]),
            # An entry without a usable answer (placeholder, bare "Yes.") gets the
            # typical value, so a bank of placeholders is neither helped nor hurt.
            "answer": float(sig["answer"][r, j]) if self.has_answer[j] else ANSWER_NEUTRAL,
            "dense_z": float((sig["dense"][r, j] - sig["dense_mean"][r]) / sig["dense_std"][r]),
        }
        if self.adapter_inverse is not None and qraw is not None:
            feats.update(self._raw_dense_features(j, qraw))
        gate = sig.get("learned_gate")
        feats.update(self._coverage(qtokens, j, None if gate is None else gate[r]))
        conf = confidence(feats)
        # Each candidate's score: the confidence scaled by its probability relative
        # to the top one, so scores are in [0, 1], sorted, and the first is the confidence.
        cands = [(int(e), float(conf * p[k] / p[0])) for k, e in enumerate(top[:top_k])]
        return RankedList(cands, conf, feats)

    def _raw_dense_features(self, entry: int, qraw: np.ndarray) -> dict[str, float]:
        """`dense` and `answer` of one entry as the model sees them (without the map), as in `signals`."""
        lo, hi = int(self.starts[entry]), int(self.ends[entry])
        sims = _discount_learned(apply_adapter(self.adapter_inverse, self.vecs[lo:hi]) @ qraw, self.learned[lo:hi])
        out = {"dense": float(0.5 * (sims.max() + sims[0]))}
        if self.has_answer[entry]:
            k = int(np.searchsorted(self.answer_owner, entry))  # answers are in entry order
            raw = apply_adapter(self.adapter_inverse, self.answer_vecs[k : k + 1])[0]
            out["answer"] = float(raw @ qraw - qraw @ self.raw_answer_mean)
        return out

    def _coverage(self, qtokens: list[str], entry: int, gate: np.ndarray | None = None) -> dict[str, float]:
        """How much of the question's lexical weight (IDF) the entry's best unit
        covers, and the weight of the most important question term it lacks.
        Units of learned texts count only where `gate` (per learned text) is on."""
        qset = set(qtokens)
        if not qset:
            return {"coverage": 0.0, "missing_idf": 1.0, "entry_coverage": 0.0, "containment": 0.0, "q_terms": 0.0}
        idf = {t: self.lex.idf_of(t) for t in qset}
        mass = sum(idf.values())
        best = (0.0, max(idf.values()))
        entry_cov = 0.0
        for k in range(self.unit_starts[entry], self.unit_ends[entry]):
            pos = self.unit_learned_pos[k]
            if pos >= 0 and (gate is None or not gate[pos]):
                continue
            uset = set(self.units[k])
            shared = qset & uset
            cov = sum(idf[t] for t in shared) / mass
            if cov > best[0]:
                best = (cov, max((idf[t] for t in qset - uset), default=0.0))
            if uset:
                umass = sum(self.lex.idf_of(t) for t in uset)
                entry_cov = max(entry_cov, sum(idf[t] for t in shared) / umass if umass else 0.0)
        # containment: whichever side is covered more. A short paraphrase is covered
        # by the entry; a long checklist item covers the short entry it asks about.
        return {"coverage": best[0], "missing_idf": best[1] / (self.lex.max_idf or 1.0),
                "entry_coverage": entry_cov, "containment": max(best[0], entry_cov),
                "q_terms": math.log1p(len(qset))}


def _zscore(m: np.ndarray) -> np.ndarray:
    mean = m.mean(axis=1, keepdims=True)
    std = m.std(axis=1, keepdims=True)
    return (m - mean) / np.maximum(std, 1e-6)


# Confidence = sigmoid(bias + sum of weight * feature) over the top candidate's
# features. Fitted by L2-regularised logistic regression (bench/matching_experiments.py,
# section 3) on five sources weighted equally: the four bench sets (ai-starter-dev
# judged against the starter bank, with its real answers) and the starter bank's
# variants (self-supervised). Each source gives its real questions (label: is the
# top candidate right) and the same questions with their right entries removed
# from the bank (label 0: a question the bank does not cover), weighted so that
# uncovered questions make up the share measured on the sets that label them
# (NONE rows: 0.29), not half of every source. The feature set was chosen on the
# held-out cost (3 per wrong answer, 1 per blank on an answerable question)
# leave-one-source-out, no held-out source worse than before; the numbers are in
# docs/matching.md. containment: the larger of coverage (share of the question's
# IDF weight in the candidate's best unit) and entry_coverage (share of the
# candidate's IDF weight found in the question): either side may contain the other.
# answer: centred cosine of the question with the candidate's answer text; for an
# entry without a usable answer, ANSWER_NEUTRAL, the mean of the feature over the
# calibration rows that have one (so placeholders neither help nor hurt).
CALIBRATION = {"bias": -5.137, "p_top": 3.371, "dense": 1.845, "containment": 2.776, "answer": 1.043}
ANSWER_NEUTRAL = 0.26


def confidence(features: dict[str, float]) -> float:
    z = CALIBRATION["bias"] + sum(w * features.get(k, 0.0) for k, w in CALIBRATION.items() if k != "bias")
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


# The tiers live in answer_bank/tiers.py; these names stay importable from here.
from answer_bank.tiers import ANSWER_TIERS, TIER_THRESHOLDS, tier_for  # noqa: E402,F401
