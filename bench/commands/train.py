"""``python -m bench train --recipe NAME``: run a training recipe (paper or toy)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.errors import BenchError
from bench.typed_flags import given_flags
from blip2.training.tracking import DEFAULT_HELP, TRACKERS
from tasks.data_root import resolve_data_root

NAME = "train"
HELP = "run a training recipe (stage 1, stage 2, caption / VQA / retrieval fine-tuning)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", required=True,
                        help="recipe name (blip2/training/recipes/, toyworld/recipes/) or a JSON file; 'toy-backbones' "
                             "trains the frozen toy backbones, 'toy' rebuilds every toy BLIP-2 checkpoint on them, "
                             "'toy-findings' runs the toy Figure 5 / Table 6 ablations")
    parser.add_argument("--data-root", help="data root (default: $BLIP2_DATA, then ./data)")
    parser.add_argument("--output", default="results/train", help="folder for <recipe>/{model,checkpoint,log.jsonl}")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a recipe field, e.g. --set max_steps=100 --set batch_size=16 (JSON values)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (default: shown)")
    parser.add_argument("--allow-pipe-shards", action="store_true",
                        help="accept 'pipe:' shard specs (they run a shell command to read each shard; default: "
                             "refused)")
    parser.add_argument("--log-with", choices=TRACKERS,
                        help=f"experiment tracker for losses, learning rates and throughput, written under "
                             f"<output>/<recipe>/logs (default: {DEFAULT_HELP}; not for the toy-* builds)")


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            from blip2.training.recipe import RecipeError

            raise RecipeError(f"--set expects FIELD=VALUE (a JSON value), got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from blip2.training import load_recipe
    from blip2.training.run import run_recipe
    from toyworld.train import TOY_RECIPES

    if args.recipe in TOY_RECIPES:
        for flag in ("log_with", "allow_pipe_shards"):
            if flag in given_flags(args):
                raise BenchError(f"--{flag.replace('_', '-')} is for one recipe; --recipe {args.recipe} trains many "
                                 "(train one toy recipe, e.g. --recipe toy_stage1, to use it)")
        from toyworld.train import run_toy

        return run_toy(args.recipe, args.data_root, Path(args.output), _overrides(args.set), evaluate_folder,
                       compare_folders, quiet=args.quiet)
    recipe = load_recipe(args.recipe).with_overrides(_overrides(args.set))
    result = run_recipe(recipe, resolve_data_root(args.data_root), Path(args.output), progress=not args.quiet,
                        log_with=args.log_with, allow_pipe_shards=args.allow_pipe_shards)
    loss = f"final loss {result.losses[-1]:.4f}" if result.losses else "no loss logged"  # resumed at its end
    print(f"{recipe.name}: {result.steps} steps, {loss}; model saved to {result.output_dir / 'model'}")
    if result.samples_read is not None:
        print(f"{recipe.name}: {result.samples_read} samples read from the shards, {result.bad_samples} bad ones "
              f"skipped (the limit is max_bad_fraction {recipe.max_bad_fraction:g})")
    return 0


def compare_folders(a: Path, b: Path) -> dict:
    """`bench compare A B` as JSON (B against A on their shared samples), for the toy findings."""
    from bench.compare_report import compare_runs
    from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED

    return compare_runs(a, b, DEFAULT_RESAMPLES, DEFAULT_SEED, top=10)


def evaluate_folder(model: Path, name: str, task_names: list[str], runs: Path,
                    overrides: dict | None = None) -> dict[str, Path]:
    """Evaluate a trained model folder on tasks (the toy findings' evaluator), with task settings overridden
    as `bench run`'s flags do (`{"k_test": 1}`): {task: its run folder}."""
    from bench.runner.run import RunRequest, run_all

    request = RunRequest(tasks=task_names, model=str(model), data_root=None, output_dir=str(runs), name=name,
                         batch_size=50, quiet=True, overwrite=True, overrides=dict(overrides or {}))
    return {json.loads((folder / "metrics.json").read_text())["task"]: folder for folder in run_all(request)}
