"""The NumPy encoder gives the same vectors as sentence-transformers (real
bundled model), and runs a model only when it does: every other
configuration runs through sentence-transformers, with a log line.

The small models are built offline (conftest `raw_bert`): a randomly
initialised two-layer BERT with the bundled model's tokenizer, saved by the
installed sentence-transformers with the settings each test needs.
"""
from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from answer_bank import bert_numpy
from answer_bank.embeddings import SentenceTransformerEmbedder, default_model_path

TEXTS = [
    "Do you train AI models on customer data?",
    "Is multi-factor authentication enforced for all administrative access to production systems?",
    "¿Cifran los datos en reposo?",
    "x",
    "Describe how your organisation performs AI impact assessments before deployment, "
    "including who approves the results and how often they are repeated. " * 8,  # truncated at 256 tokens
]


@pytest.mark.model
def test_the_default_embedder_uses_numpy_for_minilm():
    embedder = SentenceTransformerEmbedder()
    vectors = embedder.embed(TEXTS[:2])
    assert isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_other_architectures_are_left_to_sentence_transformers(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "xlm-roberta", "hidden_act": "gelu"}))
    assert not bert_numpy.supports(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_act": "gelu"}))
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert not bert_numpy.supports(tmp_path)  # CLS pooling is not what we reproduce


def test_gelu_matches_the_exact_erf_form():
    from scipy.special import erf

    x = np.linspace(-9, 9, 200_004, dtype=np.float32).reshape(-1, 7)[:, :5]  # not contiguous, not a chunk multiple
    exact = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2)))
    assert np.abs(bert_numpy._gelu(x) - exact).max() < 1e-6


# ---- the gate: > 32 texts, the bundled model and non-default configurations ----
WORDS = ("access backup encryption incident model training data retention vendor audit policy risk bias "
         "oversight logging monitoring network key password privacy consent deletion residency").split()
# 45 texts (two batches of 32 and more), of many lengths, one far over any max
# length, special-token look-alikes, accents, CJK, an empty string.
MANY = [" ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(1 + i % 13)) + "?" for i in range(38)] + [
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


def reference(path, texts=MANY):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu").encode(texts, normalize_embeddings=True)


def embed(path, texts=MANY):
    embedder = SentenceTransformerEmbedder(path)
    return embedder, embedder.embed(texts)


@pytest.mark.model
def test_the_bundled_model_runs_in_numpy_with_sentence_transformers_vectors():
    embedder, ours = embed(None)
    assert isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert embedder._model.max_len == 256  # sentence_bert_config.json's max_seq_length
    theirs = reference(default_model_path())
    assert ours.shape == theirs.shape == (len(MANY), 384) == (len(MANY), embedder.dimension)
    assert np.abs(ours - theirs).max() < 1e-5


@pytest.mark.model
def test_a_model_saved_by_sentence_transformers_6_runs_in_numpy_with_its_own_max_length(save_st, tmp_path, caplog):
    # pooling_mode key, no max_seq_length in sentence_bert_config.json: the
    # length comes from tokenizer_config.json's model_max_length
    path = save_st(tmp_path / "st6", max_seq_length=16)
    assert json.loads((path / "tokenizer_config.json").read_text())["model_max_length"] == 16
    assert "max_seq_length" not in json.loads((path / "sentence_bert_config.json").read_text())
    with caplog.at_level(logging.WARNING):
        embedder, ours = embed(path)
    assert isinstance(embedder._model, bert_numpy.NumpyBertEncoder) and embedder._model.max_len == 16
    assert not caplog.records
    theirs = reference(path)
    assert ours.shape == theirs.shape == (len(MANY), 32)
    assert np.abs(ours - theirs).max() < 1e-5
    # what lies past 16 tokens does not count: truncation is really at 16
    long = MANY[38]
    assert np.abs(embedder.embed([long])[0] - embedder.embed([long[:200]])[0]).max() < 1e-6


@pytest.mark.model
def test_older_format_keys_are_read_as_sentence_transformers_reads_them(save_st, tmp_path):
    path = save_st(tmp_path / "old", max_seq_length=24)
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
@pytest.mark.model
def test_other_pooling_runs_through_sentence_transformers_with_a_log_line(save_st, tmp_path, caplog, pooling):
    path = save_st(tmp_path / "pool", max_seq_length=20)
    (path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with caplog.at_level(logging.WARNING, logger="answer_bank.embeddings"):
        embedder, ours = embed(path)
    assert not isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert [r for r in caplog.records if "runs through sentence-transformers" in r.getMessage()
            and "pooling" in r.getMessage()]
    theirs = reference(path)
    assert ours.shape == theirs.shape == (len(MANY), embedder.dimension)
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


@pytest.mark.model
def test_bf16_weights_computed_in_float32_run_in_numpy(save_st, tmp_path):
    path = bf16_copy(save_st(tmp_path / "f32", max_seq_length=20), tmp_path / "bf16", "float32")
    embedder, ours = embed(path)
    assert isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert np.abs(ours - reference(path)).max() < 1e-5


@pytest.mark.model
def test_bf16_weights_computed_in_bf16_run_through_sentence_transformers(save_st, tmp_path, caplog):
    path = bf16_copy(save_st(tmp_path / "f32", max_seq_length=20), tmp_path / "bf16", None)
    with caplog.at_level(logging.WARNING, logger="answer_bank.embeddings"):
        embedder, ours = embed(path)
    assert not isinstance(embedder._model, bert_numpy.NumpyBertEncoder)
    assert any("bfloat16" in r.getMessage() for r in caplog.records)
    assert ours.shape == (len(MANY), 32)
    assert np.abs(ours - reference(path)).max() < 1e-5


@pytest.mark.model
def test_a_default_prompt_or_an_unknown_setting_goes_to_sentence_transformers(save_st, tmp_path):
    path = save_st(tmp_path / "prompt", max_seq_length=20)
    assert bert_numpy.supports(path)
    meta = json.loads((path / "config_sentence_transformers.json").read_text())
    (path / "config_sentence_transformers.json").write_text(json.dumps(
        {**meta, "prompts": {"query": "query: "}, "default_prompt_name": "query"}))
    assert "prompt" in bert_numpy.unsupported_reason(path)
    embedder, ours = embed(path, MANY[:3])
    assert np.abs(ours - reference(path, MANY[:3])).max() < 1e-5
    (path / "config_sentence_transformers.json").write_text(json.dumps(meta))
    (path / "tokenizer_config.json").write_text(json.dumps(
        {**json.loads((path / "tokenizer_config.json").read_text()), "truncation_side": "left"}))
    assert "left" in bert_numpy.unsupported_reason(path)


