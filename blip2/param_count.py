"""Parameter counts of a BLIP-2 model, computed from its `Blip2Config` alone: no torch, no model built.

`bench list models` shows every zoo model's trainable and total counts. Building each model on the meta
device to count it takes seconds (and importing torch and transformers); counting from the config is
arithmetic. Each function below counts one part and follows the module that builds it, top to bottom:
the frozen image encoder, `ln_vision`, the Q-Former, the stage-1 heads, the projection and the frozen LLM.
Nothing is written down twice: a count that drifts from the code (a new layer, a transformers upgrade)
fails `tests/model/test_param_count_oracle.py`, which holds every zoo model equal to the built one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Blip2Config, LLMConfig, QFormerConfig, VisionConfig


@dataclass(frozen=True)
class ParamCount:
    """What BLIP-2 trains, and everything (tied tensors once).

    For a stage-2 model "trainable" is what `blip2.freeze_frozen_parts` leaves trainable: `ln_vision`,
    the Q-Former with its queries, and the projection. For a stage-1 model it is everything but the ViT
    (the Q-Former with its ITC/ITM/ITG heads), which is what the paper's 188M counts (Sec. 3.1).
    """

    trainable: int
    total: int


# --- torch.nn building blocks ----------------------------------------------------------------------


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def layer_norm(width: int, affine: bool = True) -> int:
    return 2 * width if affine else 0


def embedding(rows: int, width: int) -> int:
    return rows * width


# --- the frozen image encoder (blip2/models/eva_vit.py, clip_vit.py, image_encoder.py) ---------------


def vit_trunk(v: VisionConfig) -> int:
    """A timm ViT without head or final norm: patch convolution, [CLS], positions and `depth` blocks.

    EVA (timm `Eva`): the patch convolution has a bias; attention has q and v biases and no k bias
    (k's is a buffer). CLIP (timm `VisionTransformer`, pre_norm): no patch bias, `ln_pre`, a full qkv bias.
    """
    eva = v.arch == "eva_vit_g"
    if not eva and v.arch != "clip_vit_l":
        raise ValueError(f"unknown vision arch {v.arch!r}; expected 'eva_vit_g' or 'clip_vit_l'")
    w = v.width
    patch = 3 * v.patch_size**2 * w + (w if eva else 0)
    tokens = w + (1 + v.num_patches) * w  # [CLS] and its position, one position per patch
    pre_norm = 0 if eva else layer_norm(w)
    qkv = 3 * w * w + (2 * w if eva else 3 * w)
    block = layer_norm(w) + qkv + linear(w, w) + layer_norm(w) + linear(w, v.mlp_dim) + linear(v.mlp_dim, w)
    return patch + tokens + pre_norm + v.depth * block


def ln_vision(v: VisionConfig) -> int:
    return layer_norm(v.width)


# --- the Q-Former (blip2/models/qformer.py) -----------------------------------------------------------


def attention(q: QFormerConfig, kv_width: int) -> int:
    """Query, key, value (from `kv_width`), output projection, post-LayerNorm."""
    return 2 * linear(q.hidden, q.hidden) + 2 * linear(kv_width, q.hidden) + layer_norm(q.hidden)


def feed_forward(q: QFormerConfig) -> int:
    return linear(q.hidden, q.ffn_dim) + linear(q.ffn_dim, q.hidden) + layer_norm(q.hidden)


def qformer_layer(q: QFormerConfig, index: int) -> int:
    """Self-attention; cross-attention to the image every `cross_attention_every` layers (from layer 0);
    the queries' FFN; the text FFN when the Q-Former keeps its text branch."""
    cross = attention(q, q.vision_width) if index % q.cross_attention_every == 0 else 0
    text_ffn = feed_forward(q) if q.with_text else 0
    return attention(q, q.hidden) + cross + feed_forward(q) + text_ffn


def qformer(q: QFormerConfig) -> int:
    """The learned queries, the text embeddings (text branch only), the embedding norm and the layers."""
    text = embedding(q.vocab_size, q.hidden) + embedding(q.max_positions, q.hidden) if q.with_text else 0
    layers = sum(qformer_layer(q, i) for i in range(q.layers))
    return q.num_queries * q.hidden + text + layer_norm(q.hidden) + layers


# --- stage 1 (blip2/models/blip2_qformer.py) ------------------------------------------------------------


def stage1_heads(cfg: Blip2Config) -> int:
    """ITC projections, the ITM head, the ITG head (its decoder is tied to the word embeddings: a bias
    only) and the ITC temperature."""
    h, vocab = cfg.qformer.hidden, cfg.qformer.vocab_size
    itc = 2 * linear(h, cfg.embed_dim)
    itg = linear(h, h) + layer_norm(h) + vocab
    return itc + linear(h, 2) + itg + 1


# --- the frozen LLMs (transformers' modeling_opt.py / modeling_t5.py) ------------------------------------

# The transformers defaults of the fields read below, for a config dict that leaves one out; the oracle
# test checks them against transformers' own config classes. OPT's `word_embed_proj_dim` defaults to
# `hidden_size` and T5's `num_decoder_layers` to `num_layers`.
OPT_DEFAULTS: dict[str, Any] = {
    "vocab_size": 50272, "hidden_size": 768, "num_hidden_layers": 12, "ffn_dim": 3072,
    "max_position_embeddings": 2048, "do_layer_norm_before": True, "_remove_final_layer_norm": False,
    "enable_bias": True, "layer_norm_elementwise_affine": True, "tie_word_embeddings": True,
}
T5_DEFAULTS: dict[str, Any] = {
    "vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6, "num_heads": 8,
    "relative_attention_num_buckets": 32, "feed_forward_proj": "relu",
}
OPT_POSITION_OFFSET = 2  # OPT's learned position table has two rows more than max_position_embeddings


def _fields(config: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {**defaults, **{k: v for k, v in config.items() if k in defaults}}


def opt(config: dict[str, Any]) -> int:
    """`OPTForCausalLM`: token and learned position embeddings, project_in/out when the word embeddings are
    narrower than the model, pre-norm decoder layers, the final norm, and an lm_head tied to the tokens."""
    c = _fields(config, OPT_DEFAULTS)
    h, ffn, bias, affine = c["hidden_size"], c["ffn_dim"], c["enable_bias"], c["layer_norm_elementwise_affine"]
    word = config.get("word_embed_proj_dim") or h
    embeddings = embedding(c["vocab_size"], word) + embedding(c["max_position_embeddings"] + OPT_POSITION_OFFSET, h)
    projections = 2 * linear(word, h, bias=False) if word != h else 0
    final_norm = layer_norm(h, affine) if c["do_layer_norm_before"] and not c["_remove_final_layer_norm"] else 0
    layer = 4 * linear(h, h, bias) + linear(h, ffn, bias) + linear(ffn, h, bias) + 2 * layer_norm(h, affine)
    lm_head = 0 if c["tie_word_embeddings"] else linear(word, c["vocab_size"], bias=False)
    return embeddings + projections + final_norm + c["num_hidden_layers"] * layer + lm_head


def _t5_attention(c: dict[str, Any], relative_bias: bool) -> int:
    """q, k, v, o without biases; the first block of each stack also holds the relative position buckets."""
    inner = c["num_heads"] * c["d_kv"]
    buckets = embedding(c["relative_attention_num_buckets"], c["num_heads"]) if relative_bias else 0
    return 3 * linear(c["d_model"], inner, bias=False) + linear(inner, c["d_model"], bias=False) + buckets


def _t5_feed_forward(c: dict[str, Any]) -> int:
    """wi (or the gated wi_0 and wi_1 of "gated-*") and wo, without biases."""
    gated = c["feed_forward_proj"].split("-")[0] == "gated"
    d, ff = c["d_model"], c["d_ff"]
    return (2 if gated else 1) * linear(d, ff, bias=False) + linear(ff, d, bias=False)


def t5(config: dict[str, Any]) -> int:
    """`T5ForConditionalGeneration`: shared token embeddings, encoder and decoder stacks (RMS norms: a weight
    only), and an lm_head of its own when the config unties it (FlanT5; see `build_llm`)."""
    c = _fields(config, T5_DEFAULTS)
    norm = c["d_model"]

    def stack(layers: int, decoder: bool) -> int:
        blocks = 0
        for i in range(layers):
            blocks += _t5_attention(c, relative_bias=i == 0) + norm + _t5_feed_forward(c) + norm
            if decoder:
                blocks += _t5_attention(c, relative_bias=False) + norm
        return blocks + norm

    decoder_layers = config.get("num_decoder_layers") or c["num_layers"]
    shared = embedding(c["vocab_size"], c["d_model"])
    untied = config.get("tie_word_embeddings") is False
    lm_head = linear(c["d_model"], c["vocab_size"], bias=False) if untied else 0
    return shared + stack(c["num_layers"], decoder=False) + stack(decoder_layers, decoder=True) + lm_head


def llm(llm_cfg: LLMConfig) -> int:
    if llm_cfg.family == "opt":
        return opt(llm_cfg.config)
    if llm_cfg.family == "t5":
        return t5(llm_cfg.config)
    raise ValueError(f"unknown LLM family {llm_cfg.family!r}; expected 'opt' or 't5'")


def llm_width(llm_cfg: LLMConfig) -> int:
    """The width of the LLM's input embeddings, where the projection lands."""
    if llm_cfg.family == "opt":
        return _fields(llm_cfg.config, OPT_DEFAULTS)["hidden_size"]
    return _fields(llm_cfg.config, T5_DEFAULTS)["d_model"]


# --- the whole model ------------------------------------------------------------------------------------


def count(cfg: Blip2Config) -> ParamCount:
    """Trainable and total parameters of the model `cfg` builds (see `ParamCount` for "trainable")."""
    vit, norm, bridge = vit_trunk(cfg.vision), ln_vision(cfg.vision), qformer(cfg.qformer)
    if cfg.llm is None:
        heads = stage1_heads(cfg)
        return ParamCount(trainable=bridge + heads, total=vit + norm + bridge + heads)
    projection = linear(cfg.qformer.hidden, llm_width(cfg.llm))
    trainable = norm + bridge + projection
    return ParamCount(trainable=trainable, total=vit + trainable + llm(cfg.llm))
