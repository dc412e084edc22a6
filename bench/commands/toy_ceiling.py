"""``python -m bench toy-ceiling``: the references above the toy numbers (the LLMs given the scene in words,
and the retrieval oracle's R@1 under caption ambiguity)."""

from __future__ import annotations

import argparse

from toyworld.zoo import ZERO_SHOT_MODELS as MODELS

NAME = "toy-ceiling"
HELP = "references for the toy numbers: the toy LLMs given the scene in words, the retrieval oracle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default=None, help="toy data root (default: data/toy, generated when missing)")
    parser.add_argument("--model", default=",".join(MODELS),
                        help=f"comma-separated toy zoo names (default: {','.join(MODELS)})")


def run(args: argparse.Namespace) -> int:
    from bench.model_check import check_llm, model_config
    from toyworld.analyses.ceiling import ceiling_metrics, retrieval_ceiling
    from toyworld.data import ensure_root

    names = args.model.split(",")
    for name in names:  # the kind of each model first: before building the data root or loading weights
        check_llm(name, model_config(name), True, "--model", MODELS[0])
    root = ensure_root(args.data_root)
    for model_name in names:
        for (task, split), metrics in ceiling_metrics(root, model_name).items():
            print(f"{model_name:8s} {task:8s} {split:10s} accuracy {metrics['accuracy']:6.2f}  (scene in words)")
    for task in ("coco_retrieval", "flickr30k"):
        ceiling = retrieval_ceiling(root, task)
        print(f"oracle   {task:14s} TR@1 {ceiling['TR@1']:6.2f}  IR@1 {ceiling['IR@1']:6.2f}  "
              f"(texts true of more than one test image: {ceiling['ambiguous_texts']:.1f} %)")
    return 0
