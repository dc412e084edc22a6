"""``python -m bench leaderboard``: our runs beside the paper's numbers, as CSV, Markdown and a plot."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import toy_references
from bench.leaderboard import DEFAULT_TOLERANCE, build_leaderboard, write_leaderboard
from bench.paper import load_paper_results
from bench.run_folders import DEFAULT_RUNS_DIR, collect_runs, results_frame
from bench.tolerance import parse_tolerances
from bench.writable import check_output_folder, write_errors

NAME = "leaderboard"
HELP = "gather run folders into leaderboard.csv/.md/.png beside the paper's numbers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs", type=Path, default=DEFAULT_RUNS_DIR, help=f"runs directory (default: {DEFAULT_RUNS_DIR})"
    )
    parser.add_argument("--out", type=Path, default=Path("results"), help="output directory (default: results)")
    parser.add_argument(
        "--tolerance",
        action="append",
        metavar="METRIC=DELTA",
        help=f"|ours - paper| allowed for 'reproduced', in points; default={DEFAULT_TOLERANCE} for every metric "
        "not named (repeatable, e.g. --tolerance CIDEr=1.5 --tolerance default=0.3)",
    )


def run(args: argparse.Namespace) -> int:
    tolerances = parse_tolerances(args.tolerance, DEFAULT_TOLERANCE)
    check_output_folder(args.out, "--out")
    frame = build_leaderboard(load_paper_results(), results_frame(collect_runs(args.runs)), tolerances)
    references = toy_references.load()  # the toy chance levels and references, committed beside the paper's numbers
    with write_errors(args.out, "--out"):
        written = write_leaderboard(frame, args.out, tolerances, references)
    for path in written:
        print(f"wrote {path}")
    counts = frame["status"].value_counts()
    print(", ".join(f"{status}: {count}" for status, count in counts.items()))
    return 0
