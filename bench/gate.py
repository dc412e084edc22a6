"""What the CI gate adds when both sides keep per-sample records: paired tests, their correction, and bundles.

A flat tolerance cannot tell noise from a regression: 2 points is noise on 100 images and a real loss on 5,000.
When the baseline is a *bundle* (run folders with ``metrics.json`` and ``samples.jsonl``, written by
``bench regress --write-baseline DIR``) and the current run kept its records too, each metric the task's
statistic covers is paired on the shared samples (:func:`bench.compare.pair_runs`) and fails only when its drop
is beyond the tolerance *and* significant after a multiple-testing correction across every metric tested so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.compare import CompareError, flat_rows, load_side, pair_runs
from bench.errors import BenchError
from bench.run_folders import RunFolderError
from bench.runner.folder import SAMPLES
from tasks.stats.resample import PairedDifference
from toyworld import BASELINE_DIR as TOY_BASELINE

HOLM, NO_CORRECTION = "holm", "none"
CORRECTIONS = (HOLM, NO_CORRECTION)
DEFAULT_ALPHA = 0.05
FLAT, PAIRED = "flat", "paired"
BUNDLE_FILES = ("metrics.json", SAMPLES)  # all a bundle keeps of a run folder: no predictions, no scores.npz


def adjust(p_values: Sequence[float], correction: str) -> list[float]:
    """p-values adjusted for testing them all at once: Holm's step-down (controls the family-wise error
    rate without assuming independence), or unchanged with ``none``."""
    if correction == NO_CORRECTION:
        return list(p_values)
    if correction != HOLM:
        raise ValueError(f"unknown correction {correction!r}")
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


class Pairs:
    """The paired differences of each (baseline folder, current folder), computed once per pair of folders.

    ``get`` answers ``({(subset, metric): PairedDifference}, note)``: an empty mapping with the reason when
    the two folders cannot be paired (then the flat rule judges their rows), and a note on the sample counts
    when the runs do not cover the same samples.
    """

    def __init__(self, resamples: int, seed: int):
        self.resamples, self.seed = resamples, seed
        self._done: dict[tuple[str, str], tuple[dict[tuple[str, str], PairedDifference], str | None]] = {}

    def get(self, baseline: str, current: str) -> tuple[dict[tuple[str, str], PairedDifference], str | None]:
        key = (baseline, current)
        if key not in self._done:
            self._done[key] = self._pair(Path(baseline).parent, Path(current).parent)
        return self._done[key]

    def _pair(self, baseline: Path, current: Path) -> tuple[dict[tuple[str, str], PairedDifference], str | None]:
        a, b = load_side(baseline), load_side(current)
        where = f"{b.result.run} {b.result.task}-{b.result.split}"
        try:
            pairing = pair_runs(a, b, self.resamples, self.seed)
        except CompareError as exc:
            return {}, f"{where}: flat rule, because {exc}"
        note = None
        if pairing.only_a or pairing.only_b:
            note = (f"{where}: paired on {pairing.shared} shared samples ({pairing.only_a} only in the baseline, "
                    f"{pairing.only_b} only in the current run)")
        return flat_rows(pairing.differences), note


# --- baseline bundles ------------------------------------------------------------------------------------------

# Bundles shipped as package data, by name: they work from an installed wheel, outside any checkout.
NAMED_BASELINES: dict[str, Path] = {"toy": TOY_BASELINE}


def resolve_baseline(value: str) -> tuple[Path, str]:
    """The baseline path that ``--baseline VALUE`` means, and how to name it in the report.

    A name of :data:`NAMED_BASELINES` is the packaged bundle; anything else is a path. A folder or file of the
    same name in the current folder would make the name ambiguous, so it is refused rather than guessed.
    """
    if value not in NAMED_BASELINES:
        return Path(value), value
    if Path(value).exists():
        raise BenchError(f"--baseline {value} is both the packaged {value!r} baseline and a path in the current "
                         f"folder; give ./{value} for the path, or {NAMED_BASELINES[value]} for the packaged one")
    return NAMED_BASELINES[value], f"{value} ({NAMED_BASELINES[value]})"



def is_bundle(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but ``<run>/<task>-<split>/{metrics.json,samples.jsonl}``: what
    ``write_bundle`` makes, and so what it may replace."""
    for path in Path(folder).rglob("*"):
        depth = len(path.relative_to(folder).parts)
        if path.is_symlink() or (path.is_dir() and depth > 2) or (
                not path.is_dir() and (depth != 3 or path.name not in BUNDLE_FILES)):
            return False
    return True


def check_bundle_target(folder: Path, flag: str = "--write-baseline") -> None:
    """Refuse, before any work, a target that is a file or a folder holding anything but a bundle."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise BenchError(f"{flag} {folder} is a file; a baseline bundle is a folder (or give a .csv path)")
    if folder.suffix.lower() in (".json", ".jsonl", ".md", ".txt"):
        raise BenchError(f"{flag} {folder}: a baseline bundle is a folder, not a {folder.suffix} file; give a "
                         "folder path such as baselines/NAME, or a .csv path for a CSV baseline")
    if folder.is_dir() and any(folder.iterdir()) and not is_bundle(folder):
        raise BenchError(f"{flag} {folder} holds files that are not a baseline bundle; it is only replaced when "
                         "it is a bundle (run folders with metrics.json and samples.jsonl), so choose a new or "
                         "empty folder, or a path ending in .csv for a CSV baseline")


def write_bundle(current: pd.DataFrame, folder: Path) -> tuple[int, list[str], int]:
    """Copy each current run folder's ``metrics.json`` and ``samples.jsonl`` to ``folder/<run>/<task>-<split>/``.

    The bundle is built beside ``folder`` and then moved into place, so a reader sees the old bundle or the new
    one, never half of one; an existing bundle at ``folder`` is replaced. Returns the number of run folders,
    the ones that had no ``samples.jsonl`` (the flat rule will judge them) and the bundle's size in bytes.
    """
    folder = Path(folder)
    sources = sorted({Path(source).parent for source in current["source"]})
    if not sources:
        raise RunFolderError("there are no run results to snapshot; run 'python -m bench run' first")
    check_bundle_target(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.writing-{os.getpid()}"
    old = folder.parent / f".{folder.name}.old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    lacking, size = [], 0
    try:
        for source in sources:
            target = staging / source.parent.name / source.name
            target.mkdir(parents=True)
            for name in BUNDLE_FILES:
                if (source / name).is_file():
                    shutil.copyfile(source / name, target / name)
                    size += (target / name).stat().st_size
                elif name == SAMPLES:
                    lacking.append(f"{source.parent.name}/{source.name}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and folder.exists():
            shutil.rmtree(old, ignore_errors=True)
        elif old.exists():
            os.replace(old, folder)  # the move into place failed: put the old bundle back
    return len(sources), lacking, size
