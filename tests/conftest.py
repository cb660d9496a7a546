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


# ---- small real models for the encoder tests (built offline) ----------------


@pytest.fixture(scope="session")
def raw_bert(tmp_path_factory):
    """A tiny random BERT (hidden 32, 2 layers, 64 positions) with the bundled
    model's tokenizer: a real model in a configuration of the test's choosing."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertConfig, BertModel

    from answer_bank.embeddings import default_model_path

    out = tmp_path_factory.mktemp("raw-bert")
    torch.manual_seed(7)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(str(default_model_path())).save_pretrained(out)
    return out


@pytest.fixture
def save_st(raw_bert):
    """save_st(out, pooling_mode, max_seq_length): the tiny BERT saved as a
    sentence-transformers model, in the installed version's format."""
    return lambda out, pooling_mode="mean", max_seq_length=None: _save_st(raw_bert, out, pooling_mode, max_seq_length)


def _save_st(raw, out, pooling_mode="mean", max_seq_length=None):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(raw), max_seq_length=max_seq_length)
    SentenceTransformer(modules=[transformer, Pooling(32, pooling_mode=pooling_mode), Normalize()],
                        device="cpu").save(str(out))
    return out
