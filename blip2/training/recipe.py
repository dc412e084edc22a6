"""Recipes: the hyperparameters of one training run, kept as data (one JSON file per recipe)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ..errors import ModelInputError

Stage = Literal["stage1", "stage2", "caption", "vqa", "retrieval"]


class RecipeError(ModelInputError, ValueError):
    """A recipe that cannot run as written: not JSON, an unknown field, values that contradict each other."""


class UnknownRecipeError(ModelInputError, KeyError):
    """A recipe name that is neither shipped nor a JSON file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class RecipeStartError(ModelInputError, FileNotFoundError):
    """A recipe's starting weights or data are not where it says (a previous stage not run yet, a file absent)."""


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run. `source` says where each number comes from."""

    name: str
    stage: Stage
    model: str  # zoo name (architecture) or a folder to start from
    init_from: str | None = None  # weights to start from (a previous stage's output), None = model's own
    # optimiser and schedule
    lr: float = 1e-4
    min_lr: float = 0.0
    warmup_lr: float = 0.0
    warmup_steps: int = 2000
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.05
    layer_decay: float = 1.0  # ViT layer-wise lr decay; 1 = none
    # length and batch
    max_steps: int | None = None
    epochs: int | None = None
    batch_size: int = 32  # global, across processes and accumulation
    grad_accum: int = 1
    # data and inputs
    image_size: int = 224
    train_augment: bool = True  # RandomResizedCrop(0.5-1) + horizontal flip
    prompt: str = ""
    max_text_tokens: int = 32
    freeze_vit: bool = True
    drop_path: float = 0.0
    data: tuple[dict[str, Any], ...] = ()
    precision: str = "auto"  # accelerate mixed precision: "no", "fp16", "bf16" or "auto"
    # Where frozen parts come from when not from `init_from`: "run:<path>" is a folder under the training
    # output root (the toy backbones), "lavis:<file>" a released LAVIS file, anything else a path (or, for
    # qformer_init, a hub id). None keeps the model's own.
    vision_init: str | None = None  # an image encoder: "lavis:<file>" (released) or a trained one's folder
    qformer_init: str | None = None  # a BERT checkpoint (hub id or folder) for a from-scratch stage-1 Q-Former
    llm_init: str | None = None  # a transformers LLM folder with its tokenizer
    qformer_tokenizer: str | None = None  # a tokenizer folder for the Q-Former's text branch
    # Stage-1 / retrieval losses that are optimised (paper Table 6 drops "itg").
    objectives: tuple[str, ...] = ("itc", "itm", "itg")
    # Tar shards (blip2/training/shards.py): `shards` replaces the pattern of the recipe's tar_shards source
    # (webdataset notation: brace patterns joined by '::', local paths under the data root, or URLs).
    shards: str | None = None
    shuffle_buffer: int = 1000  # samples in each worker's shuffle buffer (1: no shuffling)
    max_bad_fraction: float = 0.01  # stop once more than this fraction of the samples read cannot be read
    num_workers: int = 0  # DataLoader worker processes reading shards (and decoding their images)
    seed: int = 42
    log_every: int = 10
    save_every: int = 1000
    source: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_values(self)
        if (self.max_steps is None) == (self.epochs is None):
            raise RecipeError(f"recipe {self.name}: give exactly one of max_steps and epochs (max_steps "
                              f"{self.max_steps}, epochs {self.epochs}); e.g. --set max_steps=100 --set epochs=null")
        unknown = sorted(set(self.objectives) - {"itc", "itm", "itg"})
        if unknown or not self.objectives:
            raise RecipeError(f"recipe {self.name}: objectives must be a non-empty subset of itc, itm, itg; "
                             f"got {list(self.objectives)}")
        if self.batch_size % self.grad_accum:
            raise RecipeError(f"recipe {self.name}: batch_size {self.batch_size} is not divisible by "
                             f"grad_accum {self.grad_accum}")

    def with_overrides(self, overrides: dict[str, Any]) -> Recipe:
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise RecipeError(f"--set: unknown recipe field(s) {unknown} for recipe {self.name}; known fields: "
                              f"{', '.join(sorted(known))}")
        overrides = {k: tuple(v) if k in ("betas", "objectives", "data") and isinstance(v, list) else v
                     for k, v in overrides.items()}
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Each numeric field's kind and range, checked before anything trains (a `--set max_steps=abc` or a zero batch
# would otherwise fail deep inside the trainer, or train nothing and report a loss it does not have).
_COUNTS = ("max_steps", "epochs", "batch_size", "grad_accum", "image_size", "max_text_tokens", "log_every",
           "save_every", "shuffle_buffer")  # positive integers (max_steps / epochs may also be null)
_NON_NEGATIVE_INTS = ("warmup_steps", "seed", "num_workers")
_NON_NEGATIVE_FLOATS = ("min_lr", "warmup_lr", "weight_decay")
_PRECISIONS = ("no", "fp16", "bf16", "auto")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def _check_values(recipe: Recipe) -> None:
    """Every numeric field has the right type and a usable value; a RecipeError names the first that does not."""
    def bad(name: str, want: str) -> RecipeError:
        return RecipeError(f"recipe {recipe.name}: {name} must be {want}, not {getattr(recipe, name)!r} "
                           f"(e.g. --set {name}=...)")

    for name in _COUNTS:
        value = getattr(recipe, name)
        if not (value is None and name in ("max_steps", "epochs")) and not (_is_int(value) and value > 0):
            raise bad(name, "a positive integer" + (" or null" if name in ("max_steps", "epochs") else ""))
    for name in _NON_NEGATIVE_INTS:
        if not (_is_int(getattr(recipe, name)) and getattr(recipe, name) >= 0):
            raise bad(name, "an integer, 0 or more")
    if not (_is_float(recipe.lr) and recipe.lr > 0):
        raise bad("lr", "a finite number above 0")
    for name in _NON_NEGATIVE_FLOATS:
        if not (_is_float(getattr(recipe, name)) and getattr(recipe, name) >= 0):
            raise bad(name, "a finite number, 0 or more")
    if not (_is_float(recipe.layer_decay) and 0 < recipe.layer_decay <= 1):
        raise bad("layer_decay", "a number in (0, 1] (1 = no decay)")
    if not (_is_float(recipe.drop_path) and 0 <= recipe.drop_path < 1):
        raise bad("drop_path", "a number in [0, 1)")
    betas = recipe.betas
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(_is_float(b) and 0 <= b < 1 for b in betas)):
        raise bad("betas", "two numbers in [0, 1), e.g. [0.9, 0.98]")
    for name in ("train_augment", "freeze_vit"):
        if not isinstance(getattr(recipe, name), bool):
            raise bad(name, "true or false")
    if not isinstance(recipe.prompt, str):
        raise bad("prompt", "a string")
    if not (_is_float(recipe.max_bad_fraction) and 0 <= recipe.max_bad_fraction < 1):
        raise bad("max_bad_fraction", "a number in [0, 1)")
    if recipe.shards is not None and not (isinstance(recipe.shards, str) and recipe.shards.strip()):
        raise bad("shards", "a shard pattern string, e.g. 'laion/{00000..00099}.tar'")
    if recipe.precision not in _PRECISIONS:
        raise bad("precision", f"one of {', '.join(_PRECISIONS)}")


# Folders of shipped recipes: this package's own, then those other packages register (the toy world's).
_FOLDERS: list[Path] = [Path(str(resources.files(__package__) / "recipes"))]


def register_recipe_folder(folder: Path) -> None:
    """Make the recipes in `folder` loadable by name (the one registration point for outside recipes)."""
    if folder not in _FOLDERS:
        _FOLDERS.append(folder)


def recipe_names() -> list[str]:
    """The recipes shipped with the package and with registered packages."""
    return sorted(p.name.removesuffix(".json") for folder in _FOLDERS for p in folder.glob("*.json"))


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A shipped recipe by name, or a recipe JSON file by path."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        where = str(path)
        text = path.read_text(errors="replace")
    else:
        found = [folder / f"{name_or_path}.json" for folder in _FOLDERS if (folder / f"{name_or_path}.json").is_file()]
        file = found[0] if found else None
        if file is None:
            kind = "recipe file not found" if path.suffix == ".json" else "unknown recipe"
            raise UnknownRecipeError(f"{kind} {str(name_or_path)!r}; give a JSON file or one of the shipped "
                                     f"recipes: {', '.join(recipe_names())}")
        where = f"recipe {name_or_path} ({file})"
        text = file.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{where}: not valid JSON ({exc}); a recipe is one JSON object of fields") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{where}: a recipe is one JSON object of fields, got {type(data).__name__}")
    data.pop("$comment", None)
    known = {f.name for f in dataclasses.fields(Recipe)}
    unknown = sorted(set(data) - known)
    missing = sorted(f.name for f in dataclasses.fields(Recipe)
                     if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                     and f.name not in data)
    if unknown or missing:
        raise RecipeError(f"{where}: unknown field(s) {unknown}, missing field(s) {missing}; known fields: "
                          f"{', '.join(sorted(known))}")
    if "betas" in data:
        data["betas"] = tuple(data["betas"])
    for key in ("data", "objectives"):
        if key in data:
            data[key] = tuple(data[key])
    return Recipe(**data)
