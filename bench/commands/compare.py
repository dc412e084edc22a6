"""``python -m bench compare RUN_A RUN_B``: is run B's difference from run A real, metric by metric?

Both runs are recomputed on the samples they share and resampled together (a paired bootstrap), so the report
gives each metric's Δ = B − A with its 95% interval and a two-sided p-value, plus the samples that changed most.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.compare_report import compare_runs, to_markdown
from bench.errors import BenchError
from bench.writable import check_output_file, read_errors, write_errors
from tasks.atomic import atomic_write_text
from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED

NAME = "compare"
HELP = "compare two runs of one task and split on their shared samples: Δ, paired 95%% interval, p-value"
FORMATS = ("md", "json")
DEFAULT_TOP = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", type=Path, metavar="RUN_A",
                        help="run folder <runs>/<run>/<task>-<split> (with metrics.json and samples.jsonl): A")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="run folder of the same task and split: B")
    parser.add_argument("--format", choices=FORMATS, default="md", help="Markdown page or JSON object")
    parser.add_argument("--output", type=Path, help="also write the report to this file (default: print only)")
    parser.add_argument("--bootstrap-iters", type=int, default=DEFAULT_RESAMPLES,
                        help="paired bootstrap resamples behind each interval and p-value (at least 1)")
    parser.add_argument("--bootstrap-seed", type=int, default=DEFAULT_SEED,
                        help="seed of the resamples (the report is deterministic for a seed)")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP,
                        help="how many of the samples that changed most to list per kind of change (0: none)")


def run(args: argparse.Namespace) -> int:
    if args.bootstrap_iters < 1:
        raise BenchError(f"--bootstrap-iters must be at least 1, got {args.bootstrap_iters}")
    for flag, value in (("--bootstrap-seed", args.bootstrap_seed), ("--top", args.top)):
        if value < 0:
            raise BenchError(f"{flag} must be an integer >= 0, got {value}")
    if args.output is not None:
        check_output_file(args.output, "--output", f"compare.{args.format}")
    with read_errors(args.run_a, "RUN_A"), read_errors(args.run_b, "RUN_B"):
        report = compare_runs(args.run_a, args.run_b, args.bootstrap_iters, args.bootstrap_seed, args.top)
    text = json.dumps(report, indent=1, ensure_ascii=False) + "\n" if args.format == "json" else to_markdown(report)
    sys.stdout.write(text)
    if args.output is not None:
        with write_errors(args.output, "--output"):
            atomic_write_text(args.output, text)
    return 0
