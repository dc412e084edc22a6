"""`bench run --log-with TRACKER`: each run's final metrics into an experiment tracker.

The metrics come from the run folders' metrics.json (the files the leaderboard and the gate read, flattened
the same way), so a tracker shows exactly what was written. One tracker run per model run, named after it,
with its files under `<output-dir>/<run>/logs` (TensorBoard's event files, W&B's offline run, MLflow's file
store; see `blip2.training.tracking`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from bench.run_folders import flatten_metrics, read_metrics_json
from blip2.training.tracking import open_tracker


def log_final_metrics(tracker: str, folders: list[Path]) -> list[Path]:
    """Log every scalar metric of `folders` (run folders `<runs>/<run>/<task>-<split>`); returns the logs
    folders written."""
    by_run: dict[Path, list[Path]] = defaultdict(list)
    for folder in folders:
        by_run[Path(folder).parent].append(Path(folder))
    written = []
    for run_dir, run_folders in by_run.items():
        values, config = {}, {}
        for folder in run_folders:
            result = read_metrics_json(folder / "metrics.json")
            for subset, metric, value in flatten_metrics(result.metrics):
                if value is not None:
                    name = metric if subset == "all" else f"{metric}/{subset}"
                    values[f"{result.task}-{result.split}/{name}"] = value
            settings = json.loads((folder / "metrics.json").read_text()).get("settings") or {}
            config.update({f"{result.task}-{result.split}/{k}": v for k, v in settings.items()})
        logs = run_dir / "logs"
        instance = open_tracker(tracker, run_dir.name, logs, config)
        instance.log(values, step=0)
        instance.finish()
        written.append(logs)
    return written
