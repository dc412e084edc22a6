"""Architecture configs: plain dataclasses that serialise to JSON.

They describe *shapes* only. Where the weights come from lives in `blip2.zoo`
and `blip2.checkpoints`, as timm keeps architecture and pretrained source apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

# CLIP's normalisation, used by every BLIP-2 image encoder (EVA-CLIP and OpenAI CLIP).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

VisionArch = Literal["eva_vit_g", "clip_vit_l"]
LLMFamily = Literal["opt", "t5"]


@dataclass
class VisionConfig:
    """A frozen ViT image encoder, truncated to `depth` blocks, followed by `ln_vision`."""

    arch: VisionArch = "eva_vit_g"
    image_size: int = 224
    patch_size: int = 14
    width: int = 1408
    depth: int = 39  # EVA ViT-g has 40 blocks; BLIP-2 drops the last one.
    heads: int = 16
    mlp_dim: int = 6144
    norm_eps: float = 1e-6
    # LAVIS builds ln_vision with torch's default eps (1e-5); transformers uses 1e-6 (LAVIS#418).
    ln_vision_eps: float = 1e-6

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@dataclass
class QFormerConfig:
    """BERT-base layout with cross-attention every other layer and a separate FFN for the queries."""

    hidden: int = 768
    layers: int = 12
    heads: int = 12
    ffn_dim: int = 3072
    cross_attention_every: int = 2
    vision_width: int = 1408
    num_queries: int = 32
    # Text branch (stage 1 and fine-tuned VQA). Stage-2 generation models drop it.
    with_text: bool = False
    vocab_size: int = 30523  # bert-base-uncased (30522) + [DEC]
    max_positions: int = 512
    pad_token_id: int = 0
    norm_eps: float = 1e-12
    dropout: float = 0.1
    attention_dropout: float = 0.1


@dataclass
class LLMConfig:
    """A frozen language model from transformers: its family, where it comes from, and its config."""

    family: LLMFamily = "opt"
    hub_id: str | None = None
    # transformers config dict (model_type + fields); lets the zoo build full-size models on the
    # meta device without a download, and lets our own format rebuild the exact LLM.
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Blip2Config:
    """A whole BLIP-2 model. `llm is None` means a stage-1 model (ITC/ITM/ITG heads, no LLM)."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    qformer: QFormerConfig = field(default_factory=QFormerConfig)
    llm: LLMConfig | None = None
    embed_dim: int = 256  # ITC projection size (stage 1)
    # Fine-tuned VQA (paper Fig. 7): the question also enters the Q-Former.
    qformer_text_input: bool = False
    # Decoder-only LLMs stop at "\n" (LAVIS, paper); None keeps the LLM's own eos.
    eos_text: str | None = None
    image_mean: tuple[float, float, float] = CLIP_MEAN
    image_std: tuple[float, float, float] = CLIP_STD

    @property
    def is_stage1(self) -> bool:
        return self.llm is None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Blip2Config:
        data = dict(data)
        vision = VisionConfig(**data.pop("vision"))
        qformer = QFormerConfig(**data.pop("qformer"))
        llm = data.pop("llm", None)
        llm_cfg = LLMConfig(**llm) if llm is not None else None
        for key in ("image_mean", "image_std"):
            if key in data:
                data[key] = tuple(data[key])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown Blip2Config field(s): {unknown}")
        return cls(vision=vision, qformer=qformer, llm=llm_cfg, **data)
