"""The LAVIS checkpoint format: `.pth` files from salesforce/LAVIS, mapped key by key.

A LAVIS BLIP-2 file holds only what was trained: the Q-Former, the queries,
`ln_vision`, the projections, and the ViT when it was fine-tuned. The frozen ViT
comes from `eva_vit_g.pth` / `clip_vit_L.pth` and the frozen LLM from the hub,
so a model is composed from up to three sources and then checked as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import transformers

from ..config import Blip2Config
from ..models.blip2_lm import untie_output_embeddings
from ..models.build import build_model
from ..models.image_encoder import resize_pos_embed
from .hub import hf_snapshot, lavis_file
from .keymap import CheckpointKeyError, Rule, load_into, map_state_dict
from .qformer_rules import qformer_layer_rules
from .weights_io import load_pickle_weights

_WB = r"(weight|bias)"


def eva_rules(prefix: str) -> list[Rule]:
    """EVA ViT-g keys are already timm's Eva names."""
    p = prefix.replace(".", r"\.")
    return [(p + r"(cls_token|pos_embed|patch_embed\..+|blocks\..+)", r"vision.trunk.\1")]


def clip_rules(prefix: str) -> list[Rule]:
    """OpenAI CLIP names (conv1, ln_pre, transformer.resblocks) to timm's VisionTransformer names."""
    p = prefix.replace(".", r"\.")
    b = p + r"transformer\.resblocks\.(\d+)\."
    return [
        (p + "class_embedding", "vision.trunk.cls_token"),
        (p + "positional_embedding", "vision.trunk.pos_embed"),
        (p + r"conv1\.weight", "vision.trunk.patch_embed.proj.weight"),
        (p + rf"ln_pre\.{_WB}", r"vision.trunk.norm_pre.\1"),
        (b + r"attn\.in_proj_weight", r"vision.trunk.blocks.\1.attn.qkv.weight"),
        (b + r"attn\.in_proj_bias", r"vision.trunk.blocks.\1.attn.qkv.bias"),
        (b + rf"attn\.out_proj\.{_WB}", r"vision.trunk.blocks.\1.attn.proj.\2"),
        (b + rf"ln_([12])\.{_WB}", r"vision.trunk.blocks.\1.norm\2.\3"),
        (b + rf"mlp\.c_fc\.{_WB}", r"vision.trunk.blocks.\1.mlp.fc1.\2"),
        (b + rf"mlp\.c_proj\.{_WB}", r"vision.trunk.blocks.\1.mlp.fc2.\2"),
    ]


BLIP2_RULES: list[Rule] = [
    (r"query_tokens", "qformer.query_tokens"),
    (rf"ln_vision\.{_WB}", r"vision.ln_vision.\1"),
    (rf"Qformer\.bert\.embeddings\.LayerNorm\.{_WB}", r"qformer.embed_norm.\1"),
    (r"Qformer\.bert\.embeddings\.(word|position)_embeddings\.weight", r"qformer.\1_embeddings.weight"),
    *qformer_layer_rules("Qformer.bert", "self"),
    (rf"Qformer\.cls\.predictions\.transform\.dense\.{_WB}", r"itg_head.dense.\1"),
    (rf"Qformer\.cls\.predictions\.transform\.LayerNorm\.{_WB}", r"itg_head.norm.\1"),
    (r"Qformer\.cls\.predictions\.bias", "itg_head.bias"),
    (rf"(vision_proj|text_proj|itm_head)\.{_WB}", r"\1.\2"),
    (r"temp", "temp"),
    (rf"(?:opt|t5)_proj\.{_WB}", r"llm_proj.\1"),
    (r"(?:opt|t5)_model\.(.+)", r"llm.\1"),
]

# Keys LAVIS files carry that we deliberately do not load, each for a stated reason.
BLIP2_DROP = [
    r"Qformer\.bert\.embeddings\.position_ids",  # a buffer (arange), not a weight
    # The ITG decoder is tied to the word embeddings (and its bias to predictions.bias): checked, then dropped.
    r"Qformer\.cls\.predictions\.decoder\.(weight|bias)",
]


def _vision_rules(arch: str, prefix: str) -> list[Rule]:
    return eva_rules(prefix) if arch == "eva_vit_g" else clip_rules(prefix)


def _vision_drop(cfg: Blip2Config, prefix: str) -> list[str]:
    """Blocks past BLIP-2's truncation, and heads of the full encoder, which BLIP-2 never uses."""
    p = prefix.replace(".", r"\.")
    keep = "|".join(str(i) for i in range(cfg.vision.depth))
    blocks = r"blocks" if cfg.vision.arch == "eva_vit_g" else r"transformer\.resblocks"
    return [p + rf"{blocks}\.(?!(?:{keep})\.).*", p + r"(norm|fc_norm|head|ln_post)\..*", p + "proj"]


def _fix_shapes(state: dict[str, torch.Tensor], cfg: Blip2Config) -> dict[str, torch.Tensor]:
    """CLIP stores the class/position embeddings without batch dims; resize positions to the image size."""
    state = dict(state)
    cls = state.get("vision.trunk.cls_token")
    if cls is not None and cls.dim() == 1:
        state["vision.trunk.cls_token"] = cls.view(1, 1, -1)
    pos = state.get("vision.trunk.pos_embed")
    if pos is not None:
        pos = pos.unsqueeze(0) if pos.dim() == 2 else pos
        # LAVIS resizes EVA's table with align_corners=False and CLIP's with True.
        corners = cfg.vision.arch == "clip_vit_l"
        state["vision.trunk.pos_embed"] = resize_pos_embed(pos, cfg.vision.num_patches, align_corners=corners)
    return state


def _check_itg_tying(raw: dict[str, torch.Tensor], source: str) -> None:
    pairs = [
        ("Qformer.cls.predictions.decoder.weight", "Qformer.bert.embeddings.word_embeddings.weight"),
        ("Qformer.cls.predictions.decoder.bias", "Qformer.cls.predictions.bias"),
    ]
    for tied, canonical in pairs:
        if tied in raw and canonical in raw and not torch.equal(raw[tied], raw[canonical]):
            raise ValueError(f"{source}: {tied} differs from {canonical}; BLIP-2 ties them, so this file "
                             "is not a BLIP-2 Q-Former checkpoint")


def read_lavis_file(path: Path) -> dict[str, torch.Tensor]:
    """A LAVIS checkpoint's state dict (LAVIS wraps it as {"model": ...})."""
    raw = load_pickle_weights(path)
    if isinstance(raw, dict) and "model" in raw and isinstance(raw["model"], dict):
        raw = raw["model"]
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise ValueError(f"{path}: not a LAVIS state dict (expected tensors, optionally under 'model')")
    return raw


def load_lavis(
    checkpoint: Path,
    cfg: Blip2Config,
    vision_file: Path | None = None,
    llm_source: str | Path | None = None,
    tokenizer_source: str | Path | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Compose a model from a LAVIS BLIP-2 file, the frozen ViT file and the frozen LLM.

    `vision_file` defaults to the LAVIS ViT file for the architecture (looked up locally, then
    downloaded); `llm_source` to the LLM's hub id. Missing or unexpected keys are errors.
    """
    checkpoint = Path(checkpoint)
    raw = read_lavis_file(checkpoint)
    _check_itg_tying(raw, str(checkpoint))
    rules = BLIP2_RULES + _vision_rules(cfg.vision.arch, "visual_encoder.")
    drop = BLIP2_DROP + _vision_drop(cfg, "visual_encoder.")
    state, unmatched = map_state_dict(raw, rules, drop)
    files = [checkpoint]
    if not any(k.startswith("vision.trunk.") for k in state):
        vision_file = Path(vision_file) if vision_file else lavis_file(_VISION_FILES[cfg.vision.arch])
        vstate, vunmatched = _vision_file_state(vision_file, cfg)
        state.update(vstate)
        unmatched += [f"{vision_file.name}:{k}" for k in vunmatched]
        files.append(vision_file)
    state = _fix_shapes(state, cfg)

    llm = None
    if cfg.llm is not None and not any(k.startswith("llm.") for k in state):
        llm_source = llm_source or cfg.llm.hub_id
        llm = _load_llm(cfg, llm_source)
        state.update({f"llm.{k}": v for k, v in llm.state_dict().items()})
    model = build_model(cfg, llm=llm)
    model.eval()
    left = load_into(model, state, str(checkpoint), unmatched)
    facts = {"format": "lavis", "files": [str(f) for f in files], "llm": str(llm_source) if llm else None,
             "left_at_init": left, "tokenizer": str(tokenizer_source or llm_source or "")}
    return model, facts


_VISION_FILES = {"eva_vit_g": "eva_vit_g.pth", "clip_vit_l": "clip_vit_L.pth"}


def lavis_vision_state(path: Path, cfg: Blip2Config) -> dict[str, torch.Tensor]:
    """The frozen image encoder from a LAVIS ViT file (`eva_vit_g.pth`, `clip_vit_L.pth`) as our
    `vision.trunk.*` tensors: BLIP-2's truncation applied, positions resized to the config's image size.
    A stage-1 recipe starts from it (`vision_init: "lavis:eva_vit_g.pth"`); `ln_vision` is BLIP-2's own."""
    state, unmatched = _vision_file_state(path, cfg)
    if unmatched:
        raise CheckpointKeyError(str(path), [], unmatched)
    return _fix_shapes(state, cfg)


def _vision_file_state(path: Path, cfg: Blip2Config) -> tuple[dict[str, torch.Tensor], list[str]]:
    """A LAVIS ViT file's tensors under our names (truncated as BLIP-2 does), and its unmatched keys."""
    return map_state_dict(read_lavis_file(path), _vision_rules(cfg.vision.arch, ""), _vision_drop(cfg, ""))


def _load_llm(cfg: Blip2Config, source: str | Path) -> torch.nn.Module:
    """The frozen LLM in transformers' own format, from a local folder or the hub."""
    folder = Path(source) if Path(source).is_dir() else hf_snapshot(str(source))
    auto = transformers.AutoModelForCausalLM if cfg.llm.family == "opt" else transformers.AutoModelForSeq2SeqLM
    llm = auto.from_pretrained(folder, dtype=torch.float32)
    if cfg.llm.family == "t5" and cfg.llm.config.get("tie_word_embeddings") is False:
        untie_output_embeddings(llm)
    return llm
