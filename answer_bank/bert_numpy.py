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

import json
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
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


# erf by Abramowitz & Stegun 7.1.26: error below 1.5e-7, float32's own
# resolution. scipy's erf took 40 % of the encoding time; this runs in
# cache-sized chunks, about four times faster, with the same result.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))
_INV_SQRT2 = np.float32(1 / np.sqrt(2.0))
_CHUNK = 65536


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact-form GELU, x * Phi(x), of a float32 array (a new array)."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat)
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
    return out.reshape(x.shape)


class NumpyBertEncoder:
    def __init__(self, path: str | Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.config, _, self.max_len = _read_config(self.path)
        weights = load_file(str(self.path / "model.safetensors"))
        # Some checkpoints prefix every name with "bert.".
        self.w = {k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in weights.items()}
        self.heads = int(self.config["num_attention_heads"])
        self.layers = int(self.config["num_hidden_layers"])
        self.eps = float(self.config.get("layer_norm_eps", 1e-12))
        # Pre-transpose the dense weights once: x @ W.T for every call otherwise.
        for k in list(self.w):
            if k.endswith(".weight") and self.w[k].ndim == 2 and "embeddings" not in k:
                self.w[k] = np.ascontiguousarray(self.w[k].T)
        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.tokenizer.no_padding()

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """L2-normalised mean-pooled embeddings, (n, hidden) float32."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = [e.ids for e in encodings]
        out = np.zeros((len(texts), self.config["hidden_size"]), dtype=np.float32)
        # Similar lengths together: less padding, fewer wasted multiplications.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            length = max(len(ids[i]) for i in batch)
            tokens = np.zeros((len(batch), length), dtype=np.int64)
            mask = np.zeros((len(batch), length), dtype=np.float32)
            for row, i in enumerate(batch):
                tokens[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1.0
            out[batch] = self._forward(tokens, mask)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _forward(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w, eps = self.w, self.eps
        b, n = tokens.shape
        x = (w["embeddings.word_embeddings.weight"][tokens]
             + w["embeddings.position_embeddings.weight"][:n][None, :, :]
             + w["embeddings.token_type_embeddings.weight"][0][None, None, :])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        hidden = x.shape[-1]
        head = hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(head))
        attn_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            flat = x.reshape(b * n, hidden)

            def proj(name: str) -> np.ndarray:
                y = flat @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return y.reshape(b, n, self.heads, head).transpose(0, 2, 1, 3)

            q, k, v = proj("attention.self.query"), proj("attention.self.key"), proj("attention.self.value")
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + attn_bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b * n, hidden)
            attn = ctx @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            flat = _layer_norm(attn + flat, w[p + "attention.output.LayerNorm.weight"],
                               w[p + "attention.output.LayerNorm.bias"], eps)
            inter = _gelu(flat @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            ffn = inter @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(ffn + flat, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
                            eps).reshape(b, n, hidden)
        summed = (x * mask[:, :, None]).sum(axis=1)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
