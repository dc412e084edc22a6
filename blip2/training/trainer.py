"""The training loop on accelerate: mixed precision, gradient accumulation, checkpoint and resume,
and any number of processes or nodes (`accelerate launch` / `torchrun`) without code changes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
from torch.utils.data import DataLoader, Dataset, IterableDataset
from tqdm import tqdm

from .data import collate
from .objectives import loss_for
from .optim import cosine_lr, param_groups
from .recipe import Recipe, RecipeError
from .stream_epochs import StreamEpochs
from .tracking import choose_tracker, init_kwargs, scalar_config


@dataclass
class TrainResult:
    steps: int
    losses: list[float]
    output_dir: Path
    samples_read: int | None = None  # shard streams: samples read and bad ones skipped, over all processes
    bad_samples: int | None = None


def _mixed_precision(recipe: Recipe, accelerator_cpu: bool) -> str:
    if recipe.precision in ("no", "fp16", "bf16"):
        return "no" if accelerator_cpu and recipe.precision == "fp16" else recipe.precision
    return "no" if accelerator_cpu or not torch.cuda.is_available() else "bf16"


@contextmanager
def deterministic_kernels(enabled: bool = True) -> Iterator[None]:
    """Deterministic torch kernels inside the block when `enabled`; otherwise the setting is left as it is.
    The previous setting (and its warn-only flag) is restored after.

    Some CPU kernels are not deterministic: the backward of indexing with repeated indices (`index_put_`
    with accumulate, which ITM's hard-negative images use) adds the repeated rows across threads in an
    order that depends on timing, so the same run gave different gradients in different processes and a
    toy rebuild drifted from the committed one. On CPU the deterministic kernels cost little; on GPU it is
    left to the caller (cuBLAS also needs CUBLAS_WORKSPACE_CONFIG).
    """
    if not enabled:
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=warn_only if previous else False)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=warn_only)


def train(
    recipe: Recipe,
    model: torch.nn.Module,
    dataset: Dataset,
    output_dir: str | Path,
    *,
    cpu: bool | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    loss_fn: Callable | None = None,
    log_with: str | None = "none",
) -> TrainResult:
    """Run `recipe` on `model`; logs to `output_dir/log.jsonl` and to the tracker `log_with` (a
    `tracking.TRACKERS` name; None: TensorBoard when installed), resumes from `output_dir/checkpoint`.

    `stop_after` ends the loop early (after that many optimiser steps) as a pre-emption would. On CPU the
    kernels are deterministic (`deterministic_kernels`), so a run repeats exactly.
    """
    tracker = choose_tracker(log_with)  # a tracker that is not installed stops here, before any work
    cpu = (not torch.cuda.is_available()) if cpu is None else cpu
    with deterministic_kernels(cpu):
        return _train(recipe, model, dataset, Path(output_dir), cpu, progress, stop_after, loss_fn, tracker)


def _train(recipe: Recipe, model: torch.nn.Module, dataset: Dataset, output_dir: Path, cpu: bool, progress: bool,
           stop_after: int | None, loss_fn: Callable | None, tracker: str | None) -> TrainResult:
    # split_batches: every process takes its slice of the same global batch, so 1 and N processes
    # see exactly the same samples at each step.
    accelerator = Accelerator(cpu=cpu, mixed_precision=_mixed_precision(recipe, cpu),
                              gradient_accumulation_steps=recipe.grad_accum,
                              dataloader_config=DataLoaderConfiguration(split_batches=True),
                              log_with=tracker, project_config=ProjectConfiguration(
                                  project_dir=str(output_dir), logging_dir=str(output_dir / "logs")))
    set_seed(recipe.seed)
    per_process = recipe.batch_size // (recipe.grad_accum * accelerator.num_processes)
    if per_process < 1 or per_process * recipe.grad_accum * accelerator.num_processes != recipe.batch_size:
        raise ValueError(f"global batch {recipe.batch_size} does not split into {accelerator.num_processes} "
                         f"processes x {recipe.grad_accum} accumulation steps")
    generator = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.AdamW(param_groups(model, recipe.lr, recipe.weight_decay, recipe.layer_decay),
                                  lr=recipe.lr, betas=recipe.betas, weight_decay=recipe.weight_decay)
    stream = None
    if isinstance(dataset, IterableDataset):  # shards: each process reads its own, in batches of its own share
        if recipe.max_steps is None:
            raise RecipeError(f"recipe {recipe.name}: a stream of shards has no known length; give max_steps "
                              "(e.g. --set max_steps=1000 --set epochs=null)")
        loader = DataLoader(dataset, batch_size=per_process, num_workers=recipe.num_workers, drop_last=True,
                            collate_fn=collate)
        steps_per_epoch, total = 0, recipe.max_steps
        ddp_model, optimizer = accelerator.prepare(model, optimizer)
    else:
        loader = DataLoader(dataset, batch_size=per_process * accelerator.num_processes, shuffle=True,
                            generator=generator, drop_last=True, collate_fn=collate)
        steps_per_epoch = len(loader) // recipe.grad_accum
        total = recipe.max_steps or recipe.epochs * steps_per_epoch
        ddp_model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    loss_fn = loss_fn or loss_for(recipe)

    state_path = output_dir / "checkpoint"
    step, losses, progress_state = 0, [], {}
    if state_path.is_dir():
        accelerator.load_state(str(state_path))
        progress_state = json.loads((state_path / "progress.json").read_text())
        step, losses = progress_state["step"], progress_state["losses"]
    if steps_per_epoch == 0:
        stream = StreamEpochs(accelerator, recipe.max_bad_fraction, progress_state.get("stream"))
    bar = tqdm(total=total, initial=step, desc=recipe.name, disable=not progress or not accelerator.is_main_process)
    output_dir.mkdir(parents=True, exist_ok=True)
    log = open(output_dir / "log.jsonl", "a") if accelerator.is_main_process else None  # noqa: SIM115
    if tracker is not None:
        accelerator.init_trackers(recipe.name, config=scalar_config(recipe.__dict__),
                                  init_kwargs=init_kwargs(tracker, output_dir / "logs"))
    clock = time.perf_counter()
    epoch = step // steps_per_epoch if steps_per_epoch else progress_state.get("epoch", 0)
    while step < total:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        if stream is not None:  # a resume continues the stream's epoch after the batches it had taken
            skip = progress_state.pop("epoch_batches", 0)
            batches = stream.epoch(loader, skip)
        else:
            generator.manual_seed(recipe.seed + epoch)
            if hasattr(loader, "set_epoch"):  # accelerate's shuffling follows its own epoch counter: pin it
                loader.set_epoch(epoch)
            skip = (step % steps_per_epoch) * recipe.grad_accum
            batches = accelerator.skip_first_batches(loader, skip) if skip else loader
            if hasattr(batches, "set_epoch"):
                batches.set_epoch(epoch)
        for batch in batches:
            with accelerator.accumulate(ddp_model):
                lr = cosine_lr(step, total, recipe.lr, recipe.warmup_steps, recipe.min_lr, recipe.warmup_lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr * group["lr_scale"]
                loss, parts = loss_fn(_forwarding(ddp_model, model), batch, recipe)
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue
            step += 1
            mean_loss = accelerator.reduce(loss.detach(), reduction="mean").item()
            losses.append(mean_loss)
            bar.update(1)
            bar.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{lr:.2e}")
            counts = {"epoch": epoch, "samples_read": stream.read, "bad_samples": stream.bad} if stream else {}
            if log is not None:
                log.write(json.dumps({"step": step, "loss": mean_loss, "lr": lr, **parts, **counts}) + "\n")
                log.flush()
            if tracker is not None:  # throughput: global samples per second of this step (checkpointing included)
                now = time.perf_counter()
                accelerator.log({"train/loss": mean_loss, "train/lr": lr,
                                 "train/samples_per_s": recipe.batch_size / max(now - clock, 1e-9),
                                 **{f"train/{k}": v for k, v in {**parts, **counts}.items()}}, step=step)
                clock = now
            if step % recipe.save_every == 0 or step == total or step == stop_after:
                where = {"epoch": epoch, "epoch_batches": stream.batches, "stream": stream.state()} if stream else {}
                _save_state(accelerator, state_path, step, losses, where)
            if step >= total or step == stop_after:
                break
        if step == stop_after:
            break
        epoch += 1
    bar.close()
    if log is not None:
        log.close()
    if tracker is not None:
        accelerator.end_training()
    accelerator.wait_for_everyone()
    if stream is not None:
        return TrainResult(step, losses, output_dir, samples_read=stream.read, bad_samples=stream.bad)
    return TrainResult(step, losses, output_dir)


class _forwarding:
    """The DDP wrapper for forward(), the plain module for everything else (tokenizers, cfg, ...)."""

    def __init__(self, ddp_model, model):
        self._ddp, self._model = ddp_model, model

    def __call__(self, *args, **kwargs):
        return self._ddp(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def _save_state(accelerator: Accelerator, path: Path, step: int, losses: list[float],
                where: dict[str, Any] | None = None) -> None:
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / "progress.json").write_text(json.dumps({"step": step, "losses": losses, **(where or {})}))
