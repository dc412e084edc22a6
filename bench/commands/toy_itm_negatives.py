"""``python -m bench toy-itm-negatives``: how often stage 1's sampled ITM negatives are true of their image."""

from __future__ import annotations

import argparse

NAME = "toy-itm-negatives"
HELP = "how often ITM's hard negatives are in fact true of their image, in the toy world"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default=None, help="toy data root (default: data/toy, generated when missing)")
    parser.add_argument("--model", default="toy-qformer", help="a stage-1 model: zoo name or folder "
                                                                "(default: toy-qformer)")
    parser.add_argument("--batches", type=int, default=8, help="training batches to sample (default: 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the batch order (default: 0)")


def run(args: argparse.Namespace) -> int:
    from bench.errors import BenchError
    from bench.model_check import check_llm, check_seed, model_config
    from toyworld.analyses.itm_negatives import measure
    from toyworld.data import ensure_root

    check_seed(args.seed)
    if args.batches < 1:
        raise BenchError(f"--batches must be at least 1, not {args.batches}")
    check_llm(args.model, model_config(args.model), False, "--model", "toy-qformer")  # before data or weights
    out = measure(ensure_root(args.data_root), args.model, args.batches, seed=args.seed)
    print(f"{args.model}: of {out['pairs']} ITM pairs per kind, true of the image anyway: "
          f"sampled negative text {out['negative_text_true']:.1f} %, sampled negative image "
          f"{out['negative_image_true']:.1f} %, a uniformly drawn caption {out['random_text_true']:.1f} % "
          f"(ITM loss x100 {out['itm_loss']:.2f}; at its prior 63.65)")
    return 0
