"""``python -m bench toy-ceiling``: the references above the toy numbers (the LLMs given the scene in words,
and the retrieval oracle's R@1 under caption ambiguity); ``--write FILE`` also commits them, with the chance
levels, for the leaderboard (:mod:`bench.toy_references`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from toyworld.zoo import ZERO_SHOT_MODELS as MODELS

NAME = "toy-ceiling"
HELP = "references for the toy numbers: the toy LLMs given the scene in words, the retrieval oracle"
RETRIEVAL_TASKS = ("coco_retrieval", "flickr30k")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default=None, help="toy data root (default: data/toy, generated when missing)")
    parser.add_argument("--model", default=",".join(MODELS),
                        help=f"comma-separated toy zoo names (default: {','.join(MODELS)})")
    parser.add_argument("--scene", choices=("words", "captions"), default="words",
                        help="what each LLM answers from: the scene in words (the text reference), or the zero-shot "
                        "model's own captions of the image, which carry no more than its soft prompt (default: words)")
    parser.add_argument("--write", type=Path, metavar="FILE.json",
                        help="also measure the chance levels (as `bench toy-chance`, seed 0) and write them with "
                        "these references to FILE.json, the file the leaderboard reads "
                        "(bench/data/toy_references.json; default: print only)")


def run(args: argparse.Namespace) -> int:
    from bench import toy_references
    from bench.errors import BenchError
    from bench.model_check import check_llm, model_config
    from bench.writable import check_output_file, write_errors
    from toyworld.analyses.ceiling import ceiling_metrics, retrieval_ceiling
    from toyworld.analyses.chance import chance_metrics
    from toyworld.data import ensure_root

    names = args.model.split(",")
    if args.write is not None and args.scene != "words":
        raise BenchError("--write records the text references (the scene in words); drop --scene captions, or "
                         "--write, to measure the answers from the models' own captions")
    for name in names:  # the kind of each model first: before building the data root or loading weights
        check_llm(name, model_config(name), True, "--model", MODELS[0])
    if args.write is not None:
        check_output_file(args.write, "--write", "toy_references.json")
    root = ensure_root(args.data_root)
    ceilings = {}
    for model_name in names:
        ceilings[model_name] = ceiling_metrics(root, model_name, from_captions=args.scene == "captions")
        for (task, split), metrics in ceilings[model_name].items():
            source = "scene in words" if args.scene == "words" else "scene as its own captions"
            print(f"{model_name:8s} {task:8s} {split:10s} accuracy {metrics['accuracy']:6.2f}  ({source})")
    oracles = {}
    for task in RETRIEVAL_TASKS:
        ceiling = oracles[task] = retrieval_ceiling(root, task)
        print(f"oracle   {task:14s} TR@1 {ceiling['TR@1']:6.2f}  IR@1 {ceiling['IR@1']:6.2f}  "
              f"(texts true of more than one test image: {ceiling['ambiguous_texts']:.1f} %)")
    if args.write is not None:
        references = toy_references.build(root, ceilings, oracles, chance_metrics(root, seed=0))
        with write_errors(args.write, "--write"):
            toy_references.write(references, args.write)
        print(f"wrote {args.write}: {len(references.chance)} chance levels, {len(references.reference)} references")
    return 0
