"""A bank-specific linear map of the embedding space, fitted on the bank alone.

The bank already says, for each entry, other ways its question is put: its
curated variants, the customer wordings learned in review, and its answer
text (what the entry is about). `fit_adapter` learns a linear map
W = I + D of the sentence vectors under which each of those texts lies
nearer its own entry's question than any other entry's question (a softmax
over the bank's questions, temperature TAU), with D kept small (L2 penalty
LAMBDA towards the identity). Applied to the bank's vectors and to every
incoming question alike, it moves the questions a customer asks towards the
entry that answers them in the bank's own terms ("safetensors", "SBOM",
"RACI" found in the answer, not only in the question).

Nothing here sees an incoming question: the map is fitted on the bank's
texts only and is the same whatever is matched later. Measured in
docs/matching.md ("Bank adapter"); numpy only, deterministic (zero start,
full-batch Adam; large banks train on a seeded sample).
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

# Chosen on the starter bank's variants (three folds: each fold's variants
# asked against a bank fitted without them), never on a bench set's questions.
TAU = 0.1
LAMBDA = 0.03
STEPS = 200
LEARNING_RATE = 1e-2
# No map from fewer examples than this, or for fewer entries (identity).
MIN_ANCHORS = 20
MIN_ENTRIES = 10
# Large banks train on a seeded sample of this many entries and anchors.
MAX_ENTRIES = 512
MAX_ANCHORS = 1024
MAX_CONDITION = 1e4  # a fitted map stays near the identity (condition about 50 on the starter bank)
VERSION = "adapter-1"  # bump when the method or a constant above changes


def _normalise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    norm = np.maximum(norm, 1e-12)
    return x / norm, norm


def loss_and_grad(D: np.ndarray, anchors: np.ndarray, labels: np.ndarray, canon: np.ndarray,
                  tau: float = TAU, lam: float = LAMBDA) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of each anchor against the bank's questions
    under W = I + D (both sides mapped and normalised), plus lam * |D|^2."""
    W = np.eye(D.shape[0], dtype=D.dtype) + D
    a, na = _normalise(anchors @ W.T)
    c, nc = _normalise(canon @ W.T)
    logits = (a @ c.T) / tau
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    n = len(anchors)
    rows = np.arange(n)
    loss = float(-np.log(np.maximum(p[rows, labels], 1e-30)).mean()) + lam * float((D * D).sum())
    g = p
    g[rows, labels] -= 1.0
    g /= n * tau
    ga = g @ c  # d loss / d a (normalised)
    gc = g.T @ a
    # Through the normalisation x / |x|: (g - (g . x) x) / |x|.
    ga = (ga - (ga * a).sum(axis=1, keepdims=True) * a) / na
    gc = (gc - (gc * c).sum(axis=1, keepdims=True) * c) / nc
    grad = ga.T @ anchors + gc.T @ canon + 2.0 * lam * D
    return loss, grad


def fit_adapter(anchors: np.ndarray, labels: Sequence[int], canon: np.ndarray, *,
                steps: int = STEPS, tau: float = TAU, lam: float = LAMBDA,
                learning_rate: float = LEARNING_RATE) -> np.ndarray | None:
    """W (d x d) mapping vectors so each anchor is nearest its entry's question
    (`canon[labels[i]]`), or None when the bank gives too little to learn from."""
    anchors = np.asarray(anchors, np.float32)
    canon = np.asarray(canon, np.float32)
    labels = np.asarray(labels, np.int64)
    if len(anchors) < MIN_ANCHORS or len(canon) < MIN_ENTRIES or len(set(labels.tolist())) < 2:
        return None
    if len(canon) > MAX_ENTRIES or len(anchors) > MAX_ANCHORS:
        anchors, labels, canon = _sample(anchors, labels, canon)
    d = anchors.shape[1]
    D = np.zeros((d, d), np.float32)
    m = np.zeros_like(D)
    v = np.zeros_like(D)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        _, grad = loss_and_grad(D, anchors, labels, canon, tau, lam)
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        D -= (learning_rate * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)).astype(np.float32)
    W = np.eye(d, dtype=np.float32) + D
    # A map that is not finite or not safely invertible (the confidence reads
    # the model's own cosines through its inverse) is no map.
    if not np.all(np.isfinite(W)) or np.linalg.cond(W.astype(np.float64)) > MAX_CONDITION:
        return None
    return W


def _sample(anchors: np.ndarray, labels: np.ndarray, canon: np.ndarray):
    """A seeded sample of entries (those with anchors first) and their anchors."""
    rng = np.random.default_rng(0)
    with_anchor = np.unique(labels)
    keep = rng.permutation(with_anchor)[:MAX_ENTRIES]
    if len(keep) < MAX_ENTRIES:  # fill up with entries that only serve as negatives
        others = np.setdiff1d(np.arange(len(canon)), keep)
        keep = np.concatenate([keep, rng.permutation(others)[: MAX_ENTRIES - len(keep)]])
    keep = np.sort(keep)
    new_index = np.full(len(canon), -1, np.int64)
    new_index[keep] = np.arange(len(keep))
    rows = np.flatnonzero(new_index[labels] >= 0)
    rows = np.sort(rng.permutation(rows)[:MAX_ANCHORS])
    return anchors[rows], new_index[labels[rows]], canon[keep]


def cache_key(anchors: np.ndarray, labels: np.ndarray, canon: np.ndarray) -> str:
    """A digest of everything the fit depends on (inputs and method)."""
    h = hashlib.sha256(VERSION.encode())
    for part in (np.asarray(anchors, np.float32), np.asarray(labels, np.int64), np.asarray(canon, np.float32)):
        h.update(str(part.shape).encode())
        h.update(np.ascontiguousarray(part).tobytes())
    return h.hexdigest()


def apply_adapter(W: np.ndarray | None, vecs: np.ndarray) -> np.ndarray:
    """Vectors mapped by W and normalised again (unchanged without W; zero rows stay zero)."""
    if W is None or len(vecs) == 0:
        return vecs
    return np.ascontiguousarray(_normalise(np.asarray(vecs, np.float32) @ W.T)[0], dtype=np.float32)
