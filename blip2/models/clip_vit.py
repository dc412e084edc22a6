"""OpenAI CLIP ViT-L/14, built with timm's `VisionTransformer`.

BLIP-2 keeps `ln_pre` (timm's `norm_pre`), QuickGELU, and 23 of the 24 blocks,
with no final norm: the second-last layer feeds `ln_vision`. The patch
convolution has no bias, as in CLIP.
"""

from __future__ import annotations

from functools import partial

import torch.nn as nn
from timm.models.vision_transformer import VisionTransformer

from ..config import VisionConfig


def build_clip_vit(cfg: VisionConfig) -> nn.Module:
    """A timm VisionTransformer trunk with BLIP-2's truncation; returns [B, 1 + patches, width]."""
    return VisionTransformer(
        img_size=cfg.image_size,
        patch_size=cfg.patch_size,
        num_classes=0,
        global_pool="token",
        embed_dim=cfg.width,
        depth=cfg.depth,
        num_heads=cfg.heads,
        mlp_ratio=(cfg.mlp_dim + 0.5) / cfg.width,
        qkv_bias=True,
        pre_norm=True,
        final_norm=False,
        norm_layer=partial(nn.LayerNorm, eps=cfg.norm_eps),
        act_layer="quick_gelu",
    )
