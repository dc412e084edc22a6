"""Full-size (or tiny) random BLIP-2 models for `gpu_full_scale.py`, ours and transformers' sharing one copy of
the weights in memory.

No released weights can be fetched where the benchmark runs, and saving 4B random parameters to disk and
reading them back twice would eat most of the time budget. So our model is built on the meta device,
materialised directly on the GPU with random values, and transformers' `Blip2ForConditionalGeneration` /
`Blip2ForImageTextRetrieval` is built on the meta device too and handed our tensors (the key mapping is
`blip2.checkpoints.hf.HF_RULES`, the one the loader uses): the LLM module itself is shared, and every
ViT / Q-Former parameter is the same `Parameter` object in both models, so casting ours to the released
precision casts the twin as well. Only EVA's fused q/k/v bias (k is zero) is a separate small tensor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn
import transformers
from accelerate import init_empty_weights
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors

from benchmarks.synthetic import QUESTION_STARTS, WORDS
from blip2 import zoo
from blip2.checkpoints.hf import HF_RULES
from blip2.checkpoints.keymap import rename
from blip2.config import Blip2Config
from blip2.models.build import build_model

INIT_STD = 0.02  # transformers' initializer_range: keeps a 39-block ViT's activations finite in fp16
PROMPT_WORDS = "question answer short a photo of".split()
TINY_VOCAB = 512  # every vocabulary at tiny size: a 50k-word LM head would dominate a CPU run


# --- configs --------------------------------------------------------------------------------------


def tiny_config(name: str) -> Blip2Config:
    """The zoo entry's architecture shrunk to a few thousand parameters per layer (same layout), so the
    whole script runs on a CPU in seconds and exercises the same code as at full size."""
    cfg = zoo.get(name).config()
    vision = dataclasses.replace(cfg.vision, image_size=28, width=32, depth=2, heads=4, mlp_dim=48)
    qformer = dataclasses.replace(cfg.qformer, hidden=32, layers=2, heads=4, ffn_dim=40, vision_width=32,
                                  num_queries=4, vocab_size=TINY_VOCAB)
    llm = cfg.llm
    if llm is not None:
        small = {"vocab_size": TINY_VOCAB} | (
            {"hidden_size": 32, "word_embed_proj_dim": 32, "ffn_dim": 48, "num_hidden_layers": 2,
             "num_attention_heads": 4} if llm.family == "opt" else
            {"d_model": 32, "d_ff": 48, "d_kv": 8, "num_heads": 4, "num_layers": 2, "num_decoder_layers": 2})
        llm = dataclasses.replace(llm, config=llm.config | small)
    return dataclasses.replace(cfg, vision=vision, qformer=qformer, llm=llm, embed_dim=16)


def hf_config(cfg: Blip2Config, image_token: int | None) -> transformers.Blip2Config:
    """transformers' `Blip2Config` for our architecture (the inverse of `blip2.checkpoints.hf.config_from_hf`)."""
    v, q = cfg.vision, cfg.qformer
    if v.arch != "eva_vit_g":
        raise ValueError(f"transformers' BLIP-2 has only the EVA ViT-g tower, not {v.arch}")
    vision = transformers.Blip2VisionConfig(
        hidden_size=v.width, intermediate_size=v.mlp_dim, num_hidden_layers=v.depth, num_attention_heads=v.heads,
        image_size=v.image_size, patch_size=v.patch_size, layer_norm_eps=v.norm_eps)
    qformer = transformers.Blip2QFormerConfig(
        vocab_size=q.vocab_size, hidden_size=q.hidden, num_hidden_layers=q.layers, num_attention_heads=q.heads,
        intermediate_size=q.ffn_dim, cross_attention_frequency=q.cross_attention_every,
        encoder_hidden_size=v.width, use_qformer_text_input=q.with_text, max_position_embeddings=q.max_positions,
        pad_token_id=q.pad_token_id, layer_norm_eps=q.norm_eps)
    text = transformers.AutoConfig.for_model(**cfg.llm.config).to_dict() if cfg.llm else None
    hf = transformers.Blip2Config(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
                                  text_config=text, num_query_tokens=q.num_queries, image_token_index=image_token,
                                  image_text_hidden_size=cfg.embed_dim)
    if cfg.llm is None:
        hf.architectures = ["Blip2ForImageTextRetrieval"]
    return hf


# --- tokenizers -------------------------------------------------------------------------------------


def word_tokenizer(vocab_size: int, style: str) -> transformers.PreTrainedTokenizerFast:
    """A word-level tokenizer that fills the model's whole vocabulary, so every id a random model emits
    decodes to its own word and comparing texts compares token ids. `style` is "opt" (`</s>` id 2 first,
    pad 1, "\\n" one token), "t5" (`</s>` id 1 appended, pad 0) or "bert" ([CLS] .. [SEP], [DEC] bos)."""
    specials = {"opt": ["<s>", "<pad>", "</s>", "<unk>", "\n"], "t5": ["<pad>", "</s>", "<unk>"],
                "bert": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]}[style]
    words = sorted({w.lower() for w in WORDS + PROMPT_WORDS + " ".join(QUESTION_STARTS).split()} | {":", "?"})
    names = specials + words + ["<image>"]
    names += [f"w{i}" for i in range(vocab_size - len(names))]
    vocab = {t: i for i, t in enumerate(names)}
    unk = {"opt": "<unk>", "t5": "<unk>", "bert": "[UNK]"}[style]
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    template = {"opt": ("</s> $A", [("</s>", 2)]), "t5": ("$A </s>", [("</s>", 1)]),
                "bert": ("[CLS] $A [SEP]", [("[CLS]", 2), ("[SEP]", 3)])}[style]
    tok.post_processor = processors.TemplateProcessing(single=template[0], special_tokens=template[1])
    if style == "opt":
        tok.add_tokens([AddedToken("\n", normalized=False)])
        fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="</s>", eos_token="</s>",
                                                    pad_token="<pad>", unk_token="<unk>")
    elif style == "t5":
        fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>",
                                                    unk_token="<unk>")
    else:
        fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                    cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                                    bos_token="[DEC]")
    fast.add_tokens([AddedToken("<image>", normalized=False, special=True)], special_tokens=True)
    if len(fast) != vocab_size:
        raise AssertionError(f"tokenizer has {len(fast)} ids for a vocabulary of {vocab_size}")
    return fast


# --- our model, random, on the device -----------------------------------------------------------------


@torch.no_grad()
def randomize_on_device_(model: nn.Module, seed: int) -> None:
    """Random values everywhere, drawn on the model's device (seconds for 4B parameters on a GPU).

    Norm weights near 1, every other tensor N(0, 0.02): biases and query tokens non-zero, so a wrong key
    mapping or a skipped bias changes the outputs.
    """
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    for name, p in model.named_parameters():
        p.normal_(0.0, INIT_STD, generator=gen)
        if "norm" in name.lower() and name.endswith("weight"):
            p.add_(1.0)


def build_ours(cfg: Blip2Config, device: torch.device, seed: int = 0) -> nn.Module:
    """Our model in fp32 on `device`: parameters built on the meta device and materialised there; buffers
    (EVA's zero k bias) built for real, then moved."""
    with init_empty_weights(include_buffers=False):
        model = build_model(cfg)
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    model.to_empty(device=device)
    with torch.no_grad():
        for name, b in model.named_buffers():
            b.copy_(buffers[name])
    randomize_on_device_(model, seed)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    llm = cfg.llm
    if llm is None:
        model.tokenizer = word_tokenizer(cfg.qformer.vocab_size, "bert")
        model.bos_token_id = model.tokenizer.bos_token_id
    else:
        model.tokenizer = word_tokenizer(llm.config["vocab_size"], llm.family)
    return model


# --- the transformers twin ----------------------------------------------------------------------------


def hf_twin(ours: nn.Module) -> nn.Module:
    """transformers' BLIP-2 holding `ours`'s tensors (see the module docstring); raises if any is left."""
    cfg = ours.cfg
    device = next(ours.parameters()).device
    image_token = ours.tokenizer.convert_tokens_to_ids("<image>") if cfg.llm else None
    config = hf_config(cfg, image_token)
    config._attn_implementation = "sdpa"
    cls = transformers.Blip2ForImageTextRetrieval if cfg.llm is None else transformers.Blip2ForConditionalGeneration
    with init_empty_weights(include_buffers=False):
        twin = cls(config)
    if cfg.llm is not None:
        twin.language_model = ours.llm
    own = dict(ours.named_parameters())
    state, unmapped = {}, []
    for key in twin.state_dict(keep_vars=True):
        if key.startswith("language_model."):
            continue
        if key.endswith(".self_attn.qkv.bias"):
            stem = rename(key.replace("qkv.bias", "qkv.weight"), HF_RULES).removesuffix("qkv.weight")
            q = own[stem + "q_bias"]
            state[key] = torch.cat([q, torch.zeros_like(q), own[stem + "v_bias"]])
            continue
        ours_key = rename(key, HF_RULES)
        if ours_key not in own:
            unmapped.append(key)
            continue
        state[key] = own[ours_key]
    if unmapped:
        raise KeyError(f"transformers keys with no tensor of ours: {unmapped[:10]}")
    twin.load_state_dict(state, strict=False, assign=True)
    left = [k for k, p in twin.named_parameters() if p.is_meta]
    if left:
        raise KeyError(f"transformers parameters left on the meta device: {left[:10]}")
    for module in twin.modules():
        for name, buf in module._buffers.items():
            if buf is not None:
                module._buffers[name] = buf.to(device)
    twin.vision_model.post_layernorm.eps = cfg.vision.ln_vision_eps  # transformers has one eps for both norms
    return twin.eval()


def shared_fraction(ours: nn.Module, twin: nn.Module) -> float:
    """Share of the twin's parameter elements that live in our model's storage (the rest are copies)."""
    mine = {p.data_ptr() for p in ours.parameters()}
    params = list(twin.parameters())
    return sum(p.numel() for p in params if p.data_ptr() in mine) / sum(p.numel() for p in params)


@contextmanager
def hf_vision_autocast(twin: nn.Module, dtype: torch.dtype | None) -> Iterator[None]:
    """Run the twin's ViT as ours runs (`blip2.models.image_encoder.ImageEncoder`): embeddings and blocks under
    autocast (half-precision matmuls, fp32 norms), the final norm in fp32 on an fp32 input. With shared
    tensors, transformers' own habit (casting everything to the patch embedding's dtype) would meet our fp32
    norms and fail."""
    if dtype is None:
        yield
        return
    vision = twin.vision_model

    def under_autocast(module: nn.Module):
        plain = module.forward

        def forward(*args, **kwargs):
            with torch.autocast(next(module.parameters()).device.type, dtype=dtype):
                return plain(*args, **kwargs)
        return forward

    norm = vision.post_layernorm
    plain_norm = norm.forward
    vision.embeddings.forward = under_autocast(vision.embeddings)
    vision.encoder.forward = under_autocast(vision.encoder)
    norm.forward = lambda x: plain_norm(x.float())
    try:
        yield
    finally:
        for module in (vision.embeddings, vision.encoder, norm):
            del module.forward


def describe_attention(ours: nn.Module, twin: nn.Module) -> dict[str, str]:
    """Which attention kernel each part uses on each path (stated in the report)."""
    llm = getattr(ours, "llm", None)
    llm_attn = llm.config._attn_implementation if llm is not None else None
    blocks = getattr(ours.vision.trunk, "blocks", [])
    fused = bool(blocks) and bool(getattr(blocks[0].attn, "fused_attn", False))
    vit = "timm fused SDPA" if fused else "timm eager"
    ours_desc = f"ViT: {vit}; Q-Former: ours; LLM: {llm_attn} (shared module)" if llm else f"ViT: {vit}; Q-Former: ours"
    sub = twin.config.vision_config._attn_implementation
    q_attn = twin.config.qformer_config._attn_implementation
    twin_desc = f"ViT: {sub}; Q-Former: {q_attn}" + (f"; LLM: {llm_attn} (shared module)" if llm else "")
    return {"ours": ours_desc, "transformers": twin_desc}
