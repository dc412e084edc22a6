"""Build the right BLIP-2 module for a config, with random (or meta) weights."""

from __future__ import annotations

import torch.nn as nn

from ..config import Blip2Config
from .blip2_lm import Blip2LM, Blip2Opt, Blip2T5
from .blip2_qformer import Blip2Qformer


def build_model(cfg: Blip2Config, llm: nn.Module | None = None) -> Blip2Qformer | Blip2LM:
    """Stage-1 model when the config has no LLM, otherwise the OPT or FlanT5 bridge."""
    if cfg.llm is None:
        return Blip2Qformer(cfg)
    cls = {"opt": Blip2Opt, "t5": Blip2T5}.get(cfg.llm.family)
    if cls is None:
        raise ValueError(f"unknown LLM family {cfg.llm.family!r}; expected 'opt' or 't5'")
    return cls(cfg, llm=llm)
