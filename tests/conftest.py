"""Shared fixtures. Fakes here are for unit tests only and say so."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


class FakeEmbedder:
    """FAKE embedder for unit tests: a hashed bag of lower-cased words, L2-normalised.
    Deterministic and instant; texts sharing words get similar vectors. Counts
    how many texts it embedded so tests can check the cache."""

    model_id = "fake-bag-of-words"
    dim = 256

    def __init__(self):
        self.calls = 0
        self.texts_embedded = 0

    def embed(self, texts):
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture
def bank(tmp_path):
    from answer_bank.store import Bank

    b = Bank.open(tmp_path / "bank.db")
    yield b
    b.close()


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test when it is absent (fresh clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared is absent)")
    return path
