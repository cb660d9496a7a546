"""The NumPy encoder gives the same vectors as sentence-transformers (real model)."""
from __future__ import annotations

import json

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
def test_numpy_encoder_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    path = default_model_path()
    ours = bert_numpy.NumpyBertEncoder(path).encode(TEXTS)
    theirs = SentenceTransformer(str(path), device="cpu").encode(TEXTS, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert np.abs(ours - theirs).max() < 1e-5


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
