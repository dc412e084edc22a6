"""A run's output folder: one writer at a time, a fingerprint that must match, and resumable predictions.

`predictions.jsonl` grows one flushed line per sample. A run killed half-way (even with SIGKILL)
leaves complete lines plus at most one torn last line; a rerun with the same arguments drops the torn
line, skips the samples already done and appends the rest. A different checkpoint or different
settings in the same folder is refused unless `--overwrite` is given.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from tasks.atomic import atomic_write_json, atomic_write_text

FINGERPRINT = "fingerprint.json"
SAMPLES = "samples.jsonl"  # each sample's own score next to its prediction (see tasks.stats)
LOCK = ".lock"
PARTS = "predictions.part*.jsonl"
RESULT_FILES = ("predictions.jsonl", "predictions.json", "scores.npz", SAMPLES, "metrics.json", FINGERPRINT)


class FolderError(BenchError):
    """The output folder is in use, or holds a different run."""


class RunFolder:
    """Lock, fingerprint check and prediction log of `<output-dir>/<run>/<task>-<split>/`."""

    def __init__(self, path: Path, fingerprint: dict[str, Any], overwrite: bool = False):
        self.path, self.fingerprint, self.overwrite = Path(path), fingerprint, overwrite
        self._lock_handle = None

    # --- one writer ---------------------------------------------------------------------------

    def lock(self) -> RunFolder:
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / LOCK, "a+")  # noqa: SIM115 - held for the run's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise FolderError(f"{self.path} is being written by {owner}; wait for it to finish or choose "
                              "another --output-dir / --name") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock_handle = handle
        self._check_fingerprint()
        return self

    def unlock(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> RunFolder:
        return self.lock()

    def __exit__(self, *exc) -> None:
        self.unlock()

    # --- same run, or refuse --------------------------------------------------------------------

    def _check_fingerprint(self) -> None:
        file = self.path / FINGERPRINT
        if file.exists():
            old = json.loads(file.read_text())
            if old != self.fingerprint:
                if not self.overwrite:
                    keys = set(old) | set(self.fingerprint)
                    changed = sorted(k for k in keys if old.get(k) != self.fingerprint.get(k))
                    raise FolderError(
                        f"{self.path} holds a run with other settings (differing: {', '.join(changed)}); rerun "
                        "with the same arguments to resume it, pass --overwrite to replace it, or choose another "
                        "--output-dir"
                    )
                self.clear()
        elif any((self.path / name).exists() for name in RESULT_FILES) or list(self.path.glob(PARTS)):
            if not self.overwrite:
                raise FolderError(f"{self.path} holds results without a fingerprint (an older or foreign run); "
                                  "pass --overwrite to replace them")
            self.clear()
        atomic_write_json(file, self.fingerprint)

    def clear(self) -> None:
        for name in RESULT_FILES:
            (self.path / name).unlink(missing_ok=True)
        for part in self.path.glob(PARTS):
            part.unlink()

    # --- resumable prediction log ------------------------------------------------------------------

    def part_file(self, rank: int, world: int) -> Path:
        """Where this process appends: `predictions.jsonl` itself when alone, a part file per rank otherwise."""
        return self.path / ("predictions.jsonl" if world == 1 else f"predictions.part{rank}.jsonl")

    def done(self) -> dict[Any, dict[str, Any]]:
        """Predictions already written by earlier attempts (any rank), torn last lines repaired."""
        records: dict[Any, dict[str, Any]] = {}
        for file in [self.path / "predictions.jsonl", *sorted(self.path.glob(PARTS))]:
            for record in read_complete_lines(file):
                key = _key(record["id"])
                if key in records and records[key] != record:
                    raise FolderError(f"{file}: sample {record['id']!r} appears twice with different "
                                      "predictions; the folder is inconsistent, rerun with --overwrite")
                records[key] = record
        return records

    def merge(self, ordered_ids: Iterable[Any]) -> list[dict[str, Any]]:
        """Write `predictions.jsonl` in split order from every part (atomically); check nothing is missing."""
        done = self.done()
        ordered = []
        missing = []
        for sample_id in ordered_ids:
            record = done.pop(_key(sample_id), None)
            (missing.append(sample_id) if record is None else ordered.append(record))
        if missing:
            raise FolderError(f"{self.path}: no prediction for {len(missing)} sample(s), e.g. {missing[:5]}")
        if done:
            raise FolderError(f"{self.path}: predictions for ids that are not in the split: {list(done)[:5]}")
        atomic_write_text(self.path / "predictions.jsonl", "".join(json.dumps(r) + "\n" for r in ordered))
        for part in self.path.glob(PARTS):
            part.unlink()
        return ordered


def write_samples(path: Path, samples: list[dict[str, Any]]) -> None:
    """Write the per-sample records as JSON lines, atomically (a reader never sees half a file)."""
    atomic_write_text(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in samples))


def _key(sample_id: Any) -> str:
    """Ids compare as JSON text, so 101 from the split equals 101 read back from a file."""
    return json.dumps(sample_id)


def read_complete_lines(file: Path) -> list[dict[str, Any]]:
    """The JSON lines of `file`; a torn final line (no newline: the writer was killed) is cut off."""
    if not file.exists():
        return []
    data = file.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(file, "r+b") as handle:
            handle.truncate(end)
    out = []
    for number, line in enumerate(data[:end].decode("utf-8").splitlines(), 1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise FolderError(f"{file}:{number}: not a JSON line ({exc}); rerun with --overwrite") from exc
    return out
