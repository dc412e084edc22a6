"""The toy build, in two recipes, as the paper's: frozen backbones that exist first, then BLIP-2 on them.

- `bench train --recipe toy-backbones` (`build_backbones`): the ViT, OPT, T5 and the Q-Former tokenizer,
  committed in `toyworld/backbones/weights/`.
- `bench train --recipe toy` (`build_toy`): copies the committed backbones into the output root, then
  toy_stage1 -> toy_stage2_opt / toy_stage2_t5 -> toy_caption_opt, toy_retrieval, each step reading the
  previous one's folder. `export_models` writes the zoo's committed toy weights, leaving every frozen
  backbone in its one committed file (`blip2.checkpoints.shared_parts`).

`scale` shrinks every step count (tests run the whole chain in seconds).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from blip2.checkpoints.native import WEIGHTS_NAME
from blip2.checkpoints.shared_parts import first_difference, part_tensors, split_shared, write_parts
from blip2.checkpoints.weights_io import save_safetensors
from blip2.training.recipe import Recipe, load_recipe
from tasks.atomic import atomic_write_text
from toyworld import backbones
from toyworld.backbones import llms, vision
from toyworld.errors import ToyError
from toyworld.reproduce import compare_weights, loss_traces
from toyworld.zoo import MODELS_DIR

RECIPES: tuple[str, ...] = ("toy_stage1", "toy_stage2_opt", "toy_stage2_t5", "toy_caption_opt", "toy_retrieval")
# zoo name -> the toy recipe whose output it is
EXPORTS: dict[str, str] = {
    "toy-qformer": "toy_stage1",
    "toy-opt": "toy_stage2_opt",
    "toy-t5": "toy_stage2_t5",
    "toy-opt-coco": "toy_caption_opt",
    "toy-qformer-coco": "toy_retrieval",
}
BACKBONES = "toy_backbones"


@dataclass(frozen=True)
class BackboneSteps:
    """Optimiser steps of each backbone (the `toy` orchestrator scales these down in tests)."""

    vit: int = 1800
    opt: int = 6000
    t5: int = 2400
    batch: int = 64
    opt_batch: int = 32  # sequences of up to 4 documents each (`corpus.opt_packed_sequences`)
    vit_scenes: int = 16000  # freshly drawn scenes the ViT pre-trains on, besides the toy training images


# --- the image encoder -------------------------------------------------------------------------------

# Per position: shape (or none), colour (or none), size (or none); then background colour and style.


@dataclass
class ToyBuild:
    """What a toy build did: seconds per step, final losses, backbone checks, exported folders, every
    step's loss (to compare rebuilds step by step) and how the exported weights compare with the ones
    they replaced."""

    scale: float = 1.0
    seconds: dict[str, float] = field(default_factory=dict)
    final_loss: dict[str, float] = field(default_factory=dict)
    backbones: dict[str, dict] = field(default_factory=dict)
    exported: dict[str, str] = field(default_factory=dict)
    replaced_weights: dict[str, str] = field(default_factory=dict)
    losses: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"scale": self.scale, "seconds": self.seconds, "total_seconds": round(sum(self.seconds.values()), 1),
                "final_loss": self.final_loss, "backbones": self.backbones, "exported": self.exported,
                "replaced_weights": self.replaced_weights, "losses": self.losses}


def scaled(recipe: Recipe, scale: float) -> Recipe:
    """The recipe with its steps (and warm-up) multiplied by `scale`, at least 2 steps."""
    if scale == 1.0:
        return recipe
    steps = max(2, round(recipe.max_steps * scale))
    return recipe.with_overrides({"max_steps": steps, "warmup_steps": min(recipe.warmup_steps, steps // 2)})


def _timed(build: ToyBuild, name: str, fn: Callable[[], object]) -> object:
    start = time.perf_counter()
    result = fn()
    build.seconds[name] = round(time.perf_counter() - start, 1)
    return result


def train_backbones(data_root: Path, output_root: Path, steps: BackboneSteps, build: ToyBuild,
                    progress: bool = True, only: tuple[str, ...] = backbones.TRAINED) -> None:
    """The frozen toy backbones named in `only`, logged to `<output_root>/toy_backbones/log.jsonl`."""
    folder = output_root / BACKBONES
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "log.jsonl", "w", encoding="utf-8") as log_file:
        def log(record: dict) -> None:
            log_file.write(json.dumps(record) + "\n")

        trainers = {
            "vit": lambda: vision.train_vit(data_root, folder / "vit", steps.vit, steps.batch, progress=progress,
                                            log=log, fresh_scenes=steps.vit_scenes),
            "opt": lambda: llms.train_opt(data_root, folder / "opt", steps.opt, steps.opt_batch, progress=progress,
                                          log=log),
            "t5": lambda: llms.train_t5(data_root, folder / "t5", steps.t5, steps.batch, progress=progress, log=log),
        }
        for name in only:
            build.backbones[name] = _timed(build, f"backbone_{name}", trainers[name])
    build.backbones["qformer_tokenizer"] = {
        "vocab": llms.save_qformer_tokenizer(data_root, folder / "qformer_tokenizer")}
    for family in ("opt", "t5"):
        if family in only:
            build.backbones[family]["text_reference"] = _timed(
                build, f"text_reference_{family}", lambda f=family: text_reference_of(data_root, folder, f))


def text_reference_of(data_root: Path, folder: Path, family: str) -> dict[str, float]:
    """{"task split": accuracy} of a trained toy LLM answering the VQA-kind tasks from the scene in words (the
    text reference, `toyworld.analyses.ceiling`), recorded beside the backbones it measures."""
    import transformers

    from toyworld.analyses.ceiling import text_reference

    cls = transformers.OPTForCausalLM if family == "opt" else transformers.T5ForConditionalGeneration
    llm = cls.from_pretrained(folder / family).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder / family)
    metrics = text_reference(data_root, llm, tokenizer, family)
    return {f"{task} {split}": round(m["accuracy"], 2) for (task, split), m in metrics.items()}


def train_toy_recipe(recipe_name: str, data_root: Path, output_root: Path, scale: float, build: ToyBuild,
                     progress: bool = True, **overrides: object) -> Path:
    """Run one toy recipe (fresh: an old checkpoint folder of the same name is removed first); `overrides`
    may rename it (`name=...`), as the findings' ablations do."""
    from blip2.training.run import run_recipe

    recipe = scaled(load_recipe(recipe_name), scale).with_overrides(overrides)
    shutil.rmtree(output_root / recipe.name, ignore_errors=True)
    result = _timed(build, recipe.name, lambda: run_recipe(recipe, data_root, output_root, progress=progress))
    build.final_loss[recipe.name] = round(result.losses[-1], 4)
    return output_root / recipe.name / "model"


def build_backbones(data_root: Path, output_root: Path, *, scale: float = 1.0, export_root: Path | None = None,
                    progress: bool = True, only: tuple[str, ...] = backbones.TRAINED,
                    kept_from: Path = backbones.WEIGHTS_DIR) -> ToyBuild:
    """Train the frozen toy backbones into `<output_root>/toy_backbones`; copy them to `export_root` (the
    committed `toyworld/backbones/weights/`) when given, with the build's record.

    With `only` a subset, the other backbones are copied from `kept_from` unchanged. Their entries (text
    references) are carried over from its record and listed under `kept`, with the seconds they took there,
    which stay out of this build's own `seconds` and total (another build, maybe another machine): retraining
    the ViT alone then costs minutes, not the LLMs' 35, and the record still says how every file was made."""
    from blip2.training.trainer import deterministic_kernels

    only = backbones.backbones_named(only)
    kept = tuple(name for name in backbones.TRAINED if name not in only)
    earlier = _kept_record(kept_from, kept, scale) if kept else {}
    with deterministic_kernels(not torch.cuda.is_available()):
        torch.manual_seed(0)
        build = ToyBuild(scale=scale)
        base = BackboneSteps()
        steps = BackboneSteps(*(max(2, round(getattr(base, k) * scale)) for k in ("vit", "opt", "t5")),
                              batch=base.batch, opt_batch=base.opt_batch, vit_scenes=round(base.vit_scenes * scale))
        train_backbones(data_root, output_root, steps, build, progress, only)
    kept_entries = {}
    for name in kept:
        shutil.rmtree(output_root / BACKBONES / name, ignore_errors=True)
        shutil.copytree(kept_from / name, output_root / BACKBONES / name, ignore=shutil.ignore_patterns("*.tmp"))
        build.backbones[name] = earlier["backbones"][name]
        # a backbone kept twice keeps the word of the build that trained it
        kept_entries[name] = earlier.get("kept", {}).get(name) or {
            "from": f"the build recorded in {shown_path(kept_from / 'backbones_build.json')} before this one",
            "seconds": {k: v for k, v in earlier["seconds"].items() if k.endswith(f"_{name}")}}
    # a full build's order, whichever backbones were kept
    build.backbones = {k: build.backbones[k] for k in sorted(build.backbones, key=list(backbones.FOLDERS).index)}
    build.losses = loss_traces(output_root, [])
    if export_root is not None:
        copy_backbones(output_root / BACKBONES, export_root)
        build.exported = {name: shown_path(export_root / name) for name in backbones.FOLDERS}
    record = build.to_dict()
    if kept:
        record["kept"] = kept_entries
    if export_root is not None:
        lean = {k: v for k, v in record.items() if k != "losses"}
        atomic_write_text(export_root / "backbones_build.json", json.dumps(lean, indent=2) + "\n")
    atomic_write_text(output_root / "toy_backbones_build.json", json.dumps(record, indent=2))
    return build


def _kept_record(kept_from: Path, kept: tuple[str, ...], scale: float) -> dict:
    """The record of the build that made the backbones kept, checked before any training starts: each kept
    backbone has its folder, its entry and its seconds there, and was built at this build's scale."""
    path = kept_from / "backbones_build.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        missing = [name for name in kept if name not in record["backbones"] or not (kept_from / name).is_dir()
                   or (f"backbone_{name}" not in record["seconds"] and name not in record.get("kept", {}))]
        earlier_scale = float(record["scale"])
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ToyError(f"{path}: cannot read the kept backbones' record ({error!r}); rebuild them all with "
                       "`python -m bench train --recipe toy-backbones`") from error
    if missing:
        raise ToyError(f"{kept_from} has no built {', '.join(missing)} to keep (folder, record entry and time); "
                       "rebuild them all with `python -m bench train --recipe toy-backbones`")
    if earlier_scale != scale:
        raise ToyError(f"--set scale={scale:g} with --set only: the kept {', '.join(kept)} in {kept_from} were built "
                       f"at scale {earlier_scale:g}; retrain all backbones (leave out --set only) or use its scale")
    return record


def copy_backbones(source: Path, target: Path) -> None:
    """The backbone folders of `source` into `target`, each replaced whole (nothing of an older one stays)."""
    missing = [name for name in backbones.FOLDERS if not (source / name).is_dir()]
    if missing:
        raise FileNotFoundError(f"{source} lacks the backbone folder(s) {', '.join(missing)}; build them with "
                                "`python -m bench train --recipe toy-backbones`")
    target.mkdir(parents=True, exist_ok=True)
    for name in backbones.FOLDERS:
        shutil.rmtree(target / name, ignore_errors=True)
        shutil.copytree(source / name, target / name, ignore=shutil.ignore_patterns("*.tmp"))


def build_toy(data_root: Path, output_root: Path, *, scale: float = 1.0, export_root: Path | None = None,
              progress: bool = True, backbones_root: Path = backbones.WEIGHTS_DIR) -> ToyBuild:
    """Every toy BLIP-2 recipe on the committed backbones (`backbones_root`); export the zoo's toy models when
    `export_root` is given. On CPU kernels are deterministic throughout, so a rebuild on the same machine
    retraces the committed build (on GPU that is left to the user: `trainer.deterministic_kernels`)."""
    from blip2.training.trainer import deterministic_kernels

    with deterministic_kernels(not torch.cuda.is_available()):
        return _build_toy(data_root, output_root, scale, export_root, progress, backbones_root)


def _build_toy(data_root: Path, output_root: Path, scale: float, export_root: Path | None,
               progress: bool, backbones_root: Path) -> ToyBuild:
    torch.manual_seed(0)
    build = ToyBuild(scale=scale)
    copy_backbones(backbones_root, output_root / BACKBONES)
    for name in RECIPES:
        train_toy_recipe(name, data_root, output_root, scale, build, progress)
    build.losses = loss_traces(output_root, list(RECIPES), backbones=False)
    if export_root is not None:
        build.exported = export_models(output_root, export_root, build.replaced_weights, backbones_root)
    atomic_write_text(output_root / "toy_build.json", json.dumps(build.to_dict(), indent=2))
    return build


def export_models(output_root: Path, export_root: Path, replaced: dict[str, str] | None = None,
                  backbones_root: Path = backbones.WEIGHTS_DIR) -> dict[str, str]:
    """Copy each toy recipe's model into `<export_root>/<zoo name>`: what it trained stored as fp16 (the
    committed files stay small; loading casts them back to fp32), each backbone it kept frozen left in its
    file under `backbones_root` (fp32, as it was trained with). `replaced` receives, per zoo name, how the
    new weights compare with the ones they overwrite."""
    exported = {}
    for zoo_name, recipe in EXPORTS.items():
        source, target = output_root / recipe / "model", export_root / zoo_name
        tensors = load_file(str(source / WEIGHTS_NAME))
        own, parts = split_shared(tensors, target, frozen_backbones(tensors, backbones_root))
        half = {k: v.half() if v.is_floating_point() else v for k, v in own.items()}
        if replaced is not None:
            old = target / WEIGHTS_NAME
            replaced[zoo_name] = compare_weights(load_file(str(old)), half) if old.is_file() else "new"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        save_safetensors(half, target / WEIGHTS_NAME, metadata={"format": "pt", "producer": "blip2-bench toy"})
        write_parts(target, parts)
        exported[zoo_name] = shown_path(target)
    return exported


def frozen_backbones(tensors: dict[str, torch.Tensor], backbones_root: Path) -> dict[str, tuple[Path, str]]:
    """The backbones a model kept frozen, as `split_shared` sources: those whose every tensor it holds
    unchanged (a model fine-tuned with its ViT unfrozen keeps its own ViT)."""
    sources = {}
    for file, prefix, select in backbones.SHARED_PARTS.values():
        path = backbones_root / file
        if path.is_file() and first_difference(tensors, part_tensors(path, prefix, select)) is None:
            sources[prefix] = (path, select)
    return sources


def shown_path(path: Path) -> str:
    """`path` as a build record shows it: relative to the working directory when under it (so a record that
    is committed reads the same from every clone), else absolute."""
    absolute = Path(path).absolute()
    try:
        return absolute.relative_to(Path.cwd().absolute()).as_posix()
    except ValueError:
        return str(absolute)


def default_export_root() -> Path:
    """Where the zoo looks for committed toy weights (`toyworld/models`)."""
    return MODELS_DIR
