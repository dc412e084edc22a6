"""The toy world: a miniature BLIP-2 world that runs the whole harness on CPU in minutes.

- `toyworld.data`: procedural shape scenes written in every benchmark's official files (`bench toy-data`);
- `toyworld.arch`, `toyworld.zoo`, `toyworld/models/`: the toy architecture and its committed weights,
  registered with `blip2.zoo` on import;
- `toyworld.backbones`, `toyworld.build`, `toyworld/recipes/`: training the frozen toy backbones and the
  toy BLIP-2 stages (`bench train --recipe toy`);
- `toyworld/baseline/`: the committed toy models' baseline bundle, which `bench regress --baseline toy` gates
  against (each run's metrics.json and samples.jsonl; `bash scripts/toy_baseline.sh` regenerates it);
- `toyworld.analyses`: chance levels, text references and the other measurements that every toy number
  needs beside it (`bench toy-chance`, `bench toy-ceiling`, `bench toy-itm-negatives`).

It sits above `tasks` and `blip2` and below `bench`: it imports the first two, never the third.
"""

from __future__ import annotations

from pathlib import Path

from blip2.training.recipe import register_recipe_folder
from toyworld.zoo import TOY_MODELS, register

RECIPES_DIR = Path(__file__).parent / "recipes"
# Package data, so that an installed wheel gates the default job without the repository.
BASELINE_DIR = Path(__file__).parent / "baseline"

register()
register_recipe_folder(RECIPES_DIR)

__all__ = ["BASELINE_DIR", "RECIPES_DIR", "TOY_MODELS"]
