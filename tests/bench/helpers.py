"""Synthetic run folders in the layout ``bench run`` writes, for the leaderboard and regress tests."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_run(
    runs: Path,
    run: str,
    task: str,
    split: str,
    metrics: dict[str, Any],
    *,
    zoo: str | None = None,
    partial: bool = False,
    n: int = 100,
    against: str = "paper",
    ci95: dict[str, Any] | None = None,
) -> Path:
    """Write ``runs/<run>/<task>-<split>/metrics.json`` with the runner's keys; returns the file.

    Its ``coverage`` says the run is complete against ``against`` ("paper" or "toy root") unless ``partial``."""
    folder = runs / run / f"{task}-{split}"
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "task": task,
        "split": split,
        "model": run,
        "scorer": "synthetic",
        "n": n,
        "partial": partial,
        "coverage": {"evaluated": n, "split_size": n, "official_size": None if partial else n, "against": against,
                     "unit": "samples", "reason": f"scored {n} samples of a bigger split" if partial else None},
        "metrics": metrics,
        "settings": {"num_beams": 5},
        "provenance": {"checkpoint": {"source": "test", "sha256": "0" * 64}, "zoo": zoo},
        "timing": {"wall_s": 1.0, "samples_per_s": float(n)},
        **({"ci95": ci95} if ci95 is not None else {}),
    }
    path = folder / "metrics.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def bench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m bench ARGS`` in a subprocess, as CI would."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd or REPO_ROOT, env=env, capture_output=True, text=True
    )


def bench_here(*args: str) -> subprocess.CompletedProcess:
    """``python -m bench ARGS`` in this process (same exit code and streams), for speed: importing the CLI
    pulls in torch, so the subprocess form is kept for the checks that must prove the real entry point."""
    from bench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["python", "-m", "bench", *args], code, out.getvalue(), err.getvalue())


def write_sampled_run(runs: Path, run: str, task: str, split: str, records: list[dict[str, Any]]) -> Path:
    """A run folder with per-sample records: ``samples.jsonl`` plus a ``metrics.json`` whose metrics are the
    task's own statistic rebuilt from those records (as ``bench run`` computes them); returns the folder."""
    import tasks

    metrics: dict[str, Any] = {}
    for path, value in tasks.get(task).scorer.statistic(records).point().items():
        node = metrics
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    folder = write_run(runs, run, task, split, metrics, n=len(records)).parent
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder


def vqa_records(n: int, wrong: set[int], per_image: int = 1,
                answer_type: Any = lambda i: "yes/no") -> list[dict[str, Any]]:
    """``n`` VQAv2 per-sample records, question ``i`` answered right (accuracy 100) unless ``i`` is in ``wrong``."""
    return [{"id": i, "image": i // per_image, "prediction": "no" if i in wrong else "yes",
             "accuracy": 0.0 if i in wrong else 100.0, "answer_type": answer_type(i), "question_type": "is the",
             "answers": ["yes"] * 10} for i in range(n)]
