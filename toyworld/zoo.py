"""The toy models in the zoo: the miniature BLIP-2 models whose weights are committed in `toyworld/models/`.

They are registered with `blip2.zoo.register` when `toyworld` is imported (the command line does), so
`blip2.load_model("toy-opt")` then works like any zoo name, and the zoo itself has no toy special cases.
"""

from __future__ import annotations

from pathlib import Path

from blip2 import zoo
from toyworld import arch

MODELS_DIR = Path(__file__).parent / "models"
REBUILD = "python -m bench train --recipe toy"


def _entry(name: str, llm: str | None, note: str) -> zoo.ZooEntry:
    return zoo.ZooEntry(name, "toy", llm, arch.IMAGE_SIZE, note=note, arch=lambda: arch.architecture(llm),
                        local_dir=MODELS_DIR / name, rebuild=REBUILD)


ENTRIES: tuple[zoo.ZooEntry, ...] = (
    _entry("toy-qformer", None, "toy stage-1 Q-Former"),
    _entry("toy-opt", "toy-opt", "toy stage 2, OPT-style LLM"),
    _entry("toy-t5", "toy-t5", "toy stage 2, T5-style LLM"),
    _entry("toy-opt-coco", "toy-opt", "toy-opt fine-tuned for captioning"),
    _entry("toy-qformer-coco", None, "toy-qformer fine-tuned for retrieval (ViT unfrozen)"),
)
TOY_MODELS: tuple[str, ...] = tuple(entry.name for entry in ENTRIES)
# The zero-shot stage-2 models: one per LLM family, each answering through its frozen toy LLM.
ZERO_SHOT_MODELS: tuple[str, ...] = ("toy-opt", "toy-t5")


def register() -> None:
    """Put the toy models into the zoo (idempotent)."""
    for entry in ENTRIES:
        if zoo.ZOO.get(entry.name) is not entry:
            zoo.register(entry)
