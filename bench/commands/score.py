"""``python -m bench score``: score a predictions file made by any model against a task split."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import tasks
from bench.writable import check_output_file, write_errors
from tasks.atomic import atomic_write_json, atomic_write_text
from tasks.errors import TaskError
from tasks.formats.predictions import (
    read_caption_predictions,
    read_gqa_predictions,
    read_itc_scores,
    read_retrieval_scores,
    read_vqa_predictions,
)
from tasks.scorers import DEFAULT_VQA_SCORER, LEMMATIZE_OPTION, VQA_SCORER_OPTION, VQA_SCORERS
from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED

NAME = "score"
HELP = "score a predictions file against a task split and print one JSON result"

_READERS = {
    "vqa": read_vqa_predictions,
    "gqa": read_gqa_predictions,
    "caption": read_caption_predictions,
    "retrieval": read_retrieval_scores,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help=f"one of: {', '.join(tasks.names())}")
    parser.add_argument("--split", help="split name (default: the task's default split)")
    parser.add_argument(
        "--predictions",
        required=True,
        type=Path,
        help='VQA [{"question_id","answer"}]; GQA [{"questionId","prediction"}]; captions '
        '[{"image_id","caption"}]; retrieval .npz with i2t [images x texts] and t2i [texts x images]',
    )
    parser.add_argument("--data-root", help="data root (default: $BLIP2_DATA, else ./data)")
    parser.add_argument(
        "--vqa-scorer",
        choices=VQA_SCORERS,
        help=f"VQA accuracy variant for vqav2/okvqa (default: {DEFAULT_VQA_SCORER}, which reproduces the paper)",
    )
    parser.add_argument(
        "--lemmatize",
        action="store_true",
        help="lemmatize VQA answers with spaCy en_core_web_sm first, as BLIP-2 did for OK-VQA",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="score only the ids that have predictions (the result is marked partial)",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="score empty answers as wrong and report them, as `bench run` does for a model's empty generations",
    )
    parser.add_argument(
        "--itc-only",
        action="store_true",
        help="retrieval: rank by the run's raw ITC similarities ('itc' in its scores.npz), without ITM re-ranking",
    )
    parser.add_argument("--output", type=Path,
                        help="also write the JSON result to this file, atomically (default: print only)")
    parser.add_argument("--samples", type=Path,
                        help="also write each sample's own score next to its prediction, as JSON lines (the "
                             "samples.jsonl of a run folder; default: not written)")
    parser.add_argument("--bootstrap-iters", type=int, default=DEFAULT_RESAMPLES,
                        help="bootstrap resamples behind each metric's 95%% interval (ci95); 0 switches them off")
    parser.add_argument("--bootstrap-seed", type=int, default=DEFAULT_SEED,
                        help="seed of the bootstrap resamples (the intervals are deterministic for a seed)")


def run(args: argparse.Namespace) -> int:
    task = tasks.get(args.task)
    for path, flag, example in ((args.output, "--output", "scores.json"),
                                (args.samples, "--samples", "samples.jsonl")):
        if path is not None:
            check_output_file(path, flag, example)
    for flag, value in (("--bootstrap-iters", args.bootstrap_iters), ("--bootstrap-seed", args.bootstrap_seed)):
        if value < 0:
            raise TaskError(f"{flag} must be an integer >= 0, got {value}")
    _check_flags(args, task)
    loaded = task.load(tasks.resolve_data_root(args.data_root), args.split, check_images=False)
    if not loaded.has_answers:
        count = task.validate_submission(args.predictions, loaded)
        raise TaskError(
            f"{task.name} {loaded.split} has no public answers, so it cannot be scored locally; "
            f"{args.predictions} is a valid EvalAI submission covering all {count} questions: upload it to "
            "the VQA Challenge on EvalAI (https://visualqa.org/challenge.html)"
        )
    reader = read_itc_scores if args.itc_only else _READERS[task.prediction_format]
    predictions = reader(args.predictions)
    result, samples = task.score_with_samples(
        predictions,
        loaded,
        vqa_scorer=args.vqa_scorer or DEFAULT_VQA_SCORER,
        lemmatize=args.lemmatize,
        allow_partial=args.allow_partial,
        allow_empty=args.allow_empty,
        resamples=args.bootstrap_iters,
        seed=args.bootstrap_seed,
    )
    result = _plain(result)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.output is not None:
        with write_errors(args.output, "--output"):
            atomic_write_json(args.output, result)
        print(f"wrote {args.output}", file=sys.stderr)
    if args.samples is not None:
        with write_errors(args.samples, "--samples"):
            atomic_write_text(args.samples, "".join(json.dumps(_plain(r), ensure_ascii=False) + "\n" for r in samples))
        print(f"wrote {args.samples}", file=sys.stderr)
    return 0


def _check_flags(args: argparse.Namespace, task: tasks.Task) -> None:
    """A flag the task's scorer does not use is an error naming both, never silently ignored."""
    retrieval = task.prediction_format == "retrieval"
    for name, given, applies, which in (
        ("--vqa-scorer", args.vqa_scorer is not None, task.scorer.takes(VQA_SCORER_OPTION),
         "the VQA-accuracy tasks (vqav2, okvqa)"),
        ("--lemmatize", args.lemmatize, task.scorer.takes(LEMMATIZE_OPTION), "the VQA-accuracy tasks (vqav2, okvqa)"),
        ("--itc-only", args.itc_only, retrieval, "the retrieval tasks"),
        ("--allow-partial", args.allow_partial, not retrieval, "the VQA and captioning tasks"),
        ("--allow-empty", args.allow_empty, not retrieval, "the VQA and captioning tasks"),
    ):
        if given and not applies:
            raise TaskError(f"{name} applies to {which}, not {task.name}")


def _plain(value: Any) -> Any:
    """Convert numpy scalars so the result is strict JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
