"""The paper's two ablations, in miniature, on the toy world (`bench train --recipe toy-findings`).

- Figure 5: stage 2 without stage-1 representation learning (the Q-Former starts from scratch)
  against the normal stage 2, compared on zero-shot VQA, for the OPT and the T5 LLM.
- Table 6: retrieval after stage 1 + fine-tuning with ITC + ITM only, against ITC + ITM + ITG.

The ablated models are trained with the toy recipes and only the ablated field changed; the reference
models are the `bench train --recipe toy` outputs in the same training folder. Results go to
`results/toy-findings.{json,md}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from toyworld.errors import ToyError

FIG5_TASKS = ["vqav2", "okvqa", "gqa"]
TABLE6_TASKS = ["coco_retrieval", "flickr30k"]
RESULTS = Path("results")


# Evaluates a model folder on tasks under a run name, in a runs folder: {task: {metric: value}}. The
# command line passes its runner here; the toy world does not import `bench`.
Evaluate = Callable[[Path, str, list[str], Path], dict[str, dict]]


def run_findings(data_root: Path, output_root: Path, evaluate: Evaluate, *, scale: float = 1.0,
                 progress: bool = True, results: Path = RESULTS) -> dict:
    """Train the ablated toy models, evaluate them beside the reference toy models, write the summary."""
    import os

    from toyworld.build import ToyBuild, train_toy_recipe

    os.environ.setdefault("BLIP2_DATA", str(data_root))
    runs = output_root / "findings-runs"
    build = ToyBuild()
    refs = {name: output_root / name / "model" for name in ("toy_stage2_opt", "toy_stage2_t5", "toy_retrieval")}
    missing = [str(p) for p in refs.values() if not p.is_dir()]
    if missing:
        raise ToyError(f"run `python -m bench train --recipe toy --output {output_root}` first: {missing}")
    findings: dict = {"figure5": {}, "table6": {}, "seconds": build.seconds}
    for family in ("opt", "t5"):
        ablated = train_toy_recipe(f"toy_stage2_{family}", data_root, output_root, scale, build, progress,
                                   name=f"toy_stage2_{family}_no_stage1", init_from=None)
        findings["figure5"][family] = {
            "with stage 1": evaluate(refs[f"toy_stage2_{family}"], f"toy-{family}", FIG5_TASKS, runs),
            "without stage 1": evaluate(ablated, f"toy-{family}-no-stage1", FIG5_TASKS, runs),
        }
    itc_itm = ["itc", "itm"]
    train_toy_recipe("toy_stage1", data_root, output_root, scale, build, progress, name="toy_stage1_no_itg",
                     objectives=itc_itm)
    ablated = train_toy_recipe("toy_retrieval", data_root, output_root, scale, build, progress,
                               name="toy_retrieval_no_itg", init_from="recipe:toy_stage1_no_itg",
                               objectives=itc_itm)
    findings["table6"] = {
        "ITC+ITM+ITG": evaluate(refs["toy_retrieval"], "toy-qformer-coco", TABLE6_TASKS, runs),
        "ITC+ITM": evaluate(ablated, "toy-qformer-coco-no-itg", TABLE6_TASKS, runs),
    }
    results.mkdir(parents=True, exist_ok=True)
    (results / "toy-findings.json").write_text(json.dumps(findings, indent=2) + "\n")
    (results / "toy-findings.md").write_text(to_markdown(findings))
    return findings


def to_markdown(findings: dict) -> str:
    """The two ablation tables, in the paper's layout."""
    lines = ["# The paper's findings, in miniature (toy world)\n",
             "Made by `python -m bench train --recipe toy-findings` after `python -m bench train --recipe toy`.\n",
             "## Figure 5: stage 2 with and without stage-1 representation learning (zero-shot accuracy)\n",
             "| LLM | stage 1 | " + " | ".join(FIG5_TASKS) + " |", "|---|---|" + "---:|" * len(FIG5_TASKS)]
    for family, rows in findings["figure5"].items():
        for label, metrics in rows.items():
            cells = [f"{metrics.get(t, {}).get('accuracy', float('nan')):.2f}" for t in FIG5_TASKS]
            lines.append(f"| toy-{family} | {label} | " + " | ".join(cells) + " |")
    metrics = ["TR@1", "TR@5", "IR@1", "IR@5"]
    lines += ["\n## Table 6: retrieval fine-tuning objectives\n",
              "| objectives | task | " + " | ".join(metrics) + " |", "|---|---|" + "---:|" * len(metrics)]
    for label, by_task in findings["table6"].items():
        for task, values in by_task.items():
            lines.append(f"| {label} | {task} | " + " | ".join(f"{values[m]:.2f}" for m in metrics) + " |")
    return "\n".join(lines) + "\n"
