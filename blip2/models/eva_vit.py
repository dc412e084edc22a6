"""EVA-CLIP ViT-g/14, built with timm's `Eva`.

BLIP-2 uses it without its last block (39 of 40) and without a final norm: the
output of the second-last layer feeds `ln_vision`. Attention has q and v biases
and no k bias, which is exactly timm's EVA attention.
"""

from __future__ import annotations

from functools import partial

import torch.nn as nn
from timm.models.eva import Eva

from ..config import VisionConfig


def build_eva_vit(cfg: VisionConfig) -> nn.Module:
    """A timm Eva trunk with BLIP-2's truncation; returns [B, 1 + patches, width] features."""
    return Eva(
        img_size=cfg.image_size,
        patch_size=cfg.patch_size,
        num_classes=0,
        global_pool="token",
        embed_dim=cfg.width,
        depth=cfg.depth,
        num_heads=cfg.heads,
        qkv_bias=True,
        # +0.5 so int(width * ratio) lands on mlp_dim despite float rounding.
        mlp_ratio=(cfg.mlp_dim + 0.5) / cfg.width,
        norm_layer=partial(nn.LayerNorm, eps=cfg.norm_eps),
        use_abs_pos_emb=True,
        use_rot_pos_emb=False,
        use_post_transformer_norm=False,
        use_fc_norm=False,
    )
