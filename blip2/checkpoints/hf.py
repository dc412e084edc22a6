"""The transformers (Hugging Face) BLIP-2 format: `Salesforce/blip2-*` repos or `save_pretrained` folders.

Reads `config.json`, the weights (safetensors preferred, sharded or not; a
pickled `pytorch_model.bin` only with `weights_only=True`), the tokenizer and
the preprocessor config, and maps every key explicitly onto our modules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..config import Blip2Config, LLMConfig, QFormerConfig, VisionConfig
from ..errors import ModelInputError
from ..models.build import build_model
from ..models.image_encoder import resize_pos_embed
from .keymap import Rule, load_into, map_state_dict
from .qformer_rules import qformer_layer_rules
from .weights_io import read_weight_files

_WB = r"(weight|bias)"

HF_RULES: list[Rule] = [
    (r"vision_model\.embeddings\.class_embedding", "vision.trunk.cls_token"),
    (rf"vision_model\.embeddings\.patch_embedding\.{_WB}", r"vision.trunk.patch_embed.proj.\1"),
    (r"vision_model\.embeddings\.position_embedding", "vision.trunk.pos_embed"),
    (rf"vision_model\.encoder\.layers\.(\d+)\.layer_norm([12])\.{_WB}", r"vision.trunk.blocks.\1.norm\2.\3"),
    # The fused qkv bias is split into q_bias / v_bias afterwards (see split_qkv_bias).
    (rf"vision_model\.encoder\.layers\.(\d+)\.self_attn\.qkv\.{_WB}", r"vision.trunk.blocks.\1.attn.qkv.\2"),
    (rf"vision_model\.encoder\.layers\.(\d+)\.self_attn\.projection\.{_WB}", r"vision.trunk.blocks.\1.attn.proj.\2"),
    (rf"vision_model\.encoder\.layers\.(\d+)\.mlp\.(fc[12])\.{_WB}", r"vision.trunk.blocks.\1.mlp.\2.\3"),
    (rf"vision_model\.post_layernorm\.{_WB}", r"vision.ln_vision.\1"),
    (r"query_tokens", "qformer.query_tokens"),
    (rf"qformer\.layernorm\.{_WB}", r"qformer.embed_norm.\1"),
    *qformer_layer_rules("qformer", "attention"),
    (r"embeddings\.word_embeddings\.weight", "qformer.word_embeddings.weight"),
    (r"embeddings\.position_embeddings\.weight", "qformer.position_embeddings.weight"),
    (rf"language_projection\.{_WB}", r"llm_proj.\1"),
    (r"language_model\.(.+)", r"llm.\1"),
    (rf"vision_projection\.{_WB}", r"vision_proj.\1"),
    (rf"text_projection\.{_WB}", r"text_proj.\1"),
    (rf"itm_head\.{_WB}", r"itm_head.\1"),
]

# transformers' retrieval model has no ITG head and no temperature; those stay at init (recorded).
HF_ABSENT_STAGE1 = [r"itg_head\..*", r"temp"]

RETRIEVAL_ARCHS = {"Blip2ForImageTextRetrieval"}


class HFCheckpointError(ModelInputError, ValueError):
    """A transformers folder that is not a BLIP-2 checkpoint this project can map (config, model type)."""


def split_qkv_bias(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """transformers stores EVA's q/v biases as one qkv bias; timm (and we) keep q_bias and v_bias only.

    The k part is zero as released, but transformers 5.x trains the whole fused bias, so a fine-tuned
    checkpoint can have a non-zero k part. It is dropped, exactly: it adds q . b_k to every attention logit
    of a query, the same constant for all keys, which softmax removes.
    """
    out = {}
    for key, value in state.items():
        if key.endswith(".attn.qkv.bias"):
            q, _, v = value.chunk(3)
            stem = key[: -len("qkv.bias")]
            out[stem + "q_bias"], out[stem + "v_bias"] = q, v
        else:
            out[key] = value
    return out


def config_from_hf(hf: dict[str, Any], preprocessor: dict[str, Any] | None = None) -> Blip2Config:
    """Translate a transformers `Blip2Config` dict (and preprocessor config) into ours."""
    archs = set(hf.get("architectures") or ["Blip2ForConditionalGeneration"])
    v, q = hf.get("vision_config", {}), hf.get("qformer_config", {})
    if v.get("hidden_act", "gelu") != "gelu" or not v.get("qkv_bias", True):
        raise HFCheckpointError("transformers' BLIP-2 vision tower is EVA ViT-g (gelu, q/v bias); the config "
                                "describes another one")
    image_size = v.get("image_size", 224)
    if preprocessor:
        size = preprocessor.get("size", {})
        image_size = size.get("height", size.get("shortest_edge", image_size)) if isinstance(size, dict) else size
    vision = VisionConfig(
        arch="eva_vit_g",
        image_size=int(image_size),
        patch_size=int(v.get("patch_size", 14)),
        width=v.get("hidden_size", 1408),
        depth=v.get("num_hidden_layers", 39),
        heads=v.get("num_attention_heads", 16),
        mlp_dim=v.get("intermediate_size", 6144),
        norm_eps=v.get("layer_norm_eps", 1e-6),
        ln_vision_eps=v.get("layer_norm_eps", 1e-6),
    )
    retrieval = bool(archs & RETRIEVAL_ARCHS)
    qformer = QFormerConfig(
        hidden=q.get("hidden_size", 768),
        layers=q.get("num_hidden_layers", 12),
        heads=q.get("num_attention_heads", 12),
        ffn_dim=q.get("intermediate_size", 3072),
        cross_attention_every=q.get("cross_attention_frequency", 2),
        vision_width=vision.width,
        num_queries=hf.get("num_query_tokens", 32),
        with_text=retrieval or bool(q.get("use_qformer_text_input", False)),
        vocab_size=q.get("vocab_size", 30522),
        max_positions=q.get("max_position_embeddings", 512),
        pad_token_id=q.get("pad_token_id", 0) or 0,
        norm_eps=q.get("layer_norm_eps", 1e-12),
        dropout=q.get("hidden_dropout_prob", 0.1),
        attention_dropout=q.get("attention_probs_dropout_prob", 0.1),
    )
    llm = None
    if not retrieval:
        text = dict(hf.get("text_config") or {})
        family = {"opt": "opt", "t5": "t5"}.get(text.get("model_type"))
        if family is None:
            raise HFCheckpointError(f"unsupported LLM type {text.get('model_type')!r} in text_config; BLIP-2 "
                                    "uses OPT or FlanT5")
        llm = LLMConfig(family=family, hub_id=text.get("_name_or_path") or None, config=_llm_config(text))
    cfg = Blip2Config(
        vision=vision,
        qformer=qformer,
        llm=llm,
        embed_dim=hf.get("image_text_hidden_size", 256),
        eos_text="\n" if llm is not None and llm.family == "opt" else None,
    )
    if preprocessor:
        cfg.image_mean = tuple(preprocessor.get("image_mean", cfg.image_mean))
        cfg.image_std = tuple(preprocessor.get("image_std", cfg.image_std))
    return cfg


def _llm_config(text: dict[str, Any]) -> dict[str, Any]:
    """Keep the fields transformers needs to rebuild the LLM; drop bookkeeping."""
    skip = {"_name_or_path", "architectures", "transformers_version", "dtype", "torch_dtype", "output_attentions",
            "output_hidden_states", "return_dict", "id2label", "label2id", "problem_type"}
    return {k: v for k, v in text.items() if k not in skip}


def read_preprocessor_config(directory: Path) -> dict[str, Any] | None:
    """The image processor settings: `preprocessor_config.json` (hub repos) or the `image_processor`
    section of `processor_config.json` (what transformers 5 writes)."""
    pre = directory / "preprocessor_config.json"
    if pre.exists():
        return json.loads(pre.read_text())
    proc = directory / "processor_config.json"
    if proc.exists():
        return json.loads(proc.read_text()).get("image_processor")
    return None


def load_hf_dir(directory: Path, source: str | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build our model from a transformers BLIP-2 folder. Returns (model, facts for provenance)."""
    source = source or str(directory)
    cfg_path = directory / "config.json"
    try:
        hf_cfg = json.loads(cfg_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HFCheckpointError(f"{cfg_path}: cannot read a transformers BLIP-2 config ({exc}); download the "
                                "checkpoint again") from exc
    if hf_cfg.get("model_type") != "blip-2":
        raise HFCheckpointError(f"{cfg_path}: model_type is {hf_cfg.get('model_type')!r}, not 'blip-2'; give a "
                                "BLIP-2 checkpoint")
    preprocessor = read_preprocessor_config(directory)
    cfg = config_from_hf(hf_cfg, preprocessor)
    state, files = read_weight_files(directory)
    mapped, unmatched = map_state_dict(state, HF_RULES)
    mapped = split_qkv_bias(mapped, source)
    if "vision.trunk.pos_embed" in mapped:  # the preprocessor may ask for another size than the table's
        mapped["vision.trunk.pos_embed"] = resize_pos_embed(mapped["vision.trunk.pos_embed"], cfg.vision.num_patches)
    model = build_model(cfg)
    model.eval()
    left = load_into(model, mapped, source, unmatched, allow_missing=HF_ABSENT_STAGE1 if cfg.is_stage1 else ())
    return model, {"format": "transformers", "files": [str(f) for f in files], "left_at_init": left}
