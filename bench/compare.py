"""Two runs of one task and split, compared on the samples they share: Δ = B − A, its paired interval and p-value.

A run folder keeps each sample's own score (``samples.jsonl``), and the task's scorer knows how to rebuild every
metric from those records (``task.scorer.statistic``). Comparing two runs therefore means: keep the samples both
runs scored, line B's records up in A's order, build both statistics and resample them *together*
(:func:`tasks.stats.resample.paired`), so the sample-to-sample noise that both runs share cancels out of Δ. The
same pairing serves ``bench compare`` and the CI gate (``bench regress`` with a baseline bundle).

Retrieval ranks are only comparable against the same gallery, so two retrieval runs must hold the same images
and texts; a VQA or caption run may cover a different subset, and only the shared samples count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tasks
from bench.errors import BenchError
from bench.run_folders import RunFolderError, RunResult, flatten_metrics, read_metrics_json
from bench.runner.folder import SAMPLES
from tasks.errors import TaskInputError
from tasks.stats.intervals import numeric_paths
from tasks.stats.resample import MetricPath, PairedDifference, paired

Record = dict[str, Any]
NO_STATISTIC = "the task's scorer has no per-sample statistic"


class CompareError(BenchError):
    """Two runs that cannot be paired: another task or split, no per-sample records, different galleries."""


@dataclass(frozen=True)
class RunSide:
    """One run folder: its ``metrics.json`` and its per-sample records (None: an older run without them)."""

    folder: Path
    result: RunResult
    records: list[Record] | None


@dataclass(frozen=True)
class Pairing:
    """The outcome of pairing two runs: each metric's paired difference, and the sample counts behind it."""

    differences: dict[MetricPath, PairedDifference]
    shared: int
    only_a: int
    only_b: int
    a: list[Record]  # the shared samples, in A's order
    b: list[Record]  # the same samples from B, in the same order

    def counts(self) -> dict[str, int]:
        return {"shared": self.shared, "only_a": self.only_a, "only_b": self.only_b}


def read_samples(path: Path) -> list[Record] | None:
    """The records of one ``samples.jsonl`` (None when the file is absent); a malformed line names the file."""
    path = Path(path)
    if not path.exists():
        return None
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: cannot read it ({exc})") from None
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{path}:{number}: not a JSON line ({exc})") from None
        if not isinstance(record, dict) or "id" not in record:
            raise RunFolderError(f"{path}:{number}: expected a JSON object with an 'id'")
        records.append(record)
    return records


def load_side(path: Path) -> RunSide:
    """A run folder ``<runs>/<run>/<task>-<split>/`` (or its ``metrics.json``) with its per-sample records."""
    path = Path(path)
    folder = path.parent if path.name == "metrics.json" else path
    if not (folder / "metrics.json").is_file():
        raise RunFolderError(f"{path} is not a run folder: it has no metrics.json; give "
                             "<runs>/<run>/<task>-<split>, the folder 'bench run' writes")
    return RunSide(folder, read_metrics_json(folder / "metrics.json"), read_samples(folder / SAMPLES))


def statistic_of(task_name: str) -> Any:
    """The task's per-sample statistic builder, or None (a task whose records cannot rebuild its metrics)."""
    try:
        return tasks.get(task_name).scorer.statistic
    except TaskInputError:
        return None


def sample_key(record: Mapping[str, Any]) -> str:
    """What identifies a sample across runs: its id, and for retrieval the direction of the query."""
    return json.dumps([record.get("query"), record["id"]])


def _by_key(records: Sequence[Record], where: Path) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for record in records:
        key = sample_key(record)
        if key in out:
            raise RunFolderError(f"{where / SAMPLES}: sample {record['id']!r} appears twice; rerun the run")
        out[key] = record
    return out


def _gallery(records: Sequence[Record]) -> tuple[list[Any], list[tuple[Any, Any, Any]]]:
    """A retrieval run's gallery: its image ids in index order and its texts with their images."""
    images = sorted((r.get("index", 0), r["id"]) for r in records if r.get("query") == "image")
    texts = sorted(((r["id"], r.get("image"), r.get("text")) for r in records if r.get("query") == "text"),
                   key=json.dumps)
    return [image for _, image in images], texts


def check_same_split(a: RunSide, b: RunSide) -> None:
    """Both runs must be of one task and split, or nothing they share means the same thing."""
    if (a.result.task, a.result.split) != (b.result.task, b.result.split):
        raise CompareError(f"{a.folder} is {a.result.task} {a.result.split} but {b.folder} is "
                           f"{b.result.task} {b.result.split}; compare two runs of the same task and split")


def pair_runs(a: RunSide, b: RunSide, resamples: int, seed: int) -> Pairing:
    """Pair two runs of one task and split on their shared samples (``b`` minus ``a``).

    Raises :class:`CompareError` when they cannot be paired: no statistic for the task, a run without
    ``samples.jsonl``, retrieval galleries that differ, or no shared sample.
    """
    check_same_split(a, b)
    build = statistic_of(a.result.task)
    if build is None:
        raise CompareError(f"{a.result.task}: {NO_STATISTIC}")
    for side in (a, b):
        if side.records is None:
            raise CompareError(f"{side.folder} has no {SAMPLES} (a run made before per-sample records were "
                               "kept); rerun it with this version of bench run")
    assert a.records is not None and b.records is not None
    if any("query" in r for r in a.records + b.records) and _gallery(a.records) != _gallery(b.records):
        raise CompareError(f"{a.folder} and {b.folder} rank against different galleries (other image ids or "
                           "texts), so their ranks cannot be compared; run both on the same split and data root")
    in_a, in_b = _by_key(a.records, a.folder), _by_key(b.records, b.folder)
    shared = [key for key in in_a if key in in_b]
    if not shared:
        raise CompareError(f"{a.folder} and {b.folder} share no sample id; they cannot be paired")
    rec_a, rec_b = [in_a[key] for key in shared], [in_b[key] for key in shared]
    try:
        differences = paired(build(rec_a), build(rec_b), resamples, seed)
    except (KeyError, TypeError, ValueError) as exc:
        raise CompareError(f"{a.folder} and {b.folder}: their per-sample records cannot be paired ({exc}); "
                           "are both from the same data root?") from None
    return Pairing(differences, len(shared), len(in_a) - len(shared), len(in_b) - len(shared), rec_a, rec_b)


def nest(values: Mapping[MetricPath, Any]) -> dict[str, Any]:
    """``{("by_domain", "in-domain", "CIDEr"): x}`` back into metrics.json's nesting."""
    tree: dict[str, Any] = {}
    for path, value in values.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return tree


def flat_rows(values: Mapping[MetricPath, Any]) -> dict[tuple[str, str], Any]:
    """Metric paths as the ``(subset, metric)`` rows of the leaderboard and the gate (one flattening rule)."""
    paths = list(values)
    index = nest({path: float(i) for i, path in enumerate(paths)})
    return {(subset, metric): values[paths[int(i)]] for subset, metric, i in flatten_metrics(index)
            if i is not None}


def not_covered(a: RunSide, b: RunSide, covered: Sequence[MetricPath], reason: str) -> dict[str, Any]:
    """Each number of metrics.json that has no paired difference: both whole-run values and why."""
    metrics_b = b.result.metrics
    out: dict[str, Any] = {}
    for path in numeric_paths(a.result.metrics):
        if path in covered or path[-1] == "n":
            continue
        value_a, value_b = _lookup(a.result.metrics, path), _lookup(metrics_b, path)
        delta = value_b - value_a if value_a is not None and value_b is not None else None
        out[".".join(path)] = {"a": value_a, "b": value_b, "delta": delta, "reason": reason}
    return out


def _lookup(metrics: Mapping[str, Any], path: MetricPath) -> float | None:
    node: Any = metrics
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    ok = isinstance(node, int | float) and not isinstance(node, bool) and math.isfinite(node)
    return float(node) if ok else None


# --- the samples that changed most --------------------------------------------------------------------------


def changed_samples(pairing: Pairing, top: int) -> dict[str, Any]:
    """The samples whose own score moved most, by kind of record: VQA/GQA accuracy, caption CIDEr, rank."""
    pairs = list(zip(pairing.a, pairing.b, strict=True))
    if pairs and "rank" in pairs[0][0]:
        return {f"{query}_queries": _rank_moves([p for p in pairs if p[0].get("query") == query], top)
                for query in ("image", "text")}
    if pairs and "CIDEr" in pairs[0][0]:
        return {"CIDEr_moved": _moves(pairs, "CIDEr", top, fields=("prediction", "CIDEr"))}
    if pairs and "accuracy" in pairs[0][0]:
        fields = ("prediction", "accuracy")
        worse = [(ra, rb) for ra, rb in pairs if rb["accuracy"] < ra["accuracy"]]
        better = [(ra, rb) for ra, rb in pairs if rb["accuracy"] > ra["accuracy"]]
        return {"right_to_wrong": _moves(worse, "accuracy", top, fields),
                "wrong_to_right": _moves(better, "accuracy", top, fields)}
    return {}


def _moves(pairs: list[tuple[Record, Record]], score: str, top: int, fields: Sequence[str]) -> dict[str, Any]:
    moved = [(ra, rb) for ra, rb in pairs if rb[score] != ra[score]]
    moved.sort(key=lambda p: (-abs(p[1][score] - p[0][score]), json.dumps(p[0]["id"])))
    return {"count": len(moved), "top": [
        {"id": ra["id"], **({"image": ra["image"]} if "image" in ra else {}),
         "a": {f: ra.get(f) for f in fields}, "b": {f: rb.get(f) for f in fields}, "delta": rb[score] - ra[score]}
        for ra, rb in moved[:top]]}


def _rank_moves(pairs: list[tuple[Record, Record]], top: int) -> dict[str, Any]:
    moved = [(ra, rb) for ra, rb in pairs if rb["rank"] != ra["rank"]]
    moved.sort(key=lambda p: (-abs(p[1]["rank"] - p[0]["rank"]), json.dumps(p[0]["id"])))
    return {"count": len(moved), "top": [
        {"id": ra["id"], **({"text": ra["text"]} if "text" in ra else {}), "a_rank": ra["rank"],
         "b_rank": rb["rank"], "delta": rb["rank"] - ra["rank"]} for ra, rb in moved[:top]]}
