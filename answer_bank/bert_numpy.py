"""A BERT sentence encoder in NumPy: the same numbers as sentence-transformers
for BERT-family models with mean pooling (all-MiniLM-L6-v2 among them),
without importing torch and transformers.

Why: importing sentence-transformers costs 8–10 s on a 2-core laptop, longer
than encoding a whole questionnaire. A command that autofills a file should
not spend most of its time importing. Models this module cannot run exactly
(another architecture or pooling) go to sentence-transformers instead
(`answer_bank.embeddings.SentenceTransformerEmbedder`).
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

import numpy as np


class UnsupportedModel(Exception):
    """The directory holds a model this encoder does not reproduce exactly."""


def supports(path: Path) -> bool:
    try:
        _read_config(path)
        return True
    except (UnsupportedModel, OSError, ValueError):
        return False


def _read_config(path: Path) -> tuple[dict, dict, int]:
    config = json.loads((path / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise UnsupportedModel(f"{path}: only BERT models with gelu are run in NumPy")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise UnsupportedModel(f"{path}: relative position embeddings are not supported")
    modules = json.loads((path / "modules.json").read_text())
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        raise UnsupportedModel(f"{path}: module stack {kinds} is not Transformer+Pooling(+Normalize)")
    pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
    pooling = json.loads((path / pooling_dir / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens") or any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    ):
        raise UnsupportedModel(f"{path}: only mean pooling is supported")
    if not (path / "model.safetensors").exists() or not (path / "tokenizer.json").exists():
        raise UnsupportedModel(f"{path}: model.safetensors and tokenizer.json are needed")
    max_len = 512
    st_config = path / "sentence_bert_config.json"
    if st_config.exists():
        max_len = int(json.loads(st_config.read_text()).get("max_seq_length", max_len))
    return config, pooling, min(max_len, int(config.get("max_position_embeddings", 512)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (a new array)."""
    mean = x.mean(axis=-1, keepdims=True)
    out = x - mean
    var = np.square(out).mean(axis=-1, keepdims=True)
    var += eps
    out /= np.sqrt(var)
    out *= weight
    out += bias
    return out


# erf by Abramowitz & Stegun 7.1.26: error below 1.5e-7, float32's own
# resolution. scipy's erf took 40 % of the encoding time; this runs in
# cache-sized chunks, about four times faster, with the same result.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))
_INV_SQRT2 = np.float32(1 / np.sqrt(2.0))
_CHUNK = 65536


def _gelu(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Exact-form GELU, x * Phi(x), of a float32 array: a new array, or `out`
    (contiguous float32 of x's shape; `out=x` works in place)."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    result = out
    out = np.empty_like(flat) if result is None else result.reshape(-1)
    z, t, p = (np.empty(min(_CHUNK, flat.size), np.float32) for _ in range(3))
    for start in range(0, flat.size, _CHUNK):
        xs = flat[start : start + _CHUNK]
        n = xs.size
        zz, tt, pp = z[:n], t[:n], p[:n]
        np.abs(xs, out=zz)
        zz *= _INV_SQRT2
        np.multiply(zz, _ERF_P, out=tt)
        tt += 1
        np.reciprocal(tt, out=tt)
        np.multiply(tt, _ERF_A[0], out=pp)
        for a in _ERF_A[1:]:
            pp += a
            pp *= tt
        np.square(zz, out=zz)
        np.negative(zz, out=zz)
        np.exp(zz, out=zz)
        pp *= zz  # 1 - erf(|x| / sqrt 2)
        np.subtract(1, pp, out=pp)
        np.copysign(pp, xs, out=pp)  # erf is odd
        pp += 1
        pp *= xs
        np.multiply(pp, np.float32(0.5), out=out[start : start + n])
    return out.reshape(x.shape) if result is None else result


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file as read-only arrays over a memory map.

    Nothing is copied: pages are read when a tensor is used, so the 47 MB word
    embedding table costs only the rows of the tokens seen. Files this reader
    does not understand go to `safetensors.numpy.load_file`.
    """
    import mmap
    import struct

    dtypes = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}
    with open(path, "rb") as fp:
        try:
            buf = mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # an empty file, a file system without mmap
            buf = None
    try:
        if buf is None or len(buf) < 8:
            raise ValueError("not a safetensors file")
        (size,) = struct.unpack("<Q", buf[:8])
        header = json.loads(bytes(buf[8 : 8 + size]))
        base = 8 + size
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = np.dtype(dtypes[info["dtype"]]).newbyteorder("<")
            begin, end = info["data_offsets"]
            shape = tuple(int(d) for d in info["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            if end - begin != count * dtype.itemsize or base + end > len(buf):
                raise ValueError(f"{name}: bad data offsets")
            out[name] = np.frombuffer(buf, dtype=dtype, count=count, offset=base + begin).reshape(shape)
        return out
    except (KeyError, ValueError, TypeError, struct.error):
        from safetensors.numpy import load_file

        return load_file(str(path))


class NumpyBertEncoder:
    """Encodes texts in batches of similar length; the batches run on a few
    worker threads with single-threaded BLAS (see `encode`)."""

    def __init__(self, path: str | Path):
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.config, _, self.max_len = _read_config(self.path)
        weights = _load_safetensors(self.path / "model.safetensors")
        # Some checkpoints prefix every name with "bert.".
        self.w = {k.removeprefix("bert."): v if v.dtype == np.float32 else v.astype(np.float32)
                  for k, v in weights.items() if v.dtype.kind == "f"}
        self.heads = int(self.config["num_attention_heads"])
        self.layers = int(self.config["num_hidden_layers"])
        self.hidden = int(self.config["hidden_size"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))
        # Dense weights are stored (out, in); `x @ W.T` on the transposed view is
        # what BLAS does natively (no copy, same speed). Query, key and value
        # are one product of width 3 x hidden.
        w = self.w
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}.attention.self."
            names = [p + n for n in ("query", "key", "value")]
            w[p + "qkv.weight"] = np.concatenate([w[n + ".weight"] for n in names])
            w[p + "qkv.bias"] = np.concatenate([w[n + ".bias"] for n in names])
        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.tokenizer.no_padding()

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, (n, hidden) float32.

        Texts are sorted by length and cut into batches of `batch_size`; each
        batch is computed without padding except inside attention. Batches run
        on up to one worker thread per core, each with single-threaded BLAS:
        NumPy releases the GIL, so the element-wise work (GELU, layer norm,
        softmax) runs in parallel too, where multi-threaded BLAS parallelises
        only the matrix products and spins idle threads on a busy machine. A
        text's vector depends only on its batch, never on the number of threads.
        """
        texts = list(texts)
        unique = list(dict.fromkeys(texts))
        if len(unique) < len(texts):  # a questionnaire repeats some questions: encode each once
            first = {t: i for i, t in enumerate(unique)}
            return self.encode(unique, batch_size)[[first[t] for t in texts]]
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        # Similar lengths together: less padding in attention. A text without
        # tokens keeps a zero vector.
        order = sorted((i for i in range(len(ids)) if ids[i]), key=lambda i: len(ids[i]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        batches.reverse()  # longest first: the workers finish together
        workers = min(len(batches), _worker_count())
        if not batches:
            return out
        with _ENCODE_LOCK, _single_threaded_blas():
            if workers > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(workers, thread_name_prefix="aimsq-encode") as pool:
                    results = list(pool.map(lambda batch: self._forward([ids[i] for i in batch]), batches))
            else:
                results = [self._forward([ids[i] for i in batch]) for batch in batches]
        for batch, vectors in zip(batches, results):
            out[batch] = vectors
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _forward(self, seqs: list[list[int]]) -> np.ndarray:
        """Mean-pooled last hidden states of token sequences, (len(seqs), hidden).

        The dense layers run on the real tokens only, packed (total tokens x
        hidden); attention scatters them into a padded (batch, length) block
        whose padded keys are masked out.
        """
        w, eps, hidden, heads = self.w, self.eps, self.hidden, self.heads
        lengths = np.fromiter(map(len, seqs), np.int64, len(seqs))
        b, n, total = len(seqs), int(lengths.max()), int(lengths.sum())
        head = hidden // heads
        starts = np.cumsum(lengths) - lengths
        row = np.repeat(np.arange(b), lengths)  # the sequence of each packed token
        pos = np.arange(total) - np.repeat(starts, lengths)  # its position in the sequence
        tokens = np.fromiter((t for s in seqs for t in s), np.int64, total)
        x = (w["embeddings.word_embeddings.weight"][tokens] + w["embeddings.position_embeddings.weight"][pos]
             + w["embeddings.token_type_embeddings.weight"][0][None, :])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        scale = np.float32(1.0 / np.sqrt(head))
        mask = np.zeros((b, n), dtype=np.float32)
        mask[row, pos] = 1.0
        attn_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        padded = np.zeros((b, n, 3 * hidden), dtype=np.float32)  # padded rows stay zero
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            qkv = x @ w[p + "attention.self.qkv.weight"].T
            qkv += w[p + "attention.self.qkv.bias"]
            padded[row, pos] = qkv
            q, k, v = (padded[:, :, i * hidden : (i + 1) * hidden].reshape(b, n, heads, head).transpose(0, 2, 1, 3)
                       for i in range(3))
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += attn_bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores, out=scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3)[row, pos].reshape(total, hidden)
            attn = ctx @ w[p + "attention.output.dense.weight"].T
            attn += w[p + "attention.output.dense.bias"]
            attn += x
            x = _layer_norm(attn, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                            eps)
            inter = x @ w[p + "intermediate.dense.weight"].T
            inter += w[p + "intermediate.dense.bias"]
            inter = _gelu(inter, out=inter)
            ffn = inter @ w[p + "output.dense.weight"].T
            ffn += w[p + "output.dense.bias"]
            ffn += x
            x = _layer_norm(ffn, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        return np.add.reduceat(x, starts, axis=0) / np.maximum(lengths, 1).astype(np.float32)[:, None]


_ENCODE_LOCK = threading.Lock()  # one encode at a time: the BLAS thread limit is process-wide


def _worker_count() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _single_threaded_blas():
    """BLAS on one thread while the encoder's own workers run (threadpoolctl is
    a dependency; without it, nothing is changed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")
