"""What a report is made of: the run folders named on the command line, and the pairs of runs to compare.

``bench report`` takes run folders the way a user has them at hand: one run of one task
(``<runs>/<run>/<task>-<split>/``, the folder holding ``metrics.json``), one run's folder of tasks
(``<runs>/<run>/``) or a whole runs directory (``<runs>/``, where ``bench run`` writes). Every problem is a
:class:`~bench.errors.BenchError` naming the path, raised before anything is written.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.run_folders import RunResult, read_metrics_json
from tasks.data_root import resolve_data_root

METRICS = "metrics.json"


@dataclass(frozen=True)
class ReportRun:
    """One run of one task and split in the report: where it is, what it measured, and its page's name."""

    folder: Path
    result: RunResult
    slug: str  # file-name-safe and unique within the report: the run page and its data folder are named by it
    record: dict[str, Any]  # the whole metrics.json (settings, provenance, timing, notes), as the run wrote it

    @property
    def label(self) -> str:
        return f"{self.result.run} · {self.result.task} {self.result.split}"


def _run_folders_under(path: Path, flag: str) -> list[Path]:
    """The run folders that ``path`` names: itself, its task folders, or its runs' task folders."""
    if not path.exists():
        raise BenchError(f"{flag} {path}: no such folder; give a run folder <runs>/<run>/<task>-<split>, a run's "
                         "folder <runs>/<run> or a runs directory (default results/runs)")
    if not path.is_dir():
        raise BenchError(f"{flag} {path} is a file, not a folder; give the folder that holds {METRICS}")
    if (path / METRICS).is_file():
        return [path]
    for pattern in (f"*/{METRICS}", f"*/*/{METRICS}"):
        found = sorted(p.parent for p in path.glob(pattern))
        if found:
            return found
    raise BenchError(f"{flag} {path} holds no {METRICS} (looked in it, its subfolders and theirs); is it a folder "
                     "that 'bench run' wrote? Run 'python -m bench run' first, or name another folder")


def slug_for(result: RunResult, taken: set[str]) -> str:
    """``<run>--<task>-<split>`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced, made unique."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{result.run}--{result.task}-{result.split}").strip("._") or "run"
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    taken.add(slug)
    return slug


def collect_report_runs(paths: Sequence[Path], flag: str = "RUN_FOLDERS") -> list[ReportRun]:
    """Every run folder under ``paths`` once, sorted by run name, then task and split (a stable page order)."""
    folders: dict[Path, None] = {}
    for path in paths:
        for folder in _run_folders_under(Path(path), flag):
            folders[folder.resolve()] = None
    results = [(read_metrics_json(folder / METRICS), folder) for folder in folders]
    results.sort(key=lambda pair: (pair[0].run, pair[0].task, pair[0].split, str(pair[1])))
    taken: set[str] = set()
    return [ReportRun(folder, result, slug_for(result, taken), _record(folder)) for result, folder in results]


def _record(folder: Path) -> dict[str, Any]:
    # read_metrics_json has parsed and checked this file already
    return json.loads((folder / METRICS).read_text(encoding="utf-8"))


def compare_pairs(runs: Sequence[ReportRun], asked: Sequence[Sequence[Path]] | None) -> list[tuple[ReportRun,
                                                                                                    ReportRun]]:
    """The pairs of runs that get a compare page.

    ``asked`` None: every pair of runs of the same task and split (A before B in the report's order), which
    is what a reader of a report of several models expects to find. Otherwise exactly the pairs asked for
    (``--compare RUN_A RUN_B``), each of which must be a run folder of the report of one task and split.
    """
    if asked is None:
        return [(a, b) for a, b in itertools.combinations(runs, 2)
                if (a.result.task, a.result.split) == (b.result.task, b.result.split)]
    by_folder = {run.folder: run for run in runs}
    pairs = []
    for path_a, path_b in asked:
        a, b = (_asked_run(by_folder, Path(p)) for p in (path_a, path_b))
        if a.folder == b.folder:
            raise BenchError(f"--compare {path_a} {path_b}: both name the same run; compare two runs")
        if (a.result.task, a.result.split) != (b.result.task, b.result.split):
            raise BenchError(f"--compare {path_a} {path_b}: {a.label} and {b.label} are not of the same task and "
                             "split; compare two runs of one task and split")
        pairs.append((a, b))
    return pairs


def _asked_run(by_folder: dict[Path, ReportRun], path: Path) -> ReportRun:
    folder = path.parent if path.name == METRICS else path
    if not (folder / METRICS).is_file():
        raise BenchError(f"--compare {path}: not a run folder (it has no {METRICS}); give "
                         "<runs>/<run>/<task>-<split>")
    run = by_folder.get(folder.resolve())
    if run is None:
        raise BenchError(f"--compare {path}: this run is not among the report's RUN_FOLDERS; add it (or its runs "
                         "directory) to them")
    return run


def recorded_data_root(run: ReportRun) -> Path:
    """Where the run read its data: the data root in its provenance (a relative one is taken from the current
    folder, as ``bench run`` took it), else the usual default ($BLIP2_DATA, then ./data)."""
    provenance = run.record.get("provenance")
    recorded = provenance.get("data_root") if isinstance(provenance, dict) else None
    if isinstance(recorded, str) and recorded:
        return Path(os.path.abspath(os.path.expanduser(recorded)))
    return resolve_data_root(None)
