"""SentenceTransformerEmbedder's model id and CachedEmbedder's vector sizes
(real SQLite; the tiny real BERT of conftest `save_st`, fake embedder only in
the unit test that says so)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from answer_bank.embeddings import CachedEmbedder, SentenceTransformerEmbedder

TEXTS = ["Do you encrypt customer data at rest?", "Is MFA enforced for administrators?", "Do you keep audit logs?",
         "How long is backup data retained?", "Do you train models on customer data?", "Who approves AI releases?"]


@pytest.fixture(autouse=True)
def _digest_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMSQ_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AIMSQ_ENCODER", raising=False)


@pytest.mark.model
def test_the_model_id_changes_when_the_model_at_the_same_path_changes(save_st, tmp_path):
    path = save_st(tmp_path / "m", max_seq_length=20)
    first = SentenceTransformerEmbedder(path).model_id
    assert first.startswith(f"local:{path.resolve()}@") and first == SentenceTransformerEmbedder(path).model_id
    # other weights, same size, same path
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-4:] = bytes(4) if data[-4:] != bytes(4) else b"\x01\x00\x00\x00"
    weights.write_bytes(bytes(data))
    second = SentenceTransformerEmbedder(path).model_id
    assert second != first
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": 32, "pooling_mode": "cls"}))
    assert SentenceTransformerEmbedder(path).model_id not in (first, second)


@pytest.mark.model
def test_a_model_replaced_by_one_of_another_size_does_not_break_matching(save_st, tmp_path, bank):
    from answer_bank.matching import Matcher
    from answer_bank.model import BankEntry

    for i, text in enumerate(TEXTS[:6]):
        bank.save_entry(BankEntry(f"E-{i}", text or "blank", f"Answer {i}.", status="approved"), user="ana")
    path = tmp_path / "model"
    save_st(path, max_seq_length=20)
    assert Matcher(bank, SentenceTransformerEmbedder(path)).match(TEXTS[2]).candidates
    shutil.rmtree(path)
    save_st(path, pooling_mode=("mean", "max"), max_seq_length=20)  # 64 numbers per vector now
    embedder = SentenceTransformerEmbedder(path)
    result = Matcher(bank, embedder).match(TEXTS[2])
    assert embedder.dimension == 64 and result.candidates[0].entry.ext_id == "E-2"


class _Sized:
    """FAKE embedder (unit test of the cache): constant vectors of a given size."""

    model_id = "fake-sized"

    def __init__(self, dimension):
        self.dimension = dimension

    def embed(self, texts):
        return np.full((len(texts), self.dimension), 1 / np.sqrt(self.dimension), dtype=np.float32)


def test_cached_vectors_of_another_size_are_computed_again_and_replaced(bank):
    from answer_bank.embeddings import text_hash

    bank.store_vectors("fake-sized", {text_hash("a"): np.ones(3, np.float32), text_hash("b"): np.ones(8, np.float32)})
    cached = CachedEmbedder(_Sized(8), bank)
    vectors = cached.embed(["a", "b"])
    assert vectors.shape == (2, 8) and cached.computed == 1
    assert bank.cached_vectors("fake-sized", [text_hash("a")])[text_hash("a")].shape == (8,)
