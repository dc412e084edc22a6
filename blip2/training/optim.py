"""AdamW parameter groups with ViT layer-wise lr decay, and the cosine schedule with linear warm-up."""

from __future__ import annotations

import math
import re

import torch.nn as nn


def vit_layer_id(name: str, depth: int) -> int | None:
    """0 for the ViT's embeddings, i+1 for block i, None for everything outside the ViT trunk."""
    if not name.startswith("vision.trunk."):
        return None
    match = re.match(r"vision\.trunk\.blocks\.(\d+)\.", name)
    if match:
        return int(match.group(1)) + 1
    if re.match(r"vision\.trunk\.(cls_token|pos_embed|patch_embed|norm_pre)", name):
        return 0
    return depth + 1


def param_groups(model: nn.Module, lr: float, weight_decay: float, layer_decay: float = 1.0) -> list[dict]:
    """Groups for AdamW: no decay on biases, norms and 1-D tensors; the ViT's block i gets
    lr * layer_decay ** (depth + 1 - (i + 1)), so early layers move least (BEiT/EVA-style decay)."""
    depth = model.cfg.vision.depth
    groups: dict[tuple[float, float], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = p.ndim < 2 or name.endswith(".bias")  # as LAVIS: norms and biases; queries decay
        layer = vit_layer_id(name, depth)
        scale = 1.0 if layer is None else layer_decay ** (depth + 1 - layer)
        key = (scale, 0.0 if no_decay else weight_decay)
        group = groups.setdefault(key, {"params": [], "names": [], "lr_scale": scale, "lr": lr * scale,
                                        "weight_decay": key[1]})
        group["params"].append(p)
        group["names"].append(name)
    return list(groups.values())


def cosine_lr(step: int, total_steps: int, peak: float, warmup_steps: int, min_lr: float = 0.0,
              warmup_lr: float = 0.0) -> float:
    """Linear warm-up from `warmup_lr` to `peak`, then cosine decay from `peak` to `min_lr` at the end."""
    if step < warmup_steps:
        return warmup_lr + (peak - warmup_lr) * step / max(1, warmup_steps)
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + (peak - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
