"""The paper's two ablations, in miniature, on the toy world (`bench train --recipe toy-findings`).

- Figure 5: stage 2 without stage-1 representation learning (the Q-Former starts from scratch)
  against the normal stage 2, compared on zero-shot VQA, for the OPT and the T5 LLM.
- Table 6: retrieval after stage 1 + fine-tuning with ITC + ITM only, against ITC + ITM + ITG.
- Table 5's mechanism: the same retrieval model ranking by ITC alone (k=1: ITC's top candidate is kept,
  so R@1 is ITC's), against re-ranking ITC's top 128 with ITM (the paper's k=128).

The ablated models are trained with the toy recipes and only the ablated field changed; the reference
models are the `bench train --recipe toy` outputs in the same training folder. Each finding is a paired
difference between the two models on the same test samples, with its bootstrap interval and p-value (the
comparison `bench compare` makes). Results go to `results/toy-findings.{json,md}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tasks.atomic import atomic_write_text
from tasks.stats.resample import format_p
from toyworld.errors import ToyError

FIG5_TASKS = ["vqav2", "okvqa", "gqa"]
TABLE6_TASKS = ["coco_retrieval", "flickr30k"]
RESULTS = Path("results")


# Evaluates a model folder on tasks under a run name, in a runs folder, and returns each task's run folder; and
# compares two run folders of one task (B against A, paired on their shared samples: `bench compare`'s JSON). The
# command line passes its runner and its comparison here; the toy world does not import `bench`.
Evaluate = Callable[..., dict[str, Path]]  # (model, name, tasks, runs, overrides=None)
Compare = Callable[[Path, Path], dict]

FIG5_METRICS = ["accuracy"]
TABLE6_METRICS = ["TR@1", "TR@5", "IR@1", "IR@5"]
TABLE5_METRICS = ["TR@1", "IR@1"]  # with k=1 only rank 1 is ITC's: the rest are not candidates
TRAINING_SEEDS = 1
SEEDS_NOTE = (
    "The intervals and p-values resample the test set only (images for VQA, queries for retrieval), with both "
    "models fixed. They leave out the variance between training seeds: another seed of the same recipe gives "
    "other weights and other numbers. Each ablation here was trained with one seed (seed 0), not 3: a toy build "
    "plus its ablations takes about half an hour of 2 CPU cores per seed (docs/toy-models.md gives the measured "
    "times), which this budget did not allow 3 times, so a difference below is a difference between two trained "
    "models, not yet between two recipes."
)


def run_findings(data_root: Path, output_root: Path, evaluate: Evaluate, compare: Compare, *, scale: float = 1.0,
                 progress: bool = True, results: Path = RESULTS) -> dict:
    """Train the ablated toy models, evaluate them beside the reference toy models, compare them pairwise
    on the same test samples, and write the summary."""
    import os

    from toyworld.build import ToyBuild, train_toy_recipe

    os.environ.setdefault("BLIP2_DATA", str(data_root))
    runs = output_root / "findings-runs"
    build = ToyBuild()
    refs = {name: output_root / name / "model" for name in ("toy_stage2_opt", "toy_stage2_t5", "toy_retrieval")}
    missing = [str(p) for p in refs.values() if not p.is_dir()]
    if missing:
        raise ToyError(f"run `python -m bench train --recipe toy --output {output_root}` first: {missing}")
    findings: dict = {"figure5": {}, "table6": {}, "training_seeds": TRAINING_SEEDS, "note": SEEDS_NOTE,
                      "seconds": build.seconds}
    for family in ("opt", "t5"):
        ablated = train_toy_recipe(f"toy_stage2_{family}", data_root, output_root, scale, build, progress,
                                   name=f"toy_stage2_{family}_no_stage1", init_from=None)
        with_stage1 = evaluate(refs[f"toy_stage2_{family}"], f"toy-{family}", FIG5_TASKS, runs)
        without = evaluate(ablated, f"toy-{family}-no-stage1", FIG5_TASKS, runs)
        findings["figure5"][family] = {task: _paired(compare(without[task], with_stage1[task]), FIG5_METRICS)
                                       for task in FIG5_TASKS}
    itc_itm = ["itc", "itm"]
    train_toy_recipe("toy_stage1", data_root, output_root, scale, build, progress, name="toy_stage1_no_itg",
                     objectives=itc_itm)
    ablated = train_toy_recipe("toy_retrieval", data_root, output_root, scale, build, progress,
                               name="toy_retrieval_no_itg", init_from="recipe:toy_stage1_no_itg",
                               objectives=itc_itm)
    full = evaluate(refs["toy_retrieval"], "toy-qformer-coco", TABLE6_TASKS, runs)
    no_itg = evaluate(ablated, "toy-qformer-coco-no-itg", TABLE6_TASKS, runs)
    findings["table6"] = {task: _paired(compare(no_itg[task], full[task]), TABLE6_METRICS) for task in TABLE6_TASKS}
    itc_only = evaluate(refs["toy_retrieval"], "toy-qformer-coco-itc-only", TABLE6_TASKS, runs, {"k_test": 1})
    findings["table5"] = {task: _paired(compare(itc_only[task], full[task]), TABLE5_METRICS)
                          for task in TABLE6_TASKS}
    results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(results / "toy-findings.json", json.dumps(findings, indent=2) + "\n")
    atomic_write_text(results / "toy-findings.md", to_markdown(findings))
    return findings


def _paired(comparison: dict, metrics: list[str]) -> dict:
    """The top-level metrics of a comparison: ``{metric: {"a", "b", "delta", "ci95", "p_value"}}``."""
    missing = [m for m in metrics if m not in comparison["metrics"]]
    if missing:
        raise ToyError(f"the comparison has no {', '.join(missing)}; its metrics: {sorted(comparison['metrics'])}")
    return {m: comparison["metrics"][m] for m in metrics}


def _row(cells: dict) -> str:
    """``a | b | Δ | [low, high] | p`` of one paired metric."""
    low, high = cells["ci95"]
    return (f"{cells['a']:.2f} | {cells['b']:.2f} | {cells['delta']:+.2f} | [{low:+.2f}, {high:+.2f}] | "
            f"{format_p(cells['p_value'])}")


def to_markdown(findings: dict) -> str:
    """The two ablations as paired differences, each with its 95% interval and p-value."""
    lines = ["# The paper's findings, in miniature (toy world)\n",
             "Made by `python -m bench train --recipe toy-findings` after `python -m bench train --recipe toy`. "
             "Each row compares two models on the same test samples (`python -m bench compare RUN_A RUN_B` on "
             "their run folders): Δ = B − A with its paired 95% bootstrap interval and two-sided p-value.\n",
             f"**Training seeds.** {findings['note']}\n",
             "## Figure 5: stage 2 with and without stage-1 representation learning (zero-shot accuracy)\n",
             "A = without stage 1, B = with stage 1.\n",
             "| LLM | task | without stage 1 | with stage 1 | Δ | 95% CI | p |",
             "|---|---|---:|---:|---:|---|---:|"]
    for family, by_task in findings["figure5"].items():
        for task, metrics in by_task.items():
            lines.append(f"| toy-{family} | {task} | " + _row(metrics["accuracy"]) + " |")
    lines += ["\n## Table 6: retrieval fine-tuning objectives\n",
              "A = ITC+ITM, B = ITC+ITM+ITG (the paper's finding: ITG helps retrieval).\n",
              "| task | metric | ITC+ITM | ITC+ITM+ITG | Δ | 95% CI | p |", "|---|---|---:|---:|---:|---|---:|"]
    for task, metrics in findings["table6"].items():
        for metric, cells in metrics.items():
            lines.append(f"| {task} | {metric} | " + _row(cells) + " |")
    lines += ["\n## Table 5's mechanism: ITC ranking against ITM re-ranking\n",
              "One model (toy-qformer-coco). A = ITC alone (k=1: rank 1 is ITC's best), B = ITC's top 128 "
              "re-ranked by ITM (the paper's k=128).\n",
              "| task | metric | ITC only | ITM re-ranked | Δ | 95% CI | p |", "|---|---|---:|---:|---:|---|---:|"]
    for task, metrics in findings.get("table5", {}).items():
        for metric, cells in metrics.items():
            lines.append(f"| {task} | {metric} | " + _row(cells) + " |")
    return "\n".join(lines) + "\n"
