"""The arithmetic parameter counts (`blip2.param_count`) against the model itself, built on the meta device.

The oracle builds each model as `blip2.models.build.build_model` does, freezes it as training does
(`freeze_frozen_parts`) and counts with `count_parameters`; a stage-1 model's trainable count is everything
outside `vision.`, as the paper's 188M. Every zoo model (the toy ones included) must agree exactly, and so
must variants of the toy configs that change one field each: those show that the field matters to both sides.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers

import blip2
import toyworld  # noqa: F401  (registers the toy models with the zoo)
from blip2 import param_count, zoo
from blip2.config import Blip2Config, LLMConfig
from blip2.models.build import build_model


def measured(cfg: Blip2Config) -> param_count.ParamCount:
    with torch.device("meta"):
        model = build_model(cfg)
    blip2.freeze_frozen_parts(model)
    counts = blip2.count_parameters(model)
    if cfg.is_stage1:
        trainable = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("vision."))
    else:
        trainable = counts.trainable
    return param_count.ParamCount(trainable=trainable, total=counts.total)


@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_model_counts_as_built(name):
    cfg = zoo.get(name).config()
    assert param_count.count(cfg) == measured(cfg)


def test_counting_imports_no_torch():
    """`bench list models` counts in a process that never imports torch or transformers."""
    code = ("import sys, toyworld; from blip2 import param_count, zoo; "
            "[param_count.count(zoo.get(n).config()) for n in zoo.names()]; "
            "print(sorted({'torch', 'transformers', 'timm'} & set(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --- planted changes: one field each, on the toy configs (cheap to build) -----------------------------------


def _with(cfg: Blip2Config, part: str, **changes) -> Blip2Config:
    return dataclasses.replace(cfg, **{part: dataclasses.replace(getattr(cfg, part), **changes)})


def _with_llm(cfg: Blip2Config, **changes) -> Blip2Config:
    llm = LLMConfig(cfg.llm.family, cfg.llm.hub_id, {**cfg.llm.config, **changes})
    return dataclasses.replace(cfg, llm=llm)


def _without_llm_fields(cfg: Blip2Config, *keys: str) -> Blip2Config:
    config = {k: v for k, v in cfg.llm.config.items() if k not in keys}
    return dataclasses.replace(cfg, llm=LLMConfig(cfg.llm.family, cfg.llm.hub_id, config))


# change -> (the toy model it changes, the change). Each changes the count, but the last: toy-opt's
# word_embed_proj_dim is its hidden_size, transformers' default.
VARIANTS = {
    "cross-attention every layer": ("toy-qformer", lambda c: _with(c, "qformer", cross_attention_every=1)),
    "cross-attention every fourth layer": ("toy-opt", lambda c: _with(c, "qformer", cross_attention_every=4)),
    "Q-Former vocabulary": ("toy-qformer", lambda c: _with(c, "qformer", vocab_size=700)),
    "Q-Former positions": ("toy-qformer", lambda c: _with(c, "qformer", max_positions=80)),
    "more queries": ("toy-opt", lambda c: _with(c, "qformer", num_queries=24)),
    "Q-Former FFN width": ("toy-t5", lambda c: _with(c, "qformer", ffn_dim=200)),
    "Q-Former depth": ("toy-opt", lambda c: _with(c, "qformer", layers=5)),
    "text branch in a stage-2 model (VQA)": ("toy-opt", lambda c: dataclasses.replace(
        _with(c, "qformer", with_text=True), qformer_text_input=True)),
    "ITC embedding size": ("toy-qformer", lambda c: dataclasses.replace(c, embed_dim=32)),
    "image size": ("toy-opt", lambda c: _with(c, "vision", image_size=96)),
    "patch size": ("toy-qformer", lambda c: _with(c, "vision", patch_size=16)),
    "ViT width": ("toy-opt", lambda c: _with(_with(c, "vision", width=64), "qformer", vision_width=64)),
    "ViT depth": ("toy-t5", lambda c: _with(c, "vision", depth=2)),
    "ViT MLP width": ("toy-qformer", lambda c: _with(c, "vision", mlp_dim=200)),
    "CLIP trunk": ("toy-opt", lambda c: _with(c, "vision", arch="clip_vit_l")),
    "CLIP trunk, stage 1": ("toy-qformer", lambda c: _with(c, "vision", arch="clip_vit_l")),
    "OPT vocabulary": ("toy-opt", lambda c: _with_llm(c, vocab_size=1500)),
    "OPT positions": ("toy-opt", lambda c: _with_llm(c, max_position_embeddings=300)),
    "OPT word_embed_proj_dim": ("toy-opt", lambda c: _with_llm(c, word_embed_proj_dim=64)),
    "OPT post-norm": ("toy-opt", lambda c: _with_llm(c, do_layer_norm_before=False)),
    "OPT without biases": ("toy-opt", lambda c: _with_llm(c, enable_bias=False)),
    "OPT norms without affine": ("toy-opt", lambda c: _with_llm(c, layer_norm_elementwise_affine=False)),
    "OPT untied lm_head": ("toy-opt", lambda c: _with_llm(c, tie_word_embeddings=False)),
    "OPT width": ("toy-opt", lambda c: _with_llm(c, hidden_size=64, word_embed_proj_dim=64)),
    "OPT FFN and depth": ("toy-opt", lambda c: _with_llm(c, ffn_dim=256, num_hidden_layers=2)),
    "T5 vocabulary": ("toy-t5", lambda c: _with_llm(c, vocab_size=1500)),
    "T5 not gated": ("toy-t5", lambda c: _with_llm(c, feed_forward_proj="relu", is_gated_act=False,
                                                   dense_act_fn="relu")),
    "T5 tied lm_head": ("toy-t5", lambda c: _with_llm(c, tie_word_embeddings=True)),
    "T5 decoder depth": ("toy-t5", lambda c: _with_llm(c, num_decoder_layers=4)),
    "T5 heads and head size": ("toy-t5", lambda c: _with_llm(c, num_heads=2, d_kv=16)),
    "T5 relative buckets": ("toy-t5", lambda c: _with_llm(c, relative_attention_num_buckets=16)),
    "T5 width": ("toy-t5", lambda c: _with_llm(c, d_model=96, d_ff=192)),
    "T5 decoder depth left to transformers (3, the encoder's)": (
        "toy-t5", lambda c: _without_llm_fields(c, "num_decoder_layers")),
    "OPT word_embed_proj_dim left to transformers": (
        "toy-opt", lambda c: _without_llm_fields(c, "word_embed_proj_dim")),
}


@pytest.mark.parametrize("change", list(VARIANTS))
def test_a_changed_field_changes_both_counts_alike(change):
    base_name, apply = VARIANTS[change]
    base = zoo.get(base_name).config()
    variant = apply(zoo.get(base_name).config())
    ours = param_count.count(variant)
    assert ours == measured(variant)
    unchanged = change == "OPT word_embed_proj_dim left to transformers"
    assert (ours.total == param_count.count(base).total) == unchanged, "the planted change must change the model"


@pytest.mark.parametrize(("defaults", "config_class"), [(param_count.OPT_DEFAULTS, transformers.OPTConfig),
                                                      (param_count.T5_DEFAULTS, transformers.T5Config)])
def test_llm_defaults_are_transformers_own(defaults, config_class):
    config = config_class()
    assert {key: getattr(config, key) for key in defaults} == defaults


def test_a_count_that_left_out_a_part_would_fail(monkeypatch):
    """The oracle is not a mirror: dropping the ITG head's bias from the arithmetic breaks the agreement."""
    cfg = zoo.get("toy-qformer").config()
    real = param_count.stage1_heads
    monkeypatch.setattr(param_count, "stage1_heads", lambda c: real(c) - c.qformer.vocab_size)
    assert param_count.count(cfg) != measured(cfg)
