"""The run folder: one writer, matching fingerprints, torn-line repair and ordered merging."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.runner.folder import FolderError, RunFolder, read_complete_lines

FP = {"task": "vqav2", "split": "val", "checkpoint": ["abc"], "settings": {"num_beams": 5}}


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    repo = str(Path(__file__).resolve().parents[2])
    script = (f"import sys, time; sys.path.insert(0, {repo!r})\n"
              "from bench.runner.folder import RunFolder\n"
              f"f = RunFolder({str(tmp_path)!r}, {FP!r}).lock(); print('locked', flush=True); time.sleep(30)")
    holder = subprocess.Popen([sys.executable, "-c", script],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderError, match=f"being written by pid {holder.pid}"):
            RunFolder(tmp_path, FP).lock()
    finally:
        holder.kill()
        holder.wait()
    RunFolder(tmp_path, FP).lock().unlock()  # free again once the holder is gone


def test_different_settings_are_refused_unless_overwrite(tmp_path):
    with RunFolder(tmp_path, FP) as folder:
        folder.part_file(0, 1).write_text('{"id": 1, "prediction": "yes"}\n')
    other = dict(FP, settings={"num_beams": 3})
    with pytest.raises(FolderError, match="other settings"):
        RunFolder(tmp_path, other).lock()
    assert (tmp_path / "predictions.jsonl").exists()  # nothing was touched
    with RunFolder(tmp_path, other, overwrite=True):
        assert not (tmp_path / "predictions.jsonl").exists()
    assert json.loads((tmp_path / "fingerprint.json").read_text()) == other


def test_results_without_fingerprint_are_not_silently_reused(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(FolderError, match="without a fingerprint"):
        RunFolder(tmp_path, FP).lock()


def test_torn_last_line_is_cut_and_done_samples_are_known(tmp_path):
    with RunFolder(tmp_path, FP) as folder:
        part = folder.part_file(1, 2)
        part.write_bytes(b'{"id": 1, "prediction": "a"}\n{"id": 2, "prediction": "b"}\n{"id": 3, "pred')
        done = folder.done()
    assert sorted(done) == ["1", "2"]
    assert part.read_bytes().endswith(b'"b"}\n')  # the torn line was removed from the file
    assert read_complete_lines(part)[-1]["id"] == 2


def test_merge_writes_split_order_and_checks_coverage(tmp_path):
    with RunFolder(tmp_path, FP) as folder:
        folder.part_file(0, 2).write_text('{"id": 3, "prediction": "c"}\n{"id": 1, "prediction": "a"}\n')
        folder.part_file(1, 2).write_text('{"id": 2, "prediction": "b"}\n')
        with pytest.raises(FolderError, match="no prediction for 1 sample"):
            folder.merge([1, 2, 3, 4])
        merged = folder.merge([1, 2, 3])
    assert [r["id"] for r in merged] == [1, 2, 3]
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(x)["prediction"] for x in lines] == ["a", "b", "c"]
    assert not list(tmp_path.glob("predictions.part*.jsonl"))


def test_conflicting_duplicates_are_reported(tmp_path):
    with RunFolder(tmp_path, FP) as folder:
        folder.part_file(0, 2).write_text('{"id": 1, "prediction": "a"}\n')
        folder.part_file(1, 2).write_text('{"id": 1, "prediction": "z"}\n')
        with pytest.raises(FolderError, match="appears twice"):
            folder.done()
