"""The NumPy encoder runs a model only when it gives sentence-transformers'
vectors; every other configuration runs through sentence-transformers, with a
log line. The model id changes with the model's files, and cached vectors of
another size are computed again.

The small models here are built offline in the test: a randomly initialised
two-layer BERT with the bundled model's tokenizer, saved by the installed
sentence-transformers with the settings each test needs (real SQLite, real
sentence-transformers as the reference; no fakes except where a test says so).
"""
from __future__ import annotations

import json
import logging
import os
import shutil

import numpy as np
import pytest

from answer_bank import bert_numpy
from answer_bank.embeddings import CachedEmbedder, SentenceTransformerEmbedder, default_model_path

pytestmark = pytest.mark.model

WORDS = ("access backup encryption incident model training data retention vendor audit policy risk bias "
         "oversight logging monitoring network key password privacy consent deletion residency").split()
# 45 texts (two batches of 32 and more), of many lengths, one far over any max
# length, special-token look-alikes, accents, CJK, an empty string.
TEXTS = [" ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(1 + i % 13)) + "?" for i in range(38)] + [
    "Describe how your organisation performs AI impact assessments before deployment, "
    "including who approves the results and how often they are repeated. " * 12,
    "[MASK] and [CLS] inside a question [SEP]",
    "¿Cifran los datos en reposo? Übermäßig façade naïve",
    "数据是否加密？",
    "",
    "x",
    "MFA  for\tall   admins\n(yes/no)",
]


@pytest.fixture(autouse=True)
def _digest_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMSQ_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AIMSQ_ENCODER", raising=False)


@pytest.fixture(scope="module")
def raw_bert(tmp_path_factory):
    """A tiny random BERT (hidden 32, 2 layers, 64 positions) with the bundled tokenizer."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = tmp_path_factory.mktemp("raw-bert")
    torch.manual_seed(7)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(str(default_model_path())).save_pretrained(out)
    return out


def save_st(raw, out, pooling_mode="mean", max_seq_length=None):
    """Save the tiny BERT as a sentence-transformers model (the installed version's format)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(raw), max_seq_length=max_seq_length)
    SentenceTransformer(modules=[transformer, Pooling(32, pooling_mode=pooling_mode), Normalize()],
                        device="cpu").save(str(out))
    return out


def reference(path, texts=TEXTS):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu").encode(texts, normalize_embeddings=True)


def embed(path, texts=TEXTS):
    embedder = SentenceTransformerEmbedder(path)
    return embedder, embedder.embed(texts)


def test_the_bundled_model_runs_in_numpy_with_sentence_transformers_vectors():
    embedder, ours = embed(None)
    assert isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert embedder._model.max_len == 256  # sentence_bert_config.json's max_seq_length
    theirs = reference(default_model_path())
    assert ours.shape == theirs.shape == (len(TEXTS), 384) == (len(TEXTS), embedder.dimension)
    assert np.abs(ours - theirs).max() < 1e-5


def test_a_model_saved_by_sentence_transformers_6_runs_in_numpy_with_its_own_max_length(raw_bert, tmp_path, caplog):
    # pooling_mode key, no max_seq_length in sentence_bert_config.json: the
    # length comes from tokenizer_config.json's model_max_length
    path = save_st(raw_bert, tmp_path / "st6", max_seq_length=16)
    assert json.loads((path / "tokenizer_config.json").read_text())["model_max_length"] == 16
    assert "max_seq_length" not in json.loads((path / "sentence_bert_config.json").read_text())
    with caplog.at_level(logging.WARNING):
        embedder, ours = embed(path)
    assert isinstance(embedder._model, bert_numpy.NumpyBertEncoder) and embedder._model.max_len == 16
    assert not caplog.records
    theirs = reference(path)
    assert ours.shape == theirs.shape == (len(TEXTS), 32)
    assert np.abs(ours - theirs).max() < 1e-5
    # what lies past 16 tokens does not count: truncation is really at 16
    long = TEXTS[38]
    assert np.abs(embedder.embed([long])[0] - embedder.embed([long[:200]])[0]).max() < 1e-6


def test_older_format_keys_are_read_as_sentence_transformers_reads_them(raw_bert, tmp_path):
    path = save_st(raw_bert, tmp_path / "old", max_seq_length=24)
    (path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 24, "do_lower_case": False}))
    (path / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}))
    embedder, ours = embed(path)
    assert isinstance(embedder._model, bert_numpy.NumpyBertEncoder) and embedder._model.max_len == 24
    assert np.abs(ours - reference(path)).max() < 1e-5


@pytest.mark.parametrize("pooling", [
    {"embedding_dimension": 32, "pooling_mode": ["mean", "max"]},
    {"embedding_dimension": 32, "pooling_mode": "cls"},
    {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True, "pooling_mode_weightedmean_tokens": True},
    {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True, "pooling_mode_lasttoken": True},
])
def test_other_pooling_runs_through_sentence_transformers_with_a_log_line(raw_bert, tmp_path, caplog, pooling):
    path = save_st(raw_bert, tmp_path / "pool", max_seq_length=20)
    (path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with caplog.at_level(logging.WARNING, logger="answer_bank.embeddings"):
        embedder, ours = embed(path)
    assert not isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert [r for r in caplog.records if "runs through sentence-transformers" in r.getMessage()
            and "pooling" in r.getMessage()]
    theirs = reference(path)
    assert ours.shape == theirs.shape == (len(TEXTS), embedder.dimension)
    assert np.abs(ours - theirs).max() < 1e-5


def bf16_copy(src, dst, config_dtype):
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    weights = load_file(str(src / "model.safetensors"))
    save_file({k: v.to(torch.bfloat16) for k, v in weights.items()}, str(dst / "model.safetensors"),
              metadata={"format": "pt"})
    config = json.loads((dst / "config.json").read_text())
    config.pop("torch_dtype", None)
    config.pop("dtype", None)
    if config_dtype:
        config["dtype"] = config_dtype
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def test_bf16_weights_computed_in_float32_run_in_numpy(raw_bert, tmp_path):
    path = bf16_copy(save_st(raw_bert, tmp_path / "f32", max_seq_length=20), tmp_path / "bf16", "float32")
    embedder, ours = embed(path)
    assert isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert np.abs(ours - reference(path)).max() < 1e-5


def test_bf16_weights_computed_in_bf16_run_through_sentence_transformers(raw_bert, tmp_path, caplog):
    path = bf16_copy(save_st(raw_bert, tmp_path / "f32", max_seq_length=20), tmp_path / "bf16", None)
    with caplog.at_level(logging.WARNING, logger="answer_bank.embeddings"):
        embedder, ours = embed(path)
    assert not isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert any("bfloat16" in r.getMessage() for r in caplog.records)
    assert ours.shape == (len(TEXTS), 32)
    assert np.abs(ours - reference(path)).max() < 1e-5


def test_a_default_prompt_or_an_unknown_setting_goes_to_sentence_transformers(raw_bert, tmp_path):
    path = save_st(raw_bert, tmp_path / "prompt", max_seq_length=20)
    assert bert_numpy.supports(path)
    meta = json.loads((path / "config_sentence_transformers.json").read_text())
    (path / "config_sentence_transformers.json").write_text(json.dumps(
        {**meta, "prompts": {"query": "query: "}, "default_prompt_name": "query"}))
    assert "prompt" in bert_numpy.unsupported_reason(path)
    embedder, ours = embed(path, TEXTS[:3])
    assert np.abs(ours - reference(path, TEXTS[:3])).max() < 1e-5
    (path / "config_sentence_transformers.json").write_text(json.dumps(meta))
    (path / "tokenizer_config.json").write_text(json.dumps(
        {**json.loads((path / "tokenizer_config.json").read_text()), "truncation_side": "left"}))
    assert "left" in bert_numpy.unsupported_reason(path)


def test_the_model_id_changes_when_the_model_at_the_same_path_changes(raw_bert, tmp_path):
    path = save_st(raw_bert, tmp_path / "m", max_seq_length=20)
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


def test_a_model_replaced_by_one_of_another_size_does_not_break_matching(raw_bert, tmp_path, bank):
    from answer_bank.matching import Matcher
    from answer_bank.model import BankEntry

    for i, text in enumerate(TEXTS[:6]):
        bank.save_entry(BankEntry(f"E-{i}", text or "blank", f"Answer {i}.", status="approved"), user="ana")
    path = tmp_path / "model"
    save_st(raw_bert, path, max_seq_length=20)
    assert Matcher(bank, SentenceTransformerEmbedder(path)).match(TEXTS[2]).candidates
    shutil.rmtree(path)
    save_st(raw_bert, path, pooling_mode=("mean", "max"), max_seq_length=20)  # 64 numbers per vector now
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
