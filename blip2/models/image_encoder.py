"""The frozen image encoder: a timm ViT trunk followed by `ln_vision`."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import VisionConfig
from .clip_vit import build_clip_vit
from .eva_vit import build_eva_vit

_TRUNKS = {"eva_vit_g": build_eva_vit, "clip_vit_l": build_clip_vit}


class LayerNormFp32(nn.LayerNorm):
    """LayerNorm computed in fp32 whatever the input dtype, as LAVIS does for `ln_vision`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(
            x.float(), self.normalized_shape, self.weight.float(), self.bias.float(), self.eps
        )


class ImageEncoder(nn.Module):
    """ViT trunk + `ln_vision`. Output is fp32 so the fp32 Q-Former gets full-precision features."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        if cfg.arch not in _TRUNKS:
            raise ValueError(f"unknown vision arch {cfg.arch!r}; known: {sorted(_TRUNKS)}")
        self.cfg = cfg
        self.trunk = _TRUNKS[cfg.arch](cfg)
        self.ln_vision = LayerNormFp32(cfg.width, eps=cfg.ln_vision_eps)
        # Half-precision ViTs keep fp32 norms and run under autocast (see blip2.precision).
        self.compute_dtype: torch.dtype | None = None

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        dtype = self.compute_dtype
        with torch.autocast(pixel_values.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            features = self.trunk.forward_features(pixel_values.float())
        return self.ln_vision(features)


    def set_image_size(self, image_size: int) -> None:
        """Run at another resolution: resize the position table (bicubic) and the patch grid."""
        if image_size == self.cfg.image_size:
            return
        num_patches = (image_size // self.cfg.patch_size) ** 2
        corners = self.cfg.arch == "clip_vit_l"  # LAVIS's own convention for each encoder
        with torch.no_grad():
            table = resize_pos_embed(self.trunk.pos_embed.data, num_patches, align_corners=corners)
        self.trunk.pos_embed = nn.Parameter(table, requires_grad=self.trunk.pos_embed.requires_grad)
        self.trunk.patch_embed.set_input_size(img_size=image_size)
        self.cfg.image_size = image_size


def resize_pos_embed(pos_embed: torch.Tensor, num_patches: int, align_corners: bool = False) -> torch.Tensor:
    """Bicubic resize of a [1, 1 + n, D] position table to `num_patches` (BLIP-2's 224 -> 364 px).

    The class position is kept. LAVIS resizes EVA's grid with align_corners=False, CLIP's with True.
    """
    old = pos_embed.shape[1] - 1
    if old == num_patches:
        return pos_embed
    old_side, new_side = int(math.isqrt(old)), int(math.isqrt(num_patches))
    if old_side**2 != old or new_side**2 != num_patches:
        raise ValueError(f"position table of {old} patches cannot be resized to {num_patches}: not square")
    cls_pos, grid = pos_embed[:, :1], pos_embed[:, 1:]
    dim = grid.shape[-1]
    grid = grid.reshape(1, old_side, old_side, dim).permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, size=(new_side, new_side), mode="bicubic", align_corners=align_corners)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_side * new_side, dim).to(pos_embed.dtype)
    return torch.cat([cls_pos, grid], dim=1)
