"""`bench run`: check everything first, load the model once, then evaluate each (task, split)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import blip2
import tasks
from blip2.checkpoints.hub import WeightsUnavailable
from blip2.checkpoints.peek import peek_config
from tasks.atomic import atomic_write_json
from tasks.coverage import coverage
from tasks.errors import TaskInputError
from tasks.formats.gqa import write_gqa_results
from tasks.formats.predictions import write_caption_results, write_retrieval_scores
from tasks.formats.vqa import write_vqa_results
from tasks.scorers import DEFAULT_VQA_SCORER
from tasks.splits import LoadedSplit, RetrievalSplit
from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED
from tasks.task import Task

from .checks import check_model_fits, check_output_dir, check_request, recorded_settings, settings_for, vqa_scorer_for
from .distributed import barrier, broadcast_object, device_for, init_from_env, shard
from .errors import RunError
from .folder import SAMPLES, FolderError, RunFolder, write_samples
from .generate import generate
from .images import find_unreadable
from .provenance import provenance, run_name_for
from .retrieve import retrieval_scores


@dataclass
class RunRequest:
    """Everything `bench run` was asked to do."""

    tasks: list[str]
    model: str
    split: str | None = None
    arch: str | None = None
    data_root: str | None = None
    output_dir: str = "results/runs"
    name: str | None = None
    batch_size: int = 8
    num_workers: int = 0
    device: str = "cpu"
    precision: str = "auto"
    limit: int | None = None
    seed: int = 0
    image_size: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    vqa_scorer: str | None = None  # None: lavis on the VQA-accuracy tasks
    quiet: bool = False
    overwrite: bool = False
    skip_bad: bool = False
    expect_sha256: str | None = None
    allow_outside_data_root: bool = False
    bootstrap_iters: int = DEFAULT_RESAMPLES  # 0: no intervals
    bootstrap_seed: int = DEFAULT_SEED


def _preflight(request: RunRequest) -> list[tuple[Task, LoadedSplit]]:
    """Load and check every split's data and locate the weights; report every problem at once."""
    problems, loaded = [], []
    for name in request.tasks:
        task = tasks.get(name)
        try:
            loaded.append((task, task.load(request.data_root, request.split, request.limit,
                                           allow_outside_data_root=request.allow_outside_data_root)))
        except TaskInputError as exc:
            problems.append(f"data for {name}: {exc}")
    weights = blip2.missing_weights(request.model, request.arch)
    if weights and problems:  # both missing: say everything before failing
        problems.append(weights)
    if problems:
        raise RunError("cannot start the run:\n" + "\n".join(f"* {p}" for p in problems))
    return loaded


def run_all(request: RunRequest) -> list[Path]:
    """Evaluate the model on every requested (task, split); returns the result folders.

    Under `accelerate launch` / `torchrun` every process runs this; samples are sharded across them
    and rank 0 alone writes the files.
    """
    check_request(request)  # arguments first: nothing is read, loaded or written before they pass
    name = request.name or run_name_for(request.model, None)
    check_output_dir(Path(request.output_dir) / name)
    peeked = peek_config(request.model, request.arch)
    if peeked is not None:
        check_model_fits(request, peeked, request.tasks)
    rank, world = init_from_env(request.device)
    device = device_for(request.device)
    loaded = _preflight(request)
    try:
        model = blip2.load_model(request.model, arch=request.arch, device=device, precision=request.precision,
                                 expect_sha256=request.expect_sha256)
    except WeightsUnavailable as exc:
        raise RunError(str(exc)) from exc
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise RunError(f"cannot load model {request.model!r}: {exc}") from exc
    check_model_fits(request, model.cfg, request.tasks)  # again, for sources peek_config cannot read
    if request.image_size:
        model.vision.set_image_size(request.image_size)
    folders = []
    for task, split in loaded:
        _seed_everything(request.seed)
        folders.append(_run_one(request, model, name, task, split, rank, world))
    return folders


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _fingerprint(request: RunRequest, model, task: Task, loaded: LoadedSplit, settings) -> dict[str, Any]:
    """What decides the predictions: a folder holding another fingerprint is another run."""
    files = provenance(request, model)["checkpoint"]["files"]
    return {"task": task.name, "split": loaded.split, "checkpoint": [f["sha256"] for f in files] or [request.model],
            "settings": settings.to_dict(), "limit": request.limit, "seed": request.seed,
            "precision": getattr(model, "precision", None), "skip_bad": request.skip_bad,
            "version": blip2.__version__}


def _open_folder(folder: RunFolder, rank: int) -> dict:
    """Rank 0 takes the lock and reads what is done; every rank learns the outcome."""
    state: dict[str, Any] = {}
    if rank == 0:
        try:
            folder.lock()
            state["done"] = folder.done()
        except FolderError as exc:
            state["error"] = str(exc)
    state = broadcast_object(state)
    if "error" in state:
        raise RunError(state["error"])
    return state["done"]


def _run_one(request: RunRequest, model, name: str, task: Task, loaded: LoadedSplit, rank: int, world: int) -> Path:
    settings = settings_for(request, task, model.cfg)
    path = Path(request.output_dir) / name / f"{task.name}-{loaded.split}"
    transform = blip2.image_transform(model)
    skipped = _skip_bad_images(request, loaded, rank) if request.skip_bad else {}
    if skipped:
        keep = tuple(s for s in loaded.samples if s.sample_id not in skipped)
        loaded = dataclasses.replace(loaded, samples=keep)
    folder = RunFolder(path, _fingerprint(request, model, task, loaded, settings), overwrite=request.overwrite)
    done = _open_folder(folder, rank)
    try:
        total = len(loaded)
        bar = tqdm(total=total, initial=len(done), desc=f"{name} {task.name}-{loaded.split}",
                   unit="img" if task.kind == "retrieval" else "sample",
                   disable=request.quiet or rank != 0, dynamic_ncols=True)
        start = time.perf_counter()
        if isinstance(loaded, RetrievalSplit):
            scores = retrieval_scores(model, task, loaded, settings, transform, request.batch_size,
                                      request.num_workers, on_batch=bar.update, rank=rank, world=world)
            predictions: Any = (scores["i2t"], scores["t2i"])
            if rank == 0:
                write_retrieval_scores(path / "scores.npz", **scores)
        else:
            _generate_shard(request, model, task, loaded, settings, transform, folder, done, rank, world, bar)
            barrier()
            predictions = _merge_predictions(folder, loaded) if rank == 0 else None
        wall = time.perf_counter() - start
        bar.close()
        if rank == 0:
            _write_results(request, model, name, task, loaded, settings, transform, predictions, path, wall,
                           skipped, resumed=len(done))
        barrier()
    finally:
        folder.unlock()
    return path


def _generate_shard(request, model, task, loaded, settings, transform, folder: RunFolder, done: dict,
                    rank: int, world: int, bar) -> None:
    """Generate this process's share of the samples not done yet, appending one flushed line each."""
    remaining = [s for s in loaded.samples if json.dumps(s.sample_id) not in done]
    mine = dataclasses.replace(loaded, samples=tuple(shard(remaining, rank, world)))
    if not mine.samples:
        return
    with open(folder.part_file(rank, world), "a", encoding="utf-8") as lines:
        for sample_id, prompt, text in generate(model, task, mine, settings, transform, request.batch_size,
                                                request.num_workers, on_batch=lambda n: bar.update(n * world)):
            lines.write(json.dumps({"id": sample_id, "prediction": text, "prompt": prompt}) + "\n")
            lines.flush()


def _merge_predictions(folder: RunFolder, loaded: LoadedSplit) -> dict:
    records = folder.merge([s.sample_id for s in loaded.samples])
    by_key = {json.dumps(r["id"]): r["prediction"] for r in records}
    return {s.sample_id: by_key[json.dumps(s.sample_id)] for s in loaded.samples}


def _skip_bad_images(request: RunRequest, loaded: LoadedSplit, rank: int) -> dict[Any, str]:
    """--skip-bad: decode every image up front; the unreadable ones' samples are left out and reported."""
    bad = find_unreadable([s.image_path for s in loaded.samples]) if rank == 0 else {}
    bad = broadcast_object(bad)
    return {s.sample_id: bad[str(s.image_path)] for s in loaded.samples if str(s.image_path) in bad}


def _write_results(request, model, name, task, loaded, settings, transform, predictions, path: Path, wall: float,
                   skipped: dict, resumed: int) -> None:
    total = len(loaded)
    if not isinstance(loaded, RetrievalSplit):
        _write_official(task, loaded, predictions, path / "predictions.json")
    samples: list[dict] = []
    if loaded.has_answers:
        # the model's own empty generations are wrong answers, scored and reported, not a reason to fail
        result, samples = task.score_with_samples(
            predictions, loaded, vqa_scorer=vqa_scorer_for(request, task) or DEFAULT_VQA_SCORER,
            allow_partial=bool(skipped), allow_empty=True, resamples=request.bootstrap_iters,
            seed=request.bootstrap_seed)
    else:
        covered = coverage(task, loaded, total)
        result = {"task": task.name, "split": loaded.split, "scorer": None, "n": total, "metrics": {},
                  "partial": covered.partial, "coverage": covered.to_dict(),
                  "notes": {"submission": f"no public answers: upload {path / 'predictions.json'} to EvalAI",
                            **({"partial": covered.reason} if covered.partial else {})}}
    if skipped:
        result["partial"] = True
        result.setdefault("notes", {})["skipped"] = (f"{len(skipped)} sample(s) skipped because their image "
                                                      "could not be read (--skip-bad); these metrics are partial")
        result["skipped"] = {"count": len(skipped), "ids": list(skipped), "reasons": list(skipped.values())}
    record = {
        **result,
        "model": name,
        "settings": recorded_settings(request, task, model.cfg),
        "provenance": provenance(request, model),
        "timing": {"wall_s": round(wall, 3), "samples_per_s": round((total - resumed) / wall, 3) if wall > 0
                   else None, "resumed_samples": resumed,
                   "processes": int(os.environ.get("WORLD_SIZE", "1"))},
    }
    if samples:
        write_samples(path / SAMPLES, samples)
    atomic_write_json(path / "metrics.json", record)


def _write_official(task: Task, loaded: LoadedSplit, predictions: dict, path: Path) -> None:
    """The file `bench score` reads: the task's official results format (EvalAI's for VQAv2 test-dev)."""
    if not loaded.has_answers:
        task.write_submission(predictions, loaded, path)
    elif task.prediction_format == "vqa":
        write_vqa_results(path, predictions)
    elif task.prediction_format == "gqa":
        write_gqa_results(path, predictions)
    else:
        write_caption_results(path, predictions)
