"""Runs that survive: 2 processes equal 1, a SIGKILLed run resumes exactly, same seed same bytes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def run_args(model, root, out, task="vqav2", *extra):
    return ["run", "--task", task, "--model", str(model), "--data-root", str(root), "--output-dir", str(out),
            "--quiet", "--batch-size", "2", *extra]


def folder(out, model, name):
    return out / Path(model).name / name


def test_same_seed_gives_byte_identical_predictions(tiny_dir, data_root, tmp_path):
    model = tiny_dir("opt", "base")
    for out in ("a", "b"):
        assert main(run_args(model, data_root, tmp_path / out)) == 0
    first = folder(tmp_path / "a", model, "vqav2-val") / "predictions.json"
    assert first.read_bytes() == (folder(tmp_path / "b", model, "vqav2-val") / "predictions.json").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("kind,task", [("opt", "vqav2"), ("itm", "flickr30k")])
def test_two_processes_equal_one(tiny_dir, data_root, tmp_path, kind, task):
    model = tiny_dir(kind, "base")
    assert main(run_args(model, data_root, tmp_path / "one", task)) == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "bench", *run_args(model, data_root, tmp_path / "two", task)]
    proc = subprocess.Popen(cmd, env=ENV, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=300)
    finally:  # never leave launcher children behind, even on a hang
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    name = f"{task}-{'val' if task == 'vqav2' else 'test'}"
    one, two = folder(tmp_path / "one", model, name), folder(tmp_path / "two", model, name)
    m1, m2 = (json.loads((f / "metrics.json").read_text()) for f in (one, two))
    assert m2["timing"]["processes"] == 2
    assert m1["metrics"] == m2["metrics"]
    if task == "vqav2":
        assert (one / "predictions.json").read_bytes() == (two / "predictions.json").read_bytes()
        assert (one / "predictions.jsonl").read_text() == (two / "predictions.jsonl").read_text()
        assert not list(two.glob("predictions.part*.jsonl"))
    else:
        s1, s2 = np.load(one / "scores.npz"), np.load(two / "scores.npz")
        for key in ("i2t", "t2i", "itc"):
            np.testing.assert_allclose(s1[key], s2[key], atol=1e-5)


def test_resume_after_sigkill_matches_an_uninterrupted_run(tiny_dir, data_root, tmp_path):
    model = tiny_dir("t5", "base")
    slow = ["--batch-size", "1", "--num-beams", "5", "--max-new-tokens", "10"]
    assert main(run_args(model, data_root, tmp_path / "whole") + slow) == 0
    cmd = [sys.executable, "-m", "bench", *run_args(model, data_root, tmp_path / "killed"), *slow]
    lines_file = folder(tmp_path / "killed", model, "vqav2-val") / "predictions.jsonl"
    proc = subprocess.Popen(cmd, env=ENV, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # kill it for real once about half the samples are written
        if lines_file.exists() and lines_file.read_text().count("\n") >= 18:
            break
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = lines_file.read_text().count("\n")
    assert 18 <= done_before < 36, done_before
    assert not (lines_file.parent / "metrics.json").exists()

    assert main(run_args(model, data_root, tmp_path / "killed") + slow) == 0
    whole = folder(tmp_path / "whole", model, "vqav2-val")
    resumed = lines_file.parent
    ids = [json.loads(x)["id"] for x in (resumed / "predictions.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 36  # nothing duplicated, nothing missing
    m_whole, m_resumed = (json.loads((f / "metrics.json").read_text()) for f in (whole, resumed))
    assert m_resumed["metrics"] == m_whole["metrics"]
    assert m_resumed["timing"]["resumed_samples"] >= done_before - 1  # a torn last line is redone
    assert (resumed / "predictions.json").read_bytes() == (whole / "predictions.json").read_bytes()


def test_other_settings_in_the_same_folder_are_refused(tiny_dir, data_root, tmp_path, capsys):
    model = tiny_dir("opt", "base")
    assert main(run_args(model, data_root, tmp_path) + ["--limit", "4"]) == 0
    assert main(run_args(model, data_root, tmp_path) + ["--limit", "4", "--num-beams", "2"]) == 2
    assert "other settings (differing: settings)" in capsys.readouterr().err
    assert main(run_args(model, data_root, tmp_path) + ["--limit", "4", "--num-beams", "2", "--overwrite"]) == 0
