"""The frozen toy backbones (ViT, OPT, T5 and tokenizers), trained once before BLIP-2's own stages.

`bench train --recipe toy-backbones` trains them and commits them in `weights/`, stored once: the toy
BLIP-2 models that keep them frozen name these files (`shared_parts.json`) instead of copying them.
"""

from pathlib import Path

from toyworld.errors import ToyError

WEIGHTS_DIR = Path(__file__).parent / "weights"
# backbone -> (its file, the model keys it gives, the file's keys it gives them from). The ViT's file also
# holds its ln_vision, which BLIP-2 trains, so only its trunk is shared.
SHARED_PARTS: dict[str, tuple[str, str, str]] = {
    "vit": ("vit/vision.safetensors", "vision.", "trunk."),
    "opt": ("opt/model.safetensors", "llm.", ""),
    "t5": ("t5/model.safetensors", "llm.", ""),
}
# what `toy-backbones` trains, in its order (`--set only=vit` retrains some, keeping the committed others)
TRAINED: tuple[str, ...] = ("vit", "opt", "t5")
# what the toy build copies from one to the next: the three backbones and the Q-Former's tokenizer
FOLDERS: tuple[str, ...] = ("vit", "opt", "t5", "qformer_tokenizer")


def backbones_named(value: object) -> tuple[str, ...]:
    """`--set only=vit` or `--set only='["vit","t5"]'` as the backbones to retrain, in `TRAINED`'s order;
    anything else is refused before any work."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) for n in names) \
            or set(names) - set(TRAINED):
        shown = list(value) if isinstance(value, tuple) else value
        raise ToyError(f"--set only={shown!r}: name one or more of {', '.join(TRAINED)} "
                       "(e.g. --set only=vit or --set only='[\"opt\",\"t5\"]')")
    return tuple(name for name in TRAINED if name in names)
