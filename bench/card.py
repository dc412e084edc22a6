"""Run folders -> the ``model-index`` evaluation results of a Hugging Face model card.

The Hub shows a model's results, and leaderboards read them, from the ``model-index`` block of its
README.md. Each result is built as huggingface_hub's own ``EvalResult``, so what we write is what the Hub's
parser reads back. What each field holds (documented in docs/model-cards.md):

- task: the Hub task type of the task's kind (:data:`TASK_TYPES`);
- dataset: ``type`` is our registry's task name (``vqav2``, ``coco_caption``, ...: stable and documented in
  docs/tasks.md; it is not a Hub dataset id, and we invent none), ``name`` the dataset's usual name, ``split``
  our split name;
- metric: ``type`` the metric's id (:data:`METRIC_TYPES`), ``name`` our metric key (with the NoCaps domain or
  the VQA answer type in brackets), ``value`` on the paper's 0-100 scale, ``config`` the scorer that computed
  it, ``args.ci95`` the 95% interval ``[low, high]`` when the run recorded one (``ci95`` in metrics.json);
- source: ``name`` is "blip2-bench <version>", which is how an update knows the entries it wrote before.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult

import blip2
import tasks
from bench.errors import BenchError
from bench.run_folders import RunResult, flatten_metrics, read_metrics_json
from tasks.coverage import TOY_ROOT

SOURCE_NAME = "blip2-bench"
DIGITS = 2  # values and intervals are rounded to this many decimals (the paper prints one)
# task kind -> (Hub task type, its pretty name)
TASK_TYPES: dict[str, tuple[str, str]] = {
    "vqa": ("visual-question-answering", "Visual Question Answering"),
    "caption": ("image-to-text", "Image Captioning"),
    "retrieval": ("image-text-retrieval", "Image-Text Retrieval"),
}
# registry task name -> the dataset's usual name (a task registered later shows its own name)
DATASET_NAMES: dict[str, str] = {
    "vqav2": "VQAv2", "okvqa": "OK-VQA", "gqa": "GQA", "nocaps": "NoCaps", "coco_caption": "COCO Captions",
    "flickr30k": "Flickr30K", "coco_retrieval": "COCO",
}
METRIC_TYPES: dict[str, str] = {
    "accuracy": "accuracy", "BLEU-1": "bleu", "BLEU-2": "bleu", "BLEU-3": "bleu", "BLEU-4": "bleu",
    "METEOR": "meteor", "ROUGE-L": "rouge", "CIDEr": "cider", "SPICE": "spice",
}  # anything else (TR@1, IR_mean, R_mean, ...) is a recall


def source_name() -> str:
    """Our name and version, the `source.name` of every entry we write."""
    return f"{SOURCE_NAME} {blip2.__version__}"


def is_ours(entry: Any) -> bool:
    """Whether a `model-index` result entry was written by this tool (any version)."""
    source = entry.get("source") if isinstance(entry, dict) else None
    name = source.get("name") if isinstance(source, dict) else None
    return isinstance(name, str) and name.split(" ")[0] == SOURCE_NAME


@dataclass(frozen=True)
class CardRun:
    """One metrics.json with what the card needs beyond `RunResult`: the scorer and the intervals."""

    result: RunResult
    scorer: str | None
    ci95: dict[str, Any]


def metrics_files(folder: Path) -> list[Path]:
    """The metrics.json files a RUN_FOLDER argument names: `<run>/<task>-<split>` or a whole `<run>`."""
    folder = Path(folder)
    if (folder / "metrics.json").is_file():
        return [folder / "metrics.json"]
    found = sorted(folder.glob("*/metrics.json")) if folder.is_dir() else []
    if not found:
        raise BenchError(f"{folder}: no metrics.json in it or in its subfolders; give run folders that "
                         "`bench run` wrote (<runs>/<run> or <runs>/<run>/<task>-<split>)")
    return found


def read_runs(folders: list[Path], *, allow_partial: bool, allow_toy: bool) -> list[CardRun]:
    """Read every run folder; refuse partial and toy runs (unless allowed), mixed models and duplicates."""
    runs = []
    for folder in folders:
        for path in metrics_files(folder):
            result = read_metrics_json(path)
            record = json.loads(path.read_text(encoding="utf-8"))
            ci95 = record.get("ci95") if isinstance(record.get("ci95"), dict) else {}
            runs.append(CardRun(result, record.get("scorer") if isinstance(record.get("scorer"), str) else None,
                                ci95))
    for run in runs:
        r = run.result
        if r.partial and not allow_partial:
            raise BenchError(f"{r.source}: a partial run ({r.partial_reason}); a model card should carry whole-split "
                             "results: rerun without --limit, or pass --allow-partial (the entry then says so)")
        if r.against == TOY_ROOT and not allow_toy:
            raise BenchError(f"{r.source}: a run on the toy data root, not on the real {r.task} data; pass "
                             "--allow-toy to put it on a card anyway (the entry then says so)")
    models = sorted({run.result.run for run in runs})
    if len(models) > 1:
        raise BenchError(f"the run folders hold results of several models ({', '.join(models)}); a card describes "
                         "one model: give the folders of one")
    seen: dict[tuple[str, str], Path] = {}
    for run in runs:
        key = (run.result.task, run.result.split)
        if key in seen:
            raise BenchError(f"{seen[key]} and {run.result.source} both hold {key[0]} {key[1]}; give one of them")
        seen[key] = run.result.source
    return runs


def _interval(ci95: dict[str, Any], subset: str, metric: str) -> list[float] | None:
    """The `[low, high]` of one flattened metric in a `ci95` block that mirrors `metrics`."""
    if subset == "all":
        value = ci95.get(metric)
    else:
        value = None
        for group in ("by_domain", "accuracy_by_answer_type"):
            block = ci95.get(group)
            if isinstance(block, dict) and subset in block:
                inner = block[subset]
                value = inner.get(metric) if isinstance(inner, dict) else inner
    if (isinstance(value, list | tuple) and len(value) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in value)):
        return [round(float(x), DIGITS) for x in value]
    return None


def eval_results(runs: list[CardRun], source_url: str) -> list[EvalResult]:
    """huggingface_hub `EvalResult`s, one per scored metric of each run (a metric the scorer could not compute,
    such as SPICE offline, is left out)."""
    out = []
    for run in runs:
        r = run.result
        task_type, task_name = TASK_TYPES[tasks.get(r.task).kind]
        dataset_args = {}
        if r.partial:
            dataset_args["partial"] = r.partial_reason
        if r.against == TOY_ROOT:
            dataset_args["data"] = "the toy world's generated data root, not the real dataset"
        for subset, metric, value in flatten_metrics(r.metrics):
            if value is None:
                continue
            interval = _interval(run.ci95, subset, metric)
            out.append(EvalResult(
                task_type=task_type, task_name=task_name,
                dataset_type=r.task, dataset_name=DATASET_NAMES.get(r.task, r.task), dataset_split=r.split,
                dataset_args=dataset_args or None,
                metric_type=METRIC_TYPES.get(metric, "recall"), metric_value=round(value, DIGITS),
                metric_name=metric if subset == "all" else f"{metric} ({subset})", metric_config=run.scorer,
                metric_args={"ci95": interval} if interval else None,
                source_name=source_name(), source_url=source_url,
            ))
    return out
