"""Training: the paper's recipes (stage 1, stage 2, fine-tuning) on accelerate.

A recipe is a JSON file of hyperparameters (`recipes/`); `train` runs it with mixed precision, gradient
accumulation, checkpoint/resume and any number of processes or nodes, without code changes. The optimiser
helpers are imported on first use, so reading recipes does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .recipe import Recipe, load_recipe, recipe_names, register_recipe_folder

_LAZY = {"cosine_lr": ".optim", "param_groups": ".optim"}

__all__ = ["Recipe", "cosine_lr", "load_recipe", "param_groups", "recipe_names", "register_recipe_folder"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'blip2.training' has no attribute {name!r}")
