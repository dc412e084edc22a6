"""Read the run folders that ``bench run`` writes: ``<runs dir>/<run name>/<task>-<split>/metrics.json``.

The leaderboard and the CI gate both read results only through this module, so both agree on how a
``metrics.json`` maps to flat ``(model, task, split, subset, metric) -> value`` rows and on what a
malformed file looks like (a :class:`RunFolderError` that names the file).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import tasks
from bench.errors import BenchError
from blip2 import zoo
from tasks.coverage import PAPER, TOY_ROOT
from tasks.errors import TaskInputError

DEFAULT_RUNS_DIR = Path("results/runs")
REQUIRED_KEYS = ("task", "split", "model", "metrics")
# One flat row per scalar metric; ``subset`` is "all", a NoCaps domain or a VQA answer type.
ROW_COLUMNS = (
    "run", "zoo", "task", "split", "subset", "metric", "value", "low", "high", "n", "partial", "vs_paper",
    "partial_reason", "source"
)


class RunFolderError(BenchError):
    """A runs directory or a metrics.json that cannot be read; the message names the path."""


@dataclass(frozen=True)
class RunResult:
    """One ``metrics.json``: which run (and zoo model) produced which metrics on which split."""

    run: str
    zoo: str | None
    task: str
    split: str
    n: int | None
    partial: bool
    metrics: dict[str, Any]
    source: Path
    against: str = PAPER  # whose split size "complete" means: the paper's, or a toy root's own
    partial_reason: str | None = None
    ci95: dict[str, Any] | None = None  # mirrors ``metrics`` with [low, high]; None for a run without intervals

    @property
    def vs_paper(self) -> bool:
        """Whether the paper's number for this split may judge this run: complete, on the paper's split."""
        return not self.partial and self.against == PAPER


def read_metrics_json(path: Path) -> RunResult:
    """Parse and check one ``metrics.json``; every problem names ``path``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path}: expected a JSON object with keys {', '.join(REQUIRED_KEYS)}")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise RunFolderError(f"{path}: missing key(s) {', '.join(missing)}; is this a bench run metrics.json?")
    for key in ("task", "split", "model"):
        if not isinstance(data[key], str) or not data[key]:
            raise RunFolderError(f"{path}: '{key}' must be a non-empty string, got {data[key]!r}")
    if not isinstance(data["metrics"], dict):
        raise RunFolderError(f"{path}: 'metrics' must be an object, got {type(data['metrics']).__name__}")
    provenance = data.get("provenance") if isinstance(data.get("provenance"), dict) else {}
    zoo_name = provenance.get("zoo")
    if zoo_name is not None and not isinstance(zoo_name, str):
        raise RunFolderError(f"{path}: 'provenance.zoo' must be a string or null, got {zoo_name!r}")
    if zoo_name is None and data["model"] in zoo.ZOO:
        zoo_name = data["model"]
    n = data.get("n")
    n = n if isinstance(n, int) and not isinstance(n, bool) else None
    partial, against, reason = _coverage(data, n)
    ci95 = data.get("ci95")
    if ci95 is not None and not isinstance(ci95, dict):
        raise RunFolderError(f"{path}: 'ci95' must be an object mirroring 'metrics', got {type(ci95).__name__}")
    return RunResult(
        run=data["model"],
        zoo=zoo_name,
        task=data["task"],
        split=data["split"],
        n=n,
        partial=partial,
        metrics=data["metrics"],
        source=Path(path),
        against=against,
        partial_reason=reason,
        ci95=ci95,
    )


def _coverage(data: dict[str, Any], n: int | None) -> tuple[bool, str, str | None]:
    """``(partial, against, reason)`` of a record: its own ``coverage`` block when it has one.

    A record written before runs recorded their coverage (a ``--limit`` run then said ``"partial": false``)
    is judged by its ``n`` against the paper's split size, so an old 3-image run is never compared either.
    """
    recorded = data.get("coverage")
    if isinstance(recorded, dict):
        against = recorded.get("against") if recorded.get("against") in (PAPER, TOY_ROOT) else PAPER
        reason = recorded.get("reason") if isinstance(recorded.get("reason"), str) else None
        partial = bool(data.get("partial", False)) or reason is not None
        return partial, against, reason or ("the run says it is partial" if partial else None)
    try:
        official = tasks.get(data["task"]).split(data["split"]).official_size
    except TaskInputError:
        official = None
    if data.get("partial"):
        return True, PAPER, "the run says it is partial"
    if official is None or n != official:
        return True, PAPER, (f"the record has no coverage and n={n}, while the paper's split size is "
                             f"{official if official is not None else 'not recorded'}")
    return False, PAPER, None


def find_metrics_files(runs_dir: Path) -> list[Path]:
    """Every ``<run>/<task>-<split>/metrics.json`` under ``runs_dir``, sorted for a stable order."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RunFolderError(
            f"runs directory {runs_dir} does not exist; run 'python -m bench run --task T --model M' first "
            "or pass --runs DIR"
        )
    return sorted(runs_dir.glob("*/*/metrics.json"))


def collect_runs(runs_dir: Path) -> list[RunResult]:
    """All run results under ``runs_dir`` (possibly none)."""
    return [read_metrics_json(path) for path in find_metrics_files(runs_dir)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def flatten_intervals(ci95: dict[str, Any] | None) -> dict[tuple[str, str], tuple[float, float]]:
    """``{(subset, metric): (low, high)}`` from a ``ci95`` block, keyed as :func:`flatten_metrics` keys values."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for key, value in (ci95 or {}).items():
        if key == "by_domain" and isinstance(value, dict):
            for domain, per_domain in value.items():
                if isinstance(per_domain, dict):
                    out.update({(domain, m): pair for m, v in per_domain.items() if (pair := _pair(v))})
        elif key == "accuracy_by_answer_type" and isinstance(value, dict):
            out.update({(answer_type, "accuracy"): pair for answer_type, v in value.items() if (pair := _pair(v))})
        elif (pair := _pair(value)) is not None:
            out[("all", key)] = pair
    return out


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is not None and high is not None:
            return (low, high)
    return None


def flatten_metrics(metrics: dict[str, Any]) -> list[tuple[str, str, float | None]]:
    """``(subset, metric, value)`` for each scalar; ``by_domain`` and ``accuracy_by_answer_type`` become subsets.
    ``accuracy_by_question_type`` (65 types on VQAv2) is for reading a run, not for tables or the gate.

    A metric that a scorer could not compute (SPICE offline is ``null``) keeps its row with value None, so a
    reader can tell "not scored" from "not run".
    """
    rows: list[tuple[str, str, float | None]] = []
    for key, value in metrics.items():
        if key == "by_domain" and isinstance(value, dict):
            for domain, per_domain in value.items():
                if isinstance(per_domain, dict):
                    rows += [(domain, m, _number(v)) for m, v in per_domain.items() if m != "n"]
        elif key == "accuracy_by_answer_type" and isinstance(value, dict):
            rows += [(answer_type, "accuracy", _number(v)) for answer_type, v in value.items()]
        elif key == "accuracy_by_question_type":
            continue
        elif value is None or _number(value) is not None:
            rows.append(("all", key, _number(value)))
    return rows


def results_frame(results: list[RunResult]) -> pd.DataFrame:
    """One row per (run, task, split, subset, metric), columns :data:`ROW_COLUMNS`."""
    rows = []
    for r in results:
        bounds = flatten_intervals(r.ci95)
        for subset, metric, value in flatten_metrics(r.metrics):
            low, high = bounds.get((subset, metric), (None, None))
            rows.append((r.run, r.zoo, r.task, r.split, subset, metric, value, low, high, r.n, r.partial, r.vs_paper,
                         r.partial_reason, str(r.source)))
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    return frame.astype({"value": float, "low": float, "high": float, "partial": bool, "vs_paper": bool})
