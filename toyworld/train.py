"""`bench train --recipe toy-backbones | toy | toy-findings`: the toy world's training, from the command line.

Each generates the toy data root if it is missing. `toy-backbones` trains the frozen backbones and commits
them (`toyworld/backbones/weights/`); `toy` rebuilds every toy BLIP-2 checkpoint on them (stage 1, stage 2,
fine-tuning) and writes the zoo's committed weights (`toyworld/models/`). `toy-findings` trains and
evaluates the paper's two ablations in miniature (`toyworld.analyses.findings`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from toyworld.analyses.findings import Compare, Evaluate
from toyworld.backbones import TRAINED as TRAINED_BACKBONES
from toyworld.backbones import backbones_named
from toyworld.data import ensure_root
from toyworld.errors import ToyError

if TYPE_CHECKING:
    from toyworld.build import ToyBuild

TOY_RECIPES = ("toy-backbones", "toy", "toy-findings")
KNOWN = {"scale", "export", "only"}
# The build whose weights are committed in toyworld/models/ (its toy_build.json, copied here with them).
REFERENCE_BUILD = Path("results/toy_build.json")


def run_toy(recipe: str, data_root: str | None, output: Path, overrides: dict, evaluate: Evaluate,
            compare: Compare, quiet: bool = False) -> int:
    """Run the toy build (or the findings); `--set scale=0.1` shortens every step, `--set export=false`
    leaves the committed weights alone."""
    from toyworld.backbones import WEIGHTS_DIR
    from toyworld.build import build_backbones, build_toy, default_export_root
    from toyworld.reproduce import read_reference

    known = KNOWN if recipe == "toy-backbones" else KNOWN - {"only"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ToyError(f"--recipe {recipe} takes only --set {', '.join(sorted(known))}; got {unknown}")
    only = backbones_named(overrides.get("only", list(TRAINED_BACKBONES)))
    # a broken build record fails now, not after a 15-minute build
    reference = read_reference(REFERENCE_BUILD) if recipe == "toy" else None
    root = ensure_root(data_root)
    scale = float(overrides.get("scale", 1.0))
    start = time.perf_counter()
    if recipe == "toy-findings":
        from toyworld.analyses.findings import run_findings

        findings = run_findings(root, output, evaluate, compare, scale=scale, progress=not quiet)
        print(json.dumps(findings, indent=2))
        return 0
    export = bool(overrides.get("export", True))
    if recipe == "toy-backbones":
        build = build_backbones(root, output, scale=scale, export_root=WEIGHTS_DIR if export else None,
                                progress=not quiet, only=only)
        _print_steps(build)
        print(f"toy backbones: {time.perf_counter() - start:.0f} s; report {output / 'toy_backbones_build.json'}; "
              + (f"committed to {WEIGHTS_DIR} (rebuild the toy models on them: --recipe toy)" if export else
                 f"not exported (--set export=false): the backbones are in {output / 'toy_backbones'}"))
        return 0
    build = build_toy(root, output, scale=scale, export_root=default_export_root() if export else None,
                      progress=not quiet)
    _print_steps(build)
    _report_reproduction(build, reference)
    print(f"toy build: {time.perf_counter() - start:.0f} s; report {output / 'toy_build.json'}"
          + (f"; weights exported to {default_export_root()}" if export else
             f"; not exported (--set export=false): the models are in {output}/<recipe>/model"))
    return 0


def _print_steps(build: ToyBuild) -> None:
    for name, seconds in build.seconds.items():
        loss = build.final_loss.get(name)
        print(f"{name:>20}: {seconds:7.1f} s" + (f"  final loss {loss:.4f}" if loss is not None else ""))


def _report_reproduction(build: ToyBuild, reference: tuple[float, dict[str, list[float]]] | None) -> None:
    """Say whether this build retraced the committed one, step by step, and reproduced its weights."""
    from toyworld.reproduce import compare_traces

    for name, verdict in build.replaced_weights.items():
        print(f"{name:>20}: weights vs the ones replaced: {verdict}")
    if reference is None or reference[0] != build.scale:
        why = f"no {REFERENCE_BUILD}" if reference is None else f"{REFERENCE_BUILD} is at scale {reference[0]:g}"
        print(f"loss traces not compared ({why})")
        return
    for name, verdict in compare_traces(reference[1], build.losses).items():
        print(f"{name:>20}: loss trace vs {REFERENCE_BUILD}: {verdict}")
