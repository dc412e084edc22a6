"""``python -m bench toy-position-probe``: which word a toy LLM reads to say where an object is
(:mod:`toyworld.analyses.position_probe`)."""

from __future__ import annotations

import argparse

from toyworld.zoo import ZERO_SHOT_MODELS as MODELS

NAME = "toy-position-probe"
HELP = "which word of the scene in words a toy LLM reads to say where an object is"
ROWS = (("accuracy", "accuracy"), ("true_axis", "on the true place's axis"),
        ("axis_its_preposition_names", "on the axis its preposition names"),
        ("right_side_given_axis", "right side, given the right axis"),
        ("one_object_accuracy", "accuracy, one-object scenes"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", default=None, help="toy data root (default: data/toy, generated when missing)")
    parser.add_argument("--model", default=",".join(MODELS),
                        help=f"comma-separated toy zoo names (default: {','.join(MODELS)})")


def run(args: argparse.Namespace) -> int:
    from bench.model_check import check_llm, model_config
    from toyworld.analyses.position_probe import CONDITIONS, probe_model
    from toyworld.data import ensure_root

    names = args.model.split(",")
    for name in names:  # the kind of each model first: before building the data root or loading weights
        check_llm(name, model_config(name), True, "--model", MODELS[0])
    root = ensure_root(args.data_root)
    for name in names:
        result = probe_model(root, name)
        n = result[CONDITIONS[0]]["questions"]
        print(f"{name}: 'where is the <colour> <shape>?' from the scene in words ({n} questions), % of answers")
        print(f"  {'':36s} " + "  ".join(f"{c:>20s}" for c in CONDITIONS))
        for key, label in ROWS:
            print(f"  {label:36s} " + "  ".join(f"{result[c][key]:20.1f}" for c in CONDITIONS))
    return 0
