"""``python -m bench cost``: passes, FLOPs and projected GPU hours of a full evaluation, before running it."""

from __future__ import annotations

import argparse

from bench.cost import DEFAULT_UTILIZATION, GPU_PEAK_TFLOPS, estimate_for, format_estimate
from bench.errors import BenchError
from blip2 import zoo
from blip2.suggest import did_you_mean

NAME = "cost"
HELP = "print the passes, FLOPs and projected GPU hours of evaluating a zoo model on a task's full split"


class CostError(BenchError):
    """Arguments the estimate cannot use; the message says which and what is accepted."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="task name (see `python -m bench list tasks`)")
    parser.add_argument("--model", required=True, help="zoo name (see `python -m bench list models`)")
    parser.add_argument("--split", help="split (default: the task's default split)")
    parser.add_argument("--gpu", default="A100-40GB", help=f"one of: {', '.join(GPU_PEAK_TFLOPS)} (default A100-40GB)")
    parser.add_argument("--utilization", type=float, default=DEFAULT_UTILIZATION,
                        help=f"fraction of the GPU's peak reached on average (default {DEFAULT_UTILIZATION})")
    parser.add_argument("--data-root", help="count the split files in this data root (default: the published sizes)")


def run(args: argparse.Namespace) -> int:
    if args.gpu not in GPU_PEAK_TFLOPS:
        raise CostError(f"unknown --gpu {args.gpu!r}; known: {', '.join(GPU_PEAK_TFLOPS)}")
    if not 0 < args.utilization <= 1:
        raise CostError(f"--utilization must be in (0, 1], got {args.utilization}")
    try:
        estimate = estimate_for(args.task, args.model, args.split, args.data_root)
    except (KeyError, ValueError) as exc:
        hint = did_you_mean(args.model, zoo.names()) if args.model not in zoo.ZOO else ""
        raise CostError(str(exc).strip("'\"") + hint) from exc
    print(format_estimate(estimate, args.gpu, args.utilization))
    return 0
