"""Training: the paper's recipes (stage 1, stage 2, fine-tuning) on accelerate.

A recipe is a JSON file of hyperparameters (`recipes/`); `train` runs it with mixed precision, gradient
accumulation, checkpoint/resume and any number of processes or nodes, without code changes.
"""

from .optim import cosine_lr, param_groups
from .recipe import Recipe, load_recipe, recipe_names

__all__ = ["Recipe", "cosine_lr", "load_recipe", "param_groups", "recipe_names"]
