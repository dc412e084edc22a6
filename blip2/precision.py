"""Per-part precision, as the released models were run.

On GPU: ViT in fp16 (only Linear and Conv weights cast, norms kept in fp32),
Q-Former in fp32, OPT in fp16 and FlanT5 in bf16. On CPU everything is fp32.
"""

from __future__ import annotations

import torch
import torch.nn as nn

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
POLICIES = ("auto", "fp32", "fp16", "bf16")


def resolve_precision(policy: str, device: str | torch.device, family: str | None) -> dict[str, str]:
    """Which dtype each part runs in, for a policy name and a device."""
    if policy not in POLICIES:
        raise ValueError(f"unknown precision {policy!r}; choose one of {', '.join(POLICIES)}")
    on_cpu = torch.device(device).type == "cpu"
    if policy == "auto":
        if on_cpu:
            return {"vision": "fp32", "qformer": "fp32", "llm": "fp32"}
        return {"vision": "fp16", "qformer": "fp32", "llm": "bf16" if family == "t5" else "fp16"}
    # The Q-Former stays fp32 in every policy, as transformers keeps it (_keep_in_fp32_modules).
    return {"vision": policy, "qformer": "fp32", "llm": policy}


def apply_precision(model: nn.Module, policy: str = "auto", device: str | torch.device = "cpu") -> dict[str, str]:
    """Move `model` to `device` and set each part's dtype; returns the per-part dtypes used.

    The ViT keeps fp32 norms and runs under autocast, as LAVIS does; the LLM is cast as a whole.
    """
    family = model.cfg.llm.family if getattr(model.cfg, "llm", None) else None
    parts = resolve_precision(policy, device, family)
    model.to(device=device, dtype=torch.float32)
    vision_dtype = DTYPES[parts["vision"]]
    if vision_dtype != torch.float32:
        for sub in model.vision.trunk.modules():
            if isinstance(sub, (nn.Linear, nn.Conv2d)):
                sub.to(vision_dtype)
    model.vision.compute_dtype = None if vision_dtype == torch.float32 else vision_dtype
    if hasattr(model, "llm"):
        model.llm.to(DTYPES[parts["llm"]])
    return parts
