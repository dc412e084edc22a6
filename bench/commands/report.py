"""``python -m bench report [RUN_FOLDERS...] --output DIR``: a static HTML report of run folders.

The report opens from ``file://`` in any browser, with no server and no network: an index with the leaderboard
and one card per run, a page per run with its metrics, intervals, breakdowns and a sample browser, and a compare
page per pair of runs of one task and split (docs/report.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import BenchError
from bench.report.thumbnails import DEFAULT_BUDGET_MB, THUMBNAIL_PX
from bench.run_folders import DEFAULT_RUNS_DIR
from bench.typed_flags import given_flags
from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED

NAME = "report"
HELP = "write a static HTML report of run folders (index, run pages with a sample browser, compare pages)"
DEFAULT_OUTPUT = Path("results/report")
COMPARE_FLAGS = ("bootstrap_iters", "bootstrap_seed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="*", type=Path, metavar="RUN_FOLDERS",
                        help="run folders <runs>/<run>/<task>-<split>, runs' folders <runs>/<run> or runs "
                             f"directories (default: {DEFAULT_RUNS_DIR})")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="the report's folder: new, empty, or an earlier report, which is replaced")
    parser.add_argument("--data-root", type=Path,
                        help="where the runs' question files and images are (default: the data root each run "
                             "recorded; without one the browser shows the records, with no questions or images)")
    compare = parser.add_mutually_exclusive_group()
    compare.add_argument("--compare", nargs=2, action="append", type=Path, metavar=("RUN_A", "RUN_B"),
                         help="make a compare page for these two run folders of one task and split (repeatable; "
                              "default: one for every pair of the report's runs of one task and split)")
    compare.add_argument("--no-compare", action="store_true", help="make no compare page")
    parser.add_argument("--thumbnail-budget-mb", type=float, default=DEFAULT_BUDGET_MB,
                        help=f"most MiB of {THUMBNAIL_PX}-px JPEG thumbnails in the report; past it, samples show "
                             "none (0: no thumbnails)")
    parser.add_argument("--bootstrap-iters", type=int, default=DEFAULT_RESAMPLES,
                        help="paired bootstrap resamples behind each compare page's intervals and p-values")
    parser.add_argument("--bootstrap-seed", type=int, default=DEFAULT_SEED,
                        help="seed of those resamples (a report is deterministic for a seed)")


def run(args: argparse.Namespace) -> int:
    from bench.report import ReportOptions, build_report

    if args.no_compare:
        unused = [flag for flag in given_flags(args) if flag in COMPARE_FLAGS]
        if unused:
            raise BenchError(f"--{unused[0].replace('_', '-')} sets the compare pages' bootstrap, but --no-compare "
                             "makes none; drop one of the two")
    if args.bootstrap_seed < 0:
        raise BenchError(f"--bootstrap-seed must be an integer >= 0, got {args.bootstrap_seed}")
    options = ReportOptions(
        data_root=args.data_root,
        compare=[] if args.no_compare else ([(a, b) for a, b in args.compare] if args.compare else None),
        thumbnail_budget_mb=args.thumbnail_budget_mb,
        bootstrap_iters=args.bootstrap_iters,
        bootstrap_seed=args.bootstrap_seed,
    )
    if args.data_root is not None and not args.data_root.is_dir():
        raise BenchError(f"--data-root {args.data_root}: no such folder; give the data root the runs read")
    summary = build_report(args.runs or [DEFAULT_RUNS_DIR], args.output, options)
    for note in summary.notes:
        print(f"note: {note}")
    print(f"wrote the report of {summary.runs} run(s) and {summary.comparisons} comparison(s) to {summary.output} "
          f"({summary.bytes / 2**20:.1f} MiB)")
    print(f"open {summary.index.resolve().as_uri()}")
    return 0
