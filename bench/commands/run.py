"""``python -m bench run``: evaluate a model on one, several or all tasks."""

from __future__ import annotations

import argparse
import os
import sys

from bench.errors import BenchError
from bench.typed_flags import given_flags
from blip2.training.tracking import TRACKERS, choose_tracker
from tasks.scorers import DEFAULT_VQA_SCORER, VQA_SCORERS
from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED

NAME = "run"
HELP = "evaluate a model (zoo name, transformers folder, LAVIS .pth + --arch, or our folder) on tasks"

# command-line flag -> (type, help) of the task setting it overrides; a flag a task has no setting for is refused
_OVERRIDES = {
    "num_beams": (int, "beam search width (generation tasks)"),
    "max_new_tokens": (int, "most tokens generated (generation tasks)"),
    "min_new_tokens": (int, "fewest tokens generated (generation tasks)"),
    "length_penalty": (float, "beam search length penalty (generation tasks, with more than one beam)"),
    "repetition_penalty": (float, "repetition penalty, 1.0 = none (generation tasks)"),
    "prompt": (str, "LLM prompt; VQA prompts need exactly one {} where the question goes (generation tasks)"),
    "k_test": (int, "ITC candidates re-ranked by ITM (retrieval tasks)"),
    "max_text_tokens": (int, "captions are cut to this many tokens (retrieval tasks)"),
}
DEFAULT_BATCH_SIZE = 8
# the flags the default job (no --task, no --model) honours; any other flag given with it is refused
DEFAULT_JOB_FLAGS = ("output_dir", "data_root", "device", "batch_size", "precision", "num_workers", "limit",
                     "quiet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", help="task name, comma-separated names, or 'all' (with no --task and no --model: "
                                       "the default job, every toy model on every task; see bench/default_job.py)")
    parser.add_argument("--model", help="zoo name, HF folder or hub id, our folder, or LAVIS .pth (default: none, "
                                        "which with no --task runs the default job)")
    parser.add_argument("--arch", help="zoo name of the architecture a LAVIS .pth holds (only with a .pth --model; "
                                       "default: none)")
    parser.add_argument("--split", help="split name (default: each task's default split)")
    parser.add_argument("--data-root", help="data root (default: $BLIP2_DATA, then ./data; the default job: "
                                            "data/toy)")
    parser.add_argument("--batch-size", type=int,
                        help=f"samples per forward pass (default: {DEFAULT_BATCH_SIZE}; the default job: 50)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                        help="weights' precision; auto: the checkpoint's GPU precision, fp32 on CPU")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples (images for retrieval); "
                                                  "the result is partial (default: every sample)")
    parser.add_argument("--output-dir", default="results/runs", help="where run folders are written")
    parser.add_argument("--name", help="run folder name (default: zoo name, else checkpoint folder name)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (torch, numpy, random)")
    parser.add_argument("--num-workers", type=int, default=0, help="image-decoding worker processes")
    parser.add_argument("--image-size", type=int,
                        help="evaluate at this image size, a multiple of the model's patch size "
                             "(default: the checkpoint's own size)")
    parser.add_argument("--vqa-scorer", choices=VQA_SCORERS,
                        help=f"VQA accuracy variant, for vqav2/okvqa only (default: {DEFAULT_VQA_SCORER}, as in "
                             "the paper)")
    parser.add_argument("--bootstrap-iters", type=int, default=DEFAULT_RESAMPLES,
                        help="bootstrap resamples behind each metric's 95%% interval (ci95 in metrics.json); "
                             "0 switches intervals off")
    parser.add_argument("--bootstrap-seed", type=int, default=DEFAULT_SEED,
                        help="seed of the bootstrap resamples (the intervals are deterministic for a seed)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a run folder that holds another checkpoint's or other settings' results")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip samples whose image cannot be read; they are listed in metrics.json (partial)")
    parser.add_argument("--expect-sha256", metavar="[FILE=]HEX",
                        help="refuse the checkpoint unless its weight file has this sha256; a checkpoint read from "
                        "several files (shards, a LAVIS file and its ViT's) needs FILE, the file's name or a path "
                        "ending. The run's provenance records which file was checked (default: no check)")
    parser.add_argument("--allow-outside-data-root", action="store_true",
                        help="accept image paths in annotation files that leave the data root (absolute or '..'); "
                             "default: refused")
    parser.add_argument("--log-with", choices=TRACKERS, default="none",
                        help="also log each run's final metrics to this experiment tracker, under "
                             "<output-dir>/<run>/logs")
    settings = parser.add_argument_group("generation / retrieval settings (default: the task's own, see "
                                         "`python -m bench list tasks`)")
    for dest, (kind, text) in _OVERRIDES.items():
        settings.add_argument("--" + dest.replace("_", "-"), dest=dest, type=kind,
                              help=f"{text} (default: the task's own for the model's LLM)")


def run(args: argparse.Namespace) -> int:
    if args.task is None and args.model is None:
        return _default_job(args)
    if args.task is None or args.model is None:
        raise BenchError("give both --task and --model (or neither, for the default toy job)")
    from bench.runner.errors import RunError
    from bench.runner.run import run_all  # heavy: torch, transformers

    request = request_from_args(args)
    tracker = choose_tracker(args.log_with)  # a tracker that is not installed stops here, before any work
    try:
        folders = run_all(request)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)  # multi-line on purpose: the preflight lists every fix
        return 2
    if os.environ.get("RANK", "0") == "0":  # under a launcher, only rank 0 wrote the files
        for folder in folders:
            print(folder / "metrics.json")
        if tracker is not None:
            from bench.run_tracking import log_final_metrics

            for logs in log_final_metrics(tracker, folders):
                print(f"{args.log_with}: final metrics logged under {logs}")
    return 0


def request_from_args(args: argparse.Namespace):
    """The `RunRequest` that `bench run --task ... --model ...` asks for (every flag lands in it)."""
    from bench.runner.checks import expand_tasks
    from bench.runner.run import RunRequest

    return RunRequest(
        tasks=expand_tasks(args.task), model=args.model, split=args.split, arch=args.arch,
        data_root=args.data_root, output_dir=args.output_dir, name=args.name,
        batch_size=DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size,
        num_workers=args.num_workers, device=args.device, precision=args.precision, limit=args.limit,
        seed=args.seed, image_size=args.image_size, vqa_scorer=args.vqa_scorer, quiet=args.quiet,
        overwrite=args.overwrite, skip_bad=args.skip_bad, expect_sha256=args.expect_sha256,
        allow_outside_data_root=args.allow_outside_data_root, bootstrap_iters=args.bootstrap_iters,
        bootstrap_seed=args.bootstrap_seed,
        overrides={k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None},
    )


def _default_job(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench.default_job import DefaultJob, run_default_job

    refused = [d for d in given_flags(args) if d not in DEFAULT_JOB_FLAGS]
    if refused:
        flags = ", ".join("--" + d.replace("_", "-") for d in refused)
        raise BenchError(f"{flags} cannot be used with the default job (no --task and no --model), which takes only "
                         f"{', '.join('--' + d.replace('_', '-') for d in DEFAULT_JOB_FLAGS)}; "
                         "give --task and --model to use it")
    job = DefaultJob(output_dir=Path(args.output_dir), limit=args.limit, quiet=args.quiet, device=args.device,
                     precision=args.precision, num_workers=args.num_workers,
                     **({"batch_size": args.batch_size} if args.batch_size is not None else {}),
                     **({"data_root": Path(args.data_root)} if args.data_root else {}))
    folders, summary = run_default_job(job)
    for folder in folders:
        print(folder / "metrics.json")
    print("\n".join(summary))  # last, so that the report's URL is what the terminal ends with
    return 0
