"""``python -m bench paper``: print the BLIP-2 paper's numbers (Tables 2-6) as CSV or Markdown."""

from __future__ import annotations

import argparse
import sys

from bench.errors import BenchError
from bench.paper import PAPER_COLUMNS, is_blip2_row, load_paper_results, paper_csv_text, to_markdown

NAME = "paper"
HELP = "print the BLIP-2 paper's numbers (Tables 2-6, BLIP-2 rows and the compared systems)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("csv", "md"), default="md", help="output format (default: md)")
    parser.add_argument("--table", type=int, action="append",
                        help="only this table number (repeatable; default: every table)")
    parser.add_argument("--blip2-only", action="store_true", help="leave out the compared systems")


def run(args: argparse.Namespace) -> int:
    if not args.table and not args.blip2_only and args.format == "csv":
        sys.stdout.write(paper_csv_text())
        return 0
    frame = load_paper_results()
    if args.table:
        unknown = sorted(set(args.table) - set(frame["table"]))
        if unknown:
            raise BenchError(f"the paper data has no table {unknown[0]}; tables: {sorted(set(frame['table']))}")
        frame = frame[frame["table"].isin(args.table)]
    if args.blip2_only:
        frame = frame[frame["model"].map(is_blip2_row)]
    if args.format == "csv":
        out = frame.assign(value=frame["value_text"])[list(PAPER_COLUMNS)]
        sys.stdout.write(out.to_csv(index=False, lineterminator="\n"))
    else:
        sys.stdout.write(to_markdown(frame))
    return 0
