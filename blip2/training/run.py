"""Run a recipe end to end: build or load the starting model, read the data, train, save."""

from __future__ import annotations

from pathlib import Path

import torch

from .. import api, zoo
from ..checkpoints.hub import WeightsUnavailable, lavis_cache_dir
from ..checkpoints.weights_io import has_weight_files
from ..models.build import build_model
from ..processing import ImageTransform
from . import init
from .data import DATA_PATH_FIELDS, ExampleDataset, karpathy_examples, vqa_examples
from .recipe import Recipe, RecipeError, RecipeStartError
from .tracking import choose_tracker
from .trainer import TrainResult, train


def starting_model(recipe: Recipe, runs_root: Path, data_root: Path | None = None):
    """`init_from`: "recipe:<name>" (that recipe's output), a zoo name or folder; None builds the
    recipe's architecture with freshly initialised Q-Former (a from-scratch stage 1, or Fig. 5's stage 2
    without stage 1). A stage-1 model starting a stage-2 recipe keeps its ViT and Q-Former
    (`init.from_stage1`). `vision_init` / `llm_init` / `qformer_tokenizer` then load frozen parts, and
    `qformer_init` starts a from-scratch Q-Former from BERT. Released files, the previous stage's output
    and (given `data_root`) the recipe's data files are found, or reported missing, before the model is
    built."""
    source = recipe.init_from
    target = zoo.get(recipe.model).config() if recipe.model in zoo.ZOO else None
    if recipe.qformer_init:
        _check_bert_init(recipe, target)
    vision_source = _released(recipe, "vision_init", runs_root)
    bert_folder = _released(recipe, "qformer_init", runs_root)
    if source is not None and source.startswith("recipe:"):
        folder = runs_root / source.removeprefix("recipe:") / "model"
        if not folder.is_dir():
            raise RecipeStartError(f"recipe {recipe.name} starts from {source}, but {folder} does not exist: "
                                   f"run `python -m bench train --recipe {source.removeprefix('recipe:')}` first")
        source = str(folder)
    if data_root is not None:
        check_data_files(recipe, data_root)
    if source is None:
        model = build_model(target)
        init.init_trainable(model, recipe.seed)
        if bert_folder is not None:
            init.load_bert(model, bert_folder)
    else:
        model = api.load_model(source)
        if target is not None and model.cfg.is_stage1 and not target.is_stage1:
            model = init.from_stage1(model, target)
    if vision_source is not None:
        init.load_vision(model, vision_source)
    if recipe.llm_init:
        init.load_llm(model, init.resolve(recipe.llm_init, runs_root))
    if recipe.qformer_tokenizer:
        init.load_qformer_tokenizer(model, init.resolve(recipe.qformer_tokenizer, runs_root))
    api.freeze_frozen_parts(model)
    if not recipe.freeze_vit:
        for p in model.vision.trunk.parameters():
            p.requires_grad_(True)
    if model.cfg.vision.image_size != recipe.image_size:
        model.vision.set_image_size(recipe.image_size)
    return model.train()


def _check_bert_init(recipe: Recipe, target) -> None:
    if recipe.init_from is not None:
        raise ValueError(f"recipe {recipe.name}: qformer_init starts a Q-Former from BERT, so init_from must be "
                         f"null (it is {recipe.init_from!r})")
    if target is None or not target.is_stage1:
        raise ValueError(f"recipe {recipe.name}: qformer_init is for a stage-1 model (Q-Former with its text "
                         f"branch); {recipe.model!r} is not one")
    if recipe.qformer_tokenizer:
        raise ValueError(f"recipe {recipe.name}: qformer_init brings BERT's tokenizer (plus [DEC]); drop "
                         f"qformer_tokenizer ({recipe.qformer_tokenizer!r}) or qformer_init")


def _released(recipe: Recipe, field: str, runs_root: Path) -> Path | None:
    """A released starting point (`vision_init`, `qformer_init`), found before the model is built; when it
    cannot be had, the error names the recipe, the field, what was tried, and how to give a local copy."""
    value = getattr(recipe, field)
    if not value:
        return None
    where = f"recipe {recipe.name}, {field} {value!r}"
    try:
        path = init.resolve_released(value, runs_root, hub=field == "qformer_init")
    except FileNotFoundError as exc:
        raise RecipeStartError(f"{where}: {exc}") from None
    except WeightsUnavailable as exc:
        tried = str(exc).splitlines()[0]
        if value.startswith("lavis:"):
            name = value.removeprefix("lavis:")
            fix = (f"put {name} in {lavis_cache_dir()} (or set BLIP2_LAVIS_DIR to its folder), or "
                   f"--set {field}=/path/to/{name}")
        else:
            fix = (f"on a machine with internet run `hf download {value} --local-dir DIR`, copy DIR here and "
                   f"--set {field}=DIR (or put it in the HF cache, HF_HOME)")
        raise WeightsUnavailable(f"{where}: {tried}\n  Fix: {fix}") from None
    if field == "qformer_init" and path.is_dir() and not has_weight_files(path):
        raise WeightsUnavailable(f"{where}: {path} holds no weights (a cache with only the tokenizer?); "
                                 f"--set {field}=DIR with a folder that has model.safetensors or pytorch_model.bin")
    return path


def recipe_dataset(recipe: Recipe, data_root: Path, model, *, allow_pipe_shards: bool = False
                   ) -> torch.utils.data.Dataset:
    """The recipe's data sources, with its training augmentation: a map-style dataset of JSON sources, or a
    stream of tar shards (`recipe.shards` replaces the tar_shards source's pattern, or adds one)."""
    transform = ImageTransform(recipe.image_size, model.cfg.image_mean, model.cfg.image_std,
                               train=recipe.train_augment)
    examples, shard_specs = [], shard_spec(recipe)
    for spec in recipe.data if shard_specs is None else ():
        kind = spec.get("type")
        if kind == "karpathy":
            examples += karpathy_examples(data_root, spec)
        elif kind == "vqa":
            examples += vqa_examples(data_root, spec)
        elif kind not in ("note", "tar_shards"):
            raise ValueError(f"recipe {recipe.name}: unknown data source type {kind!r}")
    if shard_specs:
        from .shards import ShardStream, shard_urls

        urls = shard_urls(shard_specs, data_root, allow_pipe=allow_pipe_shards, where=f"recipe {recipe.name}, shards")
        return ShardStream(urls, transform, seed=recipe.seed, shuffle_buffer=recipe.shuffle_buffer)
    return ExampleDataset(examples, transform, seed=recipe.seed)


def check_data_files(recipe: Recipe, data_root: Path) -> None:
    """Every file and folder the recipe's JSON sources name exists under `data_root`, checked before any
    weights load, so a wrong data root costs nothing and names what it looked for."""
    for spec in recipe.data if shard_spec(recipe) is None else ():
        for field in DATA_PATH_FIELDS.get(spec.get("type"), ()):
            path = data_root / spec[field]
            if not path.exists():
                raise RecipeError(f"recipe {recipe.name}: its {spec['type']} source's {field} {path} does not "
                                  f"exist; point --data-root (or $BLIP2_DATA) at the folder that holds "
                                  f"{spec[field]} (the toy world's is data/toy: python -m bench toy-data)")


def shard_spec(recipe: Recipe) -> str | None:
    """The recipe's shard spec: `shards` when set, else its tar_shards sources' patterns joined by '::'.
    Shards and JSON sources together are refused (not supported yet)."""
    patterns = [spec["pattern"] for spec in recipe.data if spec.get("type") == "tar_shards"]
    spec = recipe.shards if recipe.shards is not None else "::".join(patterns) or None
    if spec is not None and any(s.get("type") in ("karpathy", "vqa") for s in recipe.data):
        raise RecipeError(f"recipe {recipe.name}: mixing tar shards and JSON sources is not supported yet; train on "
                          "the shards alone with --set data=[] --set shards=PATTERN")
    return spec


def run_recipe(recipe: Recipe, data_root: Path, output_root: Path, *, progress: bool = True,
               log_with: str | None = "none", allow_pipe_shards: bool = False) -> TrainResult:
    """Train `recipe`; the model is saved (our format) to `<output_root>/<recipe>/model`; `log_with` names the
    experiment tracker (`tracking.TRACKERS`; None: TensorBoard when installed); `pipe:` shard specs run only
    with `allow_pipe_shards`."""
    choose_tracker(log_with)  # a tracker that is not installed stops the run before the model is built
    out = output_root / recipe.name
    model = starting_model(recipe, output_root, data_root)  # weights and data are looked up first, then it is built
    dataset = recipe_dataset(recipe, data_root, model, allow_pipe_shards=allow_pipe_shards)
    out.mkdir(parents=True, exist_ok=True)  # only now: unreachable weights or data leave no folder behind
    result = train(recipe, model, dataset, out, progress=progress, log_with=log_with)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        api.save_model(model.eval(), out / "model")
    return result
