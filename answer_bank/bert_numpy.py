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
    return unsupported_reason(path) is None


def unsupported_reason(path: Path) -> str | None:
    """Why the model at `path` must run through sentence-transformers, or
    None when this encoder gives its vectors exactly."""
    return inspect(path)[0]


def inspect(path: Path) -> tuple[str | None, tuple | None]:
    """(None, settings for `NumpyBertEncoder`) for a model this encoder runs
    exactly, else (why not, None)."""
    try:
        return None, _read_config(Path(path))
    except UnsupportedModel as e:
        return str(e), None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        return f"its configuration could not be read ({e.__class__.__name__}: {e})", None


# The gate below reads a model directory the way sentence-transformers 6.x
# and transformers 5.x do, and accepts only what `NumpyBertEncoder` runs
# exactly: a BERT encoder, mean pooling, an optional Normalize, float32
# arithmetic, and a WordPiece tokenizer whose tokenizer.json says the same as
# tokenizer_config.json (transformers rebuilds a BERT tokenizer from the
# latter). Any key it does not know sends the model to sentence-transformers:
# slower to start, never different.

_ST_MODULES = {"Transformer", "Pooling", "Normalize"}
_ST_CONFIG_FILES = ("sentence_bert_config.json", "sentence_roberta_config.json", "sentence_distilbert_config.json",
                    "sentence_camembert_config.json", "sentence_albert_config.json",
                    "sentence_xlm-roberta_config.json", "sentence_xlnet_config.json")
# sentence_bert_config.json keys and the only values run here (None: absent or null)
_KWARGS_KEYS = ("model_args", "model_kwargs", "tokenizer_args", "processor_kwargs", "config_args", "config_kwargs")
_TEXT_MODALITY = {"text": {"method": "forward", "method_output_name": "last_hidden_state"}}
_LEGACY_POOLING = ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_tokens",
                   "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")
_LEGACY_POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
_SPECIAL = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
            "mask_token": "[MASK]"}
# tokenizer_config.json keys that do not change the token ids of one text
# (those that do are compared with tokenizer.json below)
_TOKENIZER_INERT = {"backend", "name_or_path", "special_tokens_map_file", "clean_up_tokenization_spaces", "is_local",
                    "local_files_only", "max_length", "pad_to_multiple_of", "pad_token_type_id", "padding_side",
                    "stride", "truncation_strategy", "model_input_names", "model_max_length", "tokenizer_class",
                    "truncation_side", "do_basic_tokenize", "never_split", "extra_special_tokens",
                    "added_tokens_decoder", "do_lower_case", "tokenize_chinese_chars", "strip_accents", *_SPECIAL}
_LAYER_TENSORS = ("attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
                  "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
                  "attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
                  "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
                  "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias")
_FLOAT_DTYPES = {"F32", "F16", "BF16"}


def _json(path: Path) -> dict | list:
    return json.loads(path.read_text(encoding="utf-8"))


def _read_config(path: Path) -> tuple:
    """(config.json, pooling config, max tokens per text, tokenizer) of a
    model the NumPy encoder runs exactly; UnsupportedModel saying why for any
    other."""
    if not (path / "modules.json").exists():
        raise UnsupportedModel("no modules.json (not saved by sentence-transformers)")
    modules = _json(path / "modules.json")
    kinds = []
    for m in modules:
        kind = str(m.get("type", "")).rsplit(".", 1)[-1]
        if not str(m.get("type", "")).startswith("sentence_transformers.") or kind not in _ST_MODULES:
            raise UnsupportedModel(f"module {m.get('type')!r} is not a sentence-transformers "
                                   "Transformer, Pooling or Normalize")
        extra = sorted(set(m) - {"idx", "name", "path", "type"})
        if extra:
            raise UnsupportedModel(f"module {m.get('type')!r} has arguments {extra}")
        kinds.append(kind)
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        raise UnsupportedModel(f"module stack {kinds} is not Transformer + Pooling (+ Normalize)")
    if modules[0].get("path", "") != "":
        raise UnsupportedModel("the Transformer module is not in the model's root directory")

    config = _json(path / "config.json")
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise UnsupportedModel("only BERT models with gelu are run in NumPy "
                               f"(model_type {config.get('model_type')!r}, hidden_act {config.get('hidden_act')!r})")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise UnsupportedModel("relative position embeddings are not supported")
    if config.get("is_decoder") or config.get("add_cross_attention"):
        raise UnsupportedModel("a BERT decoder is not supported")
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    if hidden % heads:
        raise UnsupportedModel("hidden_size is not a multiple of num_attention_heads")
    positions = int(config.get("max_position_embeddings", 512))

    # The Transformer module's own settings
    st_config = {}
    for name in _ST_CONFIG_FILES:
        if (path / name).exists():
            st_config = _json(path / name)
            break
    for key, value in st_config.items():
        ok = {
            "max_seq_length": value is None or (isinstance(value, int) and value > 0),
            "do_lower_case": isinstance(value, bool),
            "transformer_task": value == "feature-extraction",
            "modality_config": value == _TEXT_MODALITY,
            "module_output_name": value == "token_embeddings",
            "processing_kwargs": not value,
            "unpad_inputs": value is None,
            "query_length": value is None,
            "document_length": value is None,
            "query_expansion": value is None,
            **{k: isinstance(value, dict) and not set(value) - {"trust_remote_code"} for k in _KWARGS_KEYS},
        }.get(key, False)
        if not ok:
            raise UnsupportedModel(f"sentence-transformers setting {key}={value!r} is not reproduced in NumPy")
    st_model = path / "config_sentence_transformers.json"
    if st_model.exists():
        meta = _json(st_model)
        if meta.get("default_prompt_name"):
            raise UnsupportedModel(f"a default prompt ({meta['default_prompt_name']!r}) is prepended to every text")
        if meta.get("model_type", "SentenceTransformer") != "SentenceTransformer":
            raise UnsupportedModel(f"model_type {meta['model_type']!r} is not a SentenceTransformer")

    # Pooling, read as sentence-transformers 6.x does (the older boolean keys
    # become one `pooling_mode`; none set means mean)
    pooling = dict(_json(path / modules[1]["path"] / "config.json"))
    legacy = [k for k in _LEGACY_POOLING if k in pooling]
    if legacy and "pooling_mode" not in pooling:
        active = [mode for k, mode in zip(_LEGACY_POOLING, _LEGACY_POOLING_MODES) if pooling.get(k)]
        pooling["pooling_mode"] = active or ["mean"]
    for k in legacy:
        del pooling[k]
    mode = pooling.pop("pooling_mode", "mean")
    if isinstance(mode, list) and len(mode) == 1:
        mode = mode[0]
    if mode != "mean":
        raise UnsupportedModel(f"pooling {mode!r} is not mean pooling")
    dim = pooling.pop("embedding_dimension", pooling.pop("word_embedding_dimension", hidden))
    pooling.pop("include_prompt", None)  # no prompt is ever added here
    if dim != hidden:
        raise UnsupportedModel(f"the pooling dimension {dim} is not the model's hidden size {hidden}")
    if pooling:
        raise UnsupportedModel(f"pooling settings {sorted(pooling)} are not reproduced in NumPy")
    if len(modules) == 3:
        normalize = path / modules[2].get("path", "") / "config.json"
        settings = _json(normalize) if modules[2].get("path") and normalize.exists() else {}
        if (settings.get("module_input_name", "sentence_embedding") != "sentence_embedding"
                or settings.get("module_output_name") not in (None, "sentence_embedding")
                or set(settings) - {"module_input_name", "module_output_name"}):
            raise UnsupportedModel(f"Normalize settings {settings} are not the plain sentence normalisation")

    max_len = _max_length(path, st_config, positions)
    _check_weights(path, config)
    tokenizer = _check_tokenizer(path, st_config)
    return config, {"pooling_mode": "mean", "embedding_dimension": hidden}, max_len, tokenizer


def _max_length(path: Path, st_config: dict, positions: int) -> int:
    """Tokens kept per text, as sentence-transformers 6.x sets it: the
    Transformer's max_seq_length when given (not capped), else the
    tokenizer's model_max_length capped at max_position_embeddings."""
    if st_config.get("max_seq_length") is not None:
        max_len = int(st_config["max_seq_length"])
    else:
        tok = _json(path / "tokenizer_config.json") if (path / "tokenizer_config.json").exists() else {}
        if not isinstance(tok.get("model_max_length"), int):
            raise UnsupportedModel("neither max_seq_length nor the tokenizer's model_max_length is set")
        max_len = min(int(tok["model_max_length"]), positions)
    if not 2 < max_len <= positions:
        raise UnsupportedModel(f"max_seq_length {max_len} is outside 3..max_position_embeddings ({positions})")
    return max_len


def _token(value) -> str:
    return value.get("content") if isinstance(value, dict) else value


def _check_tokenizer(path: Path, st_config: dict):
    """tokenizer.json (what `tokenizers` runs here) gives the same ids as the
    tokenizer transformers builds from tokenizer_config.json."""
    if not (path / "tokenizer.json").exists():
        raise UnsupportedModel("there is no tokenizer.json")
    tok = _json(path / "tokenizer_config.json") if (path / "tokenizer_config.json").exists() else {}
    unknown = set(tok) - _TOKENIZER_INERT
    if unknown:
        raise UnsupportedModel(f"tokenizer settings {sorted(unknown)} are not reproduced in NumPy")
    if tok.get("tokenizer_class", "BertTokenizer") not in ("BertTokenizer", "BertTokenizerFast"):
        raise UnsupportedModel(f"tokenizer class {tok['tokenizer_class']!r} is not BertTokenizer")
    if (tok.get("truncation_side", "right") != "right" or tok.get("do_basic_tokenize", True) is not True
            or tok.get("never_split") or tok.get("extra_special_tokens")):
        raise UnsupportedModel("the tokenizer truncates on the left or keeps words unsplit")
    special = {k: _token(tok.get(k, v)) for k, v in _SPECIAL.items()}
    if (path / "special_tokens_map.json").exists():
        for k, v in _json(path / "special_tokens_map.json").items():
            if k in special and _token(v) != special[k]:
                raise UnsupportedModel(f"special_tokens_map.json and tokenizer_config.json disagree on {k}")
    lower = tok.get("do_lower_case", True)
    if st_config.get("do_lower_case") and not lower:
        raise UnsupportedModel("do_lower_case is added to a tokenizer that does not lowercase")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))  # the encoder's, once checked

    def state(part) -> dict | None:
        return None if part is None else json.loads(part.__getstate__())

    model = tokenizer.model
    expected_normalizer = {"type": "BertNormalizer", "clean_text": True,
                           "handle_chinese_chars": tok.get("tokenize_chinese_chars", True),
                           "strip_accents": tok.get("strip_accents"), "lowercase": lower}
    if (state(tokenizer.normalizer) != expected_normalizer
            or state(tokenizer.pre_tokenizer) != {"type": "BertPreTokenizer"}
            or type(model).__name__ != "WordPiece" or model.continuing_subword_prefix != "##"
            or model.max_input_chars_per_word != 100 or model.unk_token != special["unk_token"]):
        raise UnsupportedModel("tokenizer.json is not the BERT WordPiece tokenizer tokenizer_config.json describes")
    cls, sep = special["cls_token"], special["sep_token"]
    post = state(tokenizer.post_processor) or {}
    single = [{"SpecialToken": {"id": cls, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
              {"SpecialToken": {"id": sep, "type_id": 0}}]
    specials = post.get("special_tokens") or {}
    if (post.get("type") != "TemplateProcessing" or post.get("single") != single
            or any((specials.get(t) or {}).get("ids") != [tokenizer.token_to_id(t)] for t in (cls, sep))):
        raise UnsupportedModel("tokenizer.json does not frame a text as [CLS] text [SEP]")
    added = [(a.content, i, (a.special, a.lstrip, a.rstrip, a.single_word, a.normalized))
             for i, a in tokenizer.get_added_tokens_decoder().items()]
    for key, a in (tok.get("added_tokens_decoder") or {}).items():
        a = a if isinstance(a, dict) else {"content": a}
        added.append((a.get("content"), int(key), (a.get("special", True), a.get("lstrip", False),
                                                    a.get("rstrip", False), a.get("single_word", False),
                                                    a.get("normalized", False))))
    for content, token_id, flags in added:
        if (content not in special.values() or flags != (True, False, False, False, False)
                or tokenizer.token_to_id(content) != token_id):
            raise UnsupportedModel(f"added token {content!r} is not one of the plain special tokens")
    return tokenizer


def _safetensors_header(path: Path) -> dict:
    import struct

    with open(path, "rb") as fp:
        head = fp.read(8)
        if len(head) < 8:
            raise UnsupportedModel("model.safetensors is not a safetensors file")
        (size,) = struct.unpack("<Q", head)
        if size > 100_000_000:
            raise UnsupportedModel("model.safetensors has an implausible header")
        return json.loads(fp.read(size))


def _check_weights(path: Path, config: dict) -> None:
    """One model.safetensors with every tensor the encoder needs, of the
    expected shape, computed in float32 by transformers (the config's dtype
    if it names one, else the checkpoint's own: transformers 5 loads "auto")."""
    if not (path / "model.safetensors").exists():
        raise UnsupportedModel("the weights are not one model.safetensors file")
    header = _safetensors_header(path / "model.safetensors")
    header.pop("__metadata__", None)
    prefix = "bert." if any(k.startswith("bert.") for k in header) else ""
    hidden, inter = int(config["hidden_size"]), int(config["intermediate_size"])
    shapes = {"embeddings.word_embeddings.weight": [int(config["vocab_size"]), hidden],
              "embeddings.position_embeddings.weight": [int(config.get("max_position_embeddings", 512)), hidden],
              "embeddings.token_type_embeddings.weight": [int(config.get("type_vocab_size", 2)), hidden],
              "embeddings.LayerNorm.weight": [hidden], "embeddings.LayerNorm.bias": [hidden]}
    for layer in range(int(config["num_hidden_layers"])):
        for name in _LAYER_TENSORS:
            out = inter if name.startswith("intermediate.dense") else hidden
            inp = inter if name == "output.dense.weight" else hidden
            shapes[f"encoder.layer.{layer}.{name}"] = [out, inp] if name.endswith("dense.weight") or name.endswith(
                ("query.weight", "key.weight", "value.weight")) else [out]
    dtypes = set()
    for name, shape in shapes.items():
        info = header.get(prefix + name)
        if info is None:
            raise UnsupportedModel(f"the weights lack {name} (transformers would initialise it at random)")
        if list(info.get("shape", [])) != shape or info.get("dtype") not in _FLOAT_DTYPES:
            raise UnsupportedModel(f"{name} is {info.get('dtype')} {info.get('shape')}, not {shape} in float")
        dtypes.add(info["dtype"])
    wanted = config.get("dtype", config.get("torch_dtype"))
    if wanted is None:
        wanted = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtypes.pop()] if len(dtypes) == 1 else "mixed"
    if wanted != "float32":
        raise UnsupportedModel(f"transformers computes this model in {wanted}, not float32")


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

    # BF16 is read as its 16 raw bits and widened to float32 exactly (the gate
    # lets it through only where transformers computes in float32 too).
    dtypes = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64, "I64": np.int64,
              "I32": np.int32}
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
            if name == "__metadata__" or info.get("dtype") not in dtypes:  # not a tensor the encoder uses
                continue
            dtype = np.dtype(dtypes[info["dtype"]]).newbyteorder("<")
            begin, end = info["data_offsets"]
            shape = tuple(int(d) for d in info["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            if end - begin != count * dtype.itemsize or base + end > len(buf):
                raise ValueError(f"{name}: bad data offsets")
            out[name] = np.frombuffer(buf, dtype=dtype, count=count, offset=base + begin).reshape(shape)
            if info["dtype"] == "BF16":
                out[name] = (out[name].astype(np.uint32) << 16).view(np.float32)
        return out
    except (KeyError, ValueError, TypeError, struct.error):
        from safetensors.numpy import load_file

        return load_file(str(path))


class NumpyBertEncoder:
    """Encodes texts in batches of similar length; the batches run on a few
    worker threads with single-threaded BLAS (see `encode`)."""

    def __init__(self, path: str | Path, settings: tuple | None = None):
        """`settings`: what `inspect(path)` returned, when it was just called
        (used once: the tokenizer in it becomes this encoder's)."""
        self.path = Path(path)
        self.config, _, self.max_len, self.tokenizer = settings or _read_config(self.path)
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
