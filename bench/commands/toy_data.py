"""``python -m bench toy-data``: write the procedural toy data root that every task can load.

The toy root uses the official file names and layouts, so ``bench run --data-root data/toy`` runs the
real task code within minutes, before anyone downloads the real benchmarks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toyworld.data import DEFAULT_ROOT, DEFAULT_SEED, DEFAULT_SIZE, SIZE_PRESETS, build

NAME = "toy-data"
HELP = "generate the toy data root (procedural shape scenes in every task's official files)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_ROOT, help=f"output folder (default: {DEFAULT_ROOT})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    parser.add_argument(
        "--size",
        choices=tuple(SIZE_PRESETS),
        default=DEFAULT_SIZE,
        help=f"how many images and questions (default: {DEFAULT_SIZE}; small is for tests)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out even when it is a non-empty folder that is not this exact toy root",
    )


def run(args: argparse.Namespace) -> int:
    from bench.model_check import check_seed

    check_seed(args.seed)
    result = build(args.out, seed=args.seed, size=args.size, overwrite=args.overwrite)
    counts = result.manifest["counts"]
    if result.written:
        print(
            f"wrote the toy data root {result.root} (seed {args.seed}, size {args.size}, {counts['images']} images)",
            file=sys.stderr,
        )
    else:
        print(f"{result.root} already holds this toy data root (seed {args.seed}, size {args.size})", file=sys.stderr)
    print(result.root)
    return 0
