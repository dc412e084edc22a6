"""``python -m bench regress``: the CI gate; exit 0 (no regression), 1 (a regression, or a partial current run
without --allow-partial) or 2 (anything else).

Exit 1 means a result the gate cannot pass, never a tool problem: a missing metric or a file it could not
read or write is exit 2, and the output paths are checked before any work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.gate import (
    CORRECTIONS,
    DEFAULT_ALPHA,
    HOLM,
    NAMED_BASELINES,
    check_bundle_target,
    resolve_baseline,
    write_bundle,
)
from bench.regress import check_models, compare, load_baseline, to_json, to_markdown, write_baseline
from bench.run_folders import DEFAULT_RUNS_DIR, collect_runs, results_frame
from bench.tolerance import parse_tolerances
from bench.typed_flags import given_flags
from bench.writable import check_output_file, check_output_folder, read_errors, write_errors
from tasks.atomic import atomic_write_text

NAME = "regress"
HELP = "compare current runs with a baseline and print a Markdown report (exit 1 on a regression or a partial run)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--baseline",
        metavar="NAME|PATH",
        help=f"baseline: a packaged bundle by name ({', '.join(NAMED_BASELINES)}: the committed toy models'), a "
        "bundle or runs directory (<run>/<task>-<split>/metrics.json, with samples.jsonl for the "
        "paired rule), a metrics.json, or a CSV (table,model,task,split,subset,metric,value; flat rule)",
    )
    mode.add_argument(
        "--write-baseline", type=Path, metavar="DIR|FILE.csv",
        help="snapshot the current runs: a path ending in .csv gets a CSV of their numbers (flat rule); any other "
        "path a baseline bundle, a folder with each run folder's metrics.json and samples.jsonl (paired rule). "
        "An existing bundle there is replaced; a folder holding anything else is refused",
    )
    parser.add_argument(
        "--runs", type=Path, default=DEFAULT_RUNS_DIR, help=f"current runs (default: {DEFAULT_RUNS_DIR})"
    )
    parser.add_argument(
        "--tolerance",
        action="append",
        metavar="METRIC=DELTA",
        help="allowed drop in points for METRIC, or default=DELTA for all others (default 0; repeatable)",
    )
    parser.add_argument("--model", action="append",
                        help="only the baseline rows of this model (repeatable; default: every model)")
    parser.add_argument(
        "--run",
        help="compare every baseline row with this current run, whatever model the baseline names "
        "(gate a new checkpoint against an old one's numbers; default: each row's own model)",
    )
    parser.add_argument("--output", type=Path,
                        help="also write the report to this file, for a PR comment (default: print only)")
    parser.add_argument("--format", choices=("md", "json"), default="md",
                        help="md (default): a PR comment: the verdict line, the failures and significant changes, "
                        "then every metric in a collapsed <details> block; json: the verdict and every row, for "
                        "scripts")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="compare partial current runs (--limit, skipped images, trimmed annotation files) instead of failing "
        "them with exit 1; they stay marked partial in the report (default: off)",
    )
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="paired rule: a drop beyond the tolerance fails only when its (corrected) p-value is "
                        "below this significance level (0 < alpha < 1)")
    parser.add_argument("--correction", choices=CORRECTIONS, default=HOLM,
                        help="paired rule: the multiple-testing correction across every metric tested so")


# flags that only shape a comparison: with --write-baseline there is none, so giving one is an error
_COMPARE_ONLY = {"tolerance": "--tolerance", "allow_partial": "--allow-partial", "output": "--output",
                 "alpha": "--alpha", "correction": "--correction", "format": "--format"}


def run(args: argparse.Namespace) -> int:
    if args.write_baseline is not None:
        typed = given_flags(args)
        given = [flag for dest, flag in _COMPARE_ONLY.items() if dest in typed]
        if given:
            raise BenchError(f"{', '.join(given)} shape(s) a comparison and cannot be used with --write-baseline, "
                             "which only snapshots the current runs; drop them (or use --baseline)")
    if not 0 < args.alpha < 1:
        raise BenchError(f"--alpha must lie strictly between 0 and 1, got {args.alpha:g}")
    tolerances = parse_tolerances(args.tolerance, 0.0)
    if args.baseline is not None:
        baseline_path, baseline_name = resolve_baseline(args.baseline)
    bundle = args.write_baseline is not None and args.write_baseline.suffix.lower() != ".csv"
    if bundle:
        check_bundle_target(args.write_baseline)
        check_output_folder(args.write_baseline.parent, "--write-baseline")
    for path, flag, example in ((None if bundle else args.write_baseline, "--write-baseline", "baseline.csv"),
                                (args.output, "--output", "report.md")):
        if path is not None:
            check_output_file(path, flag, example)
    with read_errors(args.runs, "--runs"):
        current = results_frame(collect_runs(args.runs))
    if args.write_baseline is not None:
        if args.run is not None:
            current = current[current["run"] == args.run]
        if args.model:
            check_models(args.model, sorted(set(current["run"])), f"the runs in {args.runs}")
            current = current[current["run"].isin(args.model)]
        if bundle:
            return _write_bundle(current, args.write_baseline)
        with write_errors(args.write_baseline, "--write-baseline"):
            count = write_baseline(current, args.write_baseline)
        print(f"wrote {count} baseline metric(s) to {args.write_baseline}")
        return 0
    with read_errors(baseline_path, "--baseline"):
        baseline = load_baseline(baseline_path, args.model)
    if not len(baseline):
        raise BenchError(f"baseline {baseline_name} has no metric to compare")
    result = compare(baseline, current, tolerances, run=args.run, allow_partial=args.allow_partial,
                     alpha=args.alpha, correction=args.correction)
    report = (to_json if args.format == "json" else to_markdown)(result, tolerances, baseline_name)
    sys.stdout.write(report)
    if args.output is not None:
        with write_errors(args.output, "--output"):
            atomic_write_text(args.output, report)
    return result.exit_code


def _write_bundle(current: pd.DataFrame, folder: Path) -> int:
    replacing = folder.is_dir() and any(folder.iterdir())
    with write_errors(folder, "--write-baseline"):
        count, lacking, size = write_bundle(current, folder)
    print(f"{'replaced' if replacing else 'wrote'} the baseline bundle {folder}: {count} run folder(s), "
          f"{size} bytes (metrics.json and samples.jsonl only)")
    if lacking:
        print(f"without samples.jsonl, so gated by the flat rule: {', '.join(lacking)}")
    return 0
