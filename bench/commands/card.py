"""``python -m bench card RUN_FOLDERS...``: put run results into a Hugging Face model card's ``model-index``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bench.errors import BenchError
from bench.writable import check_output_file, read_errors, write_errors

NAME = "card"
HELP = "write or update the model-index (evaluation results) of a Hugging Face model card from run folders"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_FOLDER",
                        help="run folders: <runs>/<run>/<task>-<split> (one result) or <runs>/<run> (all of them)")
    parser.add_argument("--model-id", help="the Hub repo id the card belongs to (org/name): the model-index name of a "
                                           "new card and the results' source URL, https://huggingface.co/ID "
                                           "(default: none; the card's own model-index name, else the run's name)")
    parser.add_argument("--source-url", help="the URL given as the results' source (default: the --model-id page)")
    parser.add_argument("--output", type=Path, default=Path("README.md"),
                        help="the model card to update in place, or to create")
    parser.add_argument("--allow-partial", action="store_true",
                        help="accept partial runs (--limit, skipped images, trimmed files); the entry says so "
                             "(default: refused)")
    parser.add_argument("--allow-toy", action="store_true",
                        help="accept runs on the toy data root; the entry says so (default: refused)")


def run(args: argparse.Namespace) -> int:
    from bench.card import eval_results, read_runs
    from bench.card_file import model_index_name, update_card
    from tasks.atomic import atomic_write_text

    if args.model_id is not None and not HUB_ID.match(args.model_id):
        raise BenchError(f"--model-id {args.model_id!r} is not a Hub repo id of the form org/name")
    source_url = args.source_url or (f"https://huggingface.co/{args.model_id}" if args.model_id else None)
    if source_url is None:
        raise BenchError("give --model-id (the Hub repo id of the card; its page is the results' source URL) or "
                         "--source-url")
    if not re.match(r"^https?://\S+$", source_url):
        raise BenchError(f"--source-url {source_url!r} is not an http(s) URL")
    check_output_file(args.output, "--output", example="README.md")
    runs = read_runs(args.runs, allow_partial=args.allow_partial, allow_toy=args.allow_toy)
    content = ""
    if args.output.exists():
        with read_errors(args.output, "--output"):
            raw = args.output.read_bytes()
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BenchError(f"--output {args.output}: not UTF-8 text ({exc.reason} at byte {exc.start}); a model "
                             "card is a UTF-8 README.md") from None
    name = model_index_name(content, str(args.output)) or args.model_id or runs[0].result.run
    ours = eval_results(runs, source_url)
    if not ours:
        raise BenchError(f"the run folders hold no scored metric ({', '.join(map(str, args.runs))})")
    new = update_card(content, name, ours, str(args.output))
    with write_errors(args.output, "--output"):
        atomic_write_text(args.output, new)
    verb = "updated" if content else "wrote"
    print(f"{verb} {args.output}: {len(ours)} results from {len(runs)} run folder(s) under model-index "
          f"name {model_index_name(new, str(args.output))!r}")
    return 0
