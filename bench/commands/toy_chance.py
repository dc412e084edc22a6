"""``python -m bench toy-chance``: the chance level of every toy task, to set beside every toy number."""

from __future__ import annotations

import argparse

NAME = "toy-chance"
HELP = "chance levels of the toy tasks (a blind language prior, random captions, random retrieval scores)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default=None,
                        help="toy data root (default: data/toy, generated when missing)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random answerers (default: 0)")


def run(args: argparse.Namespace) -> int:
    from bench.model_check import check_seed
    from toyworld.analyses.chance import chance_metrics
    from toyworld.data import ensure_root

    check_seed(args.seed)
    for (task, split), metrics in chance_metrics(ensure_root(args.data_root), seed=args.seed).items():
        shown = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items() if isinstance(v, (int, float)))
        print(f"{task:15s} {split:14s} {shown}")
    return 0
