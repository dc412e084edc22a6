"""`bench run`'s checks that need no weights and no image: all of them run before anything is computed.

A full-size model takes minutes to load and a split hours to evaluate, so a mistake that can be seen in
the arguments (a number out of range, a flag the task does not use, a device that is not there, an output
folder that cannot be written) must stop the run at once, with one message naming the flag. Checks that
need the model's architecture take its config, which `blip2.checkpoints.peek.peek_config` reads without
the weights, and run again on the loaded model's config for the sources it cannot peek at.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

import tasks
from bench.model_check import unknown_model
from bench.writable import check_output_folder
from blip2 import zoo
from blip2.checkpoints.checksum import ExpectedDigest
from blip2.config import Blip2Config
from blip2.suggest import did_you_mean
from tasks.errors import TaskInputError
from tasks.scorers import DEFAULT_VQA_SCORER, VQA_SCORER_OPTION
from tasks.settings import GenerationSettings, RetrievalSettings
from tasks.task import Task
from toyworld.data import stale_root_message

from .errors import RunError

# request field -> (flag, smallest accepted value); None values are "not given" and are not checked.
MINIMUMS: dict[str, tuple[str, int]] = {
    "batch_size": ("--batch-size", 1), "num_workers": ("--num-workers", 0), "limit": ("--limit", 1),
    "image_size": ("--image-size", 1), "seed": ("--seed", 0), "num_beams": ("--num-beams", 1),
    "max_new_tokens": ("--max-new-tokens", 1), "min_new_tokens": ("--min-new-tokens", 0),
    "k_test": ("--k-test", 1), "max_text_tokens": ("--max-text-tokens", 1),
    "bootstrap_iters": ("--bootstrap-iters", 0), "bootstrap_seed": ("--bootstrap-seed", 0),
}
SEED_LIMIT = 2**32  # numpy's seed range


def flag(dest: str) -> str:
    """The command-line spelling of a request field."""
    return "--" + dest.replace("_", "-")


def expand_tasks(spec: str) -> list[str]:
    """`T`, `T1,T2` or `all` -> task names; empty, repeated and unknown names are refused."""
    names = tasks.names() if spec.strip() == "all" else [t.strip() for t in spec.split(",") if t.strip()]
    if not names:
        raise RunError(f"--task {spec!r} names no task; give one or more of: {', '.join(tasks.names())}, or 'all'")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RunError(f"--task names {', '.join(repeated)} more than once; give each task once")
    for name in names:
        if name not in tasks.names():
            raise RunError(f"--task: unknown task {name!r}.{did_you_mean(name, tasks.names())} "
                           f"Known tasks: {', '.join(tasks.names())}")
    return names


def check_request(request) -> None:
    """Every check on a `RunRequest` that needs neither the model nor the data; raises RunError."""
    expand_tasks(",".join(request.tasks))  # the same rules when a RunRequest is built in Python
    check_numbers(request)
    check_sha256(request.expect_sha256)
    check_name(request.name)
    check_device(request.device)
    check_model_name(request.model, request.arch)
    for name in request.tasks:
        check_task_flags(request, tasks.get(name))
    if not str(request.output_dir).strip():  # Path("") would quietly be the current folder
        raise RunError("--output-dir is empty; give the folder run folders are written in (default: results/runs)")
    check_output_dir(Path(request.output_dir))
    stale = stale_root_message(request.data_root) if request.data_root else None
    if stale:
        raise RunError(f"--data-root {stale}")


def check_sha256(expected: str | None) -> None:
    """`--expect-sha256 [FILE=]HEX` is well formed, checked before hashing weights that take minutes to read."""
    if expected is not None:
        try:
            ExpectedDigest.parse(expected)
        except ValueError as exc:
            raise RunError(f"--expect-sha256 {exc}") from None


def check_output_dir(folder: Path) -> None:
    """`--output-dir` (or a run folder in it) can be created and written, with room left."""
    check_output_folder(folder, "--output-dir")


def check_numbers(request) -> None:
    values = {**vars(request), **request.overrides}
    for dest, (name, minimum) in MINIMUMS.items():
        value = values.get(dest)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            raise RunError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if request.seed >= SEED_LIMIT:
        raise RunError(f"--seed must be below 2**32, got {request.seed}")
    for dest in ("length_penalty", "repetition_penalty"):
        value = request.overrides.get(dest)
        if value is not None and not math.isfinite(value):
            raise RunError(f"{flag(dest)} must be a finite number, got {value!r}")
    if request.overrides.get("repetition_penalty") is not None and request.overrides["repetition_penalty"] <= 0:
        raise RunError(f"--repetition-penalty must be > 0 (1.0 = none), got {request.overrides['repetition_penalty']}")


def check_name(name: str | None) -> None:
    """`--name` is one folder name inside `--output-dir`: no separator, no `.`/`..`, nothing empty."""
    if name is None:
        return
    separators = {"/", os.sep, os.altsep or "/"}
    if not name.strip() or name in (".", "..") or any(s in name for s in separators) or "\0" in name:
        raise RunError(f"--name {name!r} must be a plain folder name (no path separator, not '.' or '..'); "
                       "to write elsewhere use --output-dir")


def check_device(device: str) -> None:
    """The device exists on this machine: a typo or a missing GPU is found before the model loads."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise RunError(f"--device {device!r} is not a device name; use cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise RunError(f"--device {device}: no CUDA GPU is visible on this machine; use --device cpu")
        if parsed.index is not None and parsed.index >= count:
            raise RunError(f"--device {device}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise RunError(f"--device {device}: Apple's MPS backend is not available here; use --device cpu")
    else:
        raise RunError(f"--device {device!r}: bench runs on cpu, cuda or mps")


def check_model_name(model: str, arch: str | None) -> None:
    """A misspelt zoo name gets a suggestion; --arch is refused where it would be ignored."""
    path = Path(model)
    if not path.exists() and model not in zoo.ZOO and "/" not in model:
        raise RunError(unknown_model(model, "--model", "not a zoo name, a local folder or a file"))
    if arch is not None:
        if not path.is_file():
            raise RunError(f"--arch applies to a LAVIS .pth file only; --model {model!r} is not a file, so --arch "
                           "would be ignored: drop it")
        if arch not in zoo.ZOO:
            raise RunError(unknown_model(arch, "--arch", "not a zoo name"))


def check_task_flags(request, task: Task) -> None:
    """A flag the task does not use is an error naming both, never silently ignored."""
    fields = RetrievalSettings if task.kind == "retrieval" else GenerationSettings
    known = set(fields.__dataclass_fields__)
    for dest in request.overrides:
        if dest not in known:
            users = [n for n in tasks.names() if (tasks.get(n).kind == "retrieval") == (task.kind != "retrieval")]
            raise RunError(f"{flag(dest)} does not apply to {task.name} (a {task.kind} task); it is used by "
                           f"{', '.join(users)}: drop it or run it with those tasks")
    if request.vqa_scorer is not None and not task.scorer.takes(VQA_SCORER_OPTION):
        raise RunError(f"--vqa-scorer does not apply to {task.name}; it applies to the VQA-accuracy tasks "
                       f"({', '.join(n for n in tasks.names() if tasks.get(n).scorer.takes(VQA_SCORER_OPTION))})")
    if request.skip_bad and task.kind == "retrieval":
        raise RunError(f"--skip-bad does not apply to {task.name}: a retrieval split cannot lose images without "
                       "changing its ground truth. Fix or replace the image files instead.")
    try:
        spec = task.split(request.split)
    except TaskInputError as exc:
        raise RunError(f"--split: {exc}") from None
    if request.limit is not None and not spec.has_answers:
        raise RunError(f"--limit cannot be used with {task.name} {spec.name}: it has no public answers, so it is "
                       "scored only on EvalAI from a submission covering every question; drop --limit")
    prompt = request.overrides.get("prompt")
    if prompt is not None:
        holes = prompt.count("{}")
        if task.kind == "vqa" and holes != 1:
            raise RunError(f"--prompt {prompt!r} for {task.name} needs exactly one '{{}}' where the question goes "
                           f"(it has {holes}), e.g. 'Question: {{}} Answer:'")
        if task.kind != "vqa" and holes:
            raise RunError(f"--prompt {prompt!r}: {task.name} has no question to put in '{{}}'; give a plain "
                           "prompt such as 'a photo of'")


def check_model_fits(request, cfg: Blip2Config, names: list[str]) -> None:
    """Checks that need the model's architecture (peeked before loading, or the loaded model's)."""
    for name in names:
        task = tasks.get(name)
        if task.kind == "retrieval" and not cfg.is_stage1:
            raise RunError(f"{name} is a retrieval task and needs a stage-1 / retrieval model (ITC + ITM); "
                           f"{request.model} is a generative model. Use e.g. --model vitg-qformer-coco")
        if task.kind != "retrieval" and cfg.is_stage1:
            raise RunError(f"{name} needs a generative model (OPT or FlanT5); {request.model} is a stage-1 "
                           "Q-Former. Use e.g. --model vitg-opt2.7b")
    patch = cfg.vision.patch_size
    if request.image_size is not None and request.image_size % patch:
        raise RunError(f"--image-size {request.image_size} is not a multiple of {request.model}'s patch size "
                       f"{patch}; e.g. {max(patch, request.image_size // patch * patch)}")
    # no upper bound on --image-size: the position table is resized (bicubic) to any grid; memory is the limit
    text_limit = cfg.qformer.max_positions
    if request.overrides.get("max_text_tokens", 0) > text_limit:
        raise RunError(f"--max-text-tokens {request.overrides['max_text_tokens']} is above {request.model}'s "
                       f"Q-Former text positions ({text_limit}); give at most {text_limit}")
    for name in names:
        settings = settings_for(request, tasks.get(name), cfg)
        if isinstance(settings, GenerationSettings) and settings.num_beams == 1 and \
                "length_penalty" in request.overrides:
            raise RunError(f"--length-penalty has no effect with one beam ({name} with --num-beams 1): "
                           "drop it or use more beams")


def settings_for(request, task: Task, cfg: Blip2Config):
    """The task's defaults for this model, with the command-line overrides (each checked to apply)."""
    family = None if task.kind == "retrieval" else cfg.llm.family
    variant = "finetuned" if cfg.qformer_text_input and "finetuned" in task.variants else None
    defaults = task.settings(family, variant=variant)
    overrides = dict(request.overrides)
    overrides["image_size"] = request.image_size or cfg.vision.image_size  # the checkpoint's size wins
    try:
        return defaults.with_overrides(overrides)
    except TaskInputError as exc:  # e.g. --min-new-tokens above the task's max_new_tokens
        given = ", ".join(flag(k) for k in request.overrides) or "--image-size"
        raise RunError(f"{task.name}: {exc}; the task defaults are in `python -m bench list tasks`, "
                       f"the flags given: {given}") from None


def recorded_settings(request, task: Task, cfg: Blip2Config) -> dict[str, Any]:
    """What metrics.json records under "settings": the task settings, the preprocessing and the run's flags."""
    from blip2.processing import ImageTransform

    settings = settings_for(request, task, cfg)
    transform = ImageTransform(settings.image_size, cfg.image_mean, cfg.image_std)
    return {**settings.to_dict(), **transform.settings(), "batch_size": request.batch_size,
            "num_workers": request.num_workers, "seed": request.seed, "limit": request.limit,
            "vqa_scorer": vqa_scorer_for(request, task), "skip_bad": request.skip_bad,
            "allow_outside_data_root": request.allow_outside_data_root}


def vqa_scorer_for(request, task: Task) -> str | None:
    """The VQA accuracy variant of a VQA-accuracy task (lavis unless --vqa-scorer says); None elsewhere."""
    return (request.vqa_scorer or DEFAULT_VQA_SCORER) if task.scorer.takes(VQA_SCORER_OPTION) else None

