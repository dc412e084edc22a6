"""``python -m bench run``: evaluate a model on one, several or all tasks."""

from __future__ import annotations

import argparse
import os
import sys

from tasks.scorers import DEFAULT_VQA_SCORER, VQA_SCORERS

NAME = "run"
HELP = "evaluate a model (zoo name, transformers folder, LAVIS .pth + --arch, or our folder) on tasks"

# command-line flag -> task setting it overrides (applied where the task has that setting)
_OVERRIDES = {"num_beams": int, "max_new_tokens": int, "min_new_tokens": int, "length_penalty": float,
              "repetition_penalty": float, "prompt": str, "k_test": int, "max_text_tokens": int}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", help="task name, comma-separated names, or 'all' (with no --task and no --model: "
                                       "the default job, every toy model on every task; see bench/default_job.py)")
    parser.add_argument("--model", help="zoo name, HF folder or hub id, our folder, or LAVIS .pth")
    parser.add_argument("--arch", help="zoo name of the architecture a LAVIS .pth holds")
    parser.add_argument("--split", help="split name (default: each task's default split)")
    parser.add_argument("--data-root", help="data root (default: $BLIP2_DATA, then ./data)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--limit", type=int, help="evaluate only the first N samples (images for retrieval)")
    parser.add_argument("--output-dir", default="results/runs")
    parser.add_argument("--name", help="run name (default: zoo name, else checkpoint folder name)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-workers", type=int, default=0, help="image-decoding worker processes")
    parser.add_argument("--image-size", type=int, help="override the checkpoint's image size")
    parser.add_argument("--vqa-scorer", default=DEFAULT_VQA_SCORER, choices=VQA_SCORERS)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a run folder that holds another checkpoint's or other settings' results")
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip samples whose image cannot be read; they are listed in metrics.json (partial)")
    parser.add_argument("--expect-sha256", help="refuse the checkpoint unless its weight file has this sha256")
    parser.add_argument("--allow-outside-data-root", action="store_true",
                        help="accept image paths in annotation files that leave the data root (absolute or '..'); "
                             "default: refused")
    settings = parser.add_argument_group("generation / retrieval settings (override the task defaults)")
    for flag, kind in _OVERRIDES.items():
        settings.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind)


def run(args: argparse.Namespace) -> int:
    if args.task is None and args.model is None:
        from bench.default_job import DefaultJob, run_default_job

        for folder in run_default_job(DefaultJob(limit=args.limit, quiet=args.quiet)):
            print(folder / "metrics.json")
        return 0
    if args.task is None or args.model is None:
        print("error: give both --task and --model (or neither, for the default toy job)", file=sys.stderr)
        return 2
    from bench.runner.run import RunError, RunRequest, expand_tasks, run_all  # heavy: torch, transformers

    if args.batch_size < 1:
        raise RunError(f"--batch-size must be >= 1, got {args.batch_size}")
    request = RunRequest(
        tasks=expand_tasks(args.task), model=args.model, split=args.split, arch=args.arch,
        data_root=args.data_root, output_dir=args.output_dir, name=args.name, batch_size=args.batch_size,
        num_workers=args.num_workers, device=args.device, precision=args.precision, limit=args.limit,
        seed=args.seed, image_size=args.image_size, vqa_scorer=args.vqa_scorer, quiet=args.quiet,
        overwrite=args.overwrite, skip_bad=args.skip_bad, expect_sha256=args.expect_sha256,
        allow_outside_data_root=args.allow_outside_data_root,
        overrides={k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None},
    )
    try:
        folders = run_all(request)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)  # multi-line on purpose: it lists every fix
        return 2
    if os.environ.get("RANK", "0") == "0":  # under a launcher, only rank 0 wrote the files
        for folder in folders:
            print(folder / "metrics.json")
    return 0
