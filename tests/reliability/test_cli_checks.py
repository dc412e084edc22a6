"""Every mistake `bench run` can see in its arguments stops it before compute: exit 2, one message naming
the flag, no traceback, no model loaded, no image read, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import blip2
from bench.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_compute(monkeypatch):
    """Loading a model or opening an image fails the test: the checks must come first."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded or an image was read before the arguments were checked")

    monkeypatch.setattr(blip2, "load_model", forbidden)
    monkeypatch.setattr(Image, "open", forbidden)


def refused(args, out: Path, capsys, *named: str) -> str:
    capsys.readouterr()  # what the fixtures printed (saving the tiny checkpoints)
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error:"), err
    for word in named:
        assert word in err, (word, err)
    assert not out.exists() or not any(out.iterdir()), "a run folder was written"
    return err


def run_args(model, root, out, task, *extra):
    return ["run", "--task", task, "--model", str(model), "--data-root", str(root), "--output-dir", str(out),
            "--quiet", *extra]


GENERATION_CASES = {
    "kind-the-model-cannot-do": ("vqav2,coco_retrieval", [], ["coco_retrieval", "retrieval"]),
    "split-without-answers-with-limit": ("vqav2", ["--split", "test-dev", "--limit", "2"], ["--limit", "test-dev"]),
    "vqa-prompt-without-hole": ("vqav2", ["--prompt", "Question: Answer:"], ["--prompt", "{}"]),
    "vqa-prompt-with-two-holes": ("okvqa", ["--prompt", "{} and {}"], ["--prompt", "{}"]),
    "caption-prompt-with-hole": ("coco_caption", ["--prompt", "a photo of {}"], ["--prompt", "coco_caption"]),
    "device-not-a-device": ("vqav2", ["--device", "gpu0"], ["--device", "gpu0"]),
    "device-absent": ("vqav2", ["--device", "cuda:63"], ["--device", "cuda:63"]),
    "batch-size-0": ("vqav2", ["--batch-size", "0"], ["--batch-size"]),
    "num-workers-negative": ("vqav2", ["--num-workers", "-1"], ["--num-workers"]),
    "num-beams-0": ("vqav2", ["--num-beams", "0"], ["--num-beams"]),
    "max-new-tokens-0": ("vqav2", ["--max-new-tokens", "0"], ["--max-new-tokens"]),
    "min-new-tokens-negative": ("vqav2", ["--min-new-tokens", "-1"], ["--min-new-tokens"]),
    "min-above-max-new-tokens": ("vqav2", ["--min-new-tokens", "50"], ["min_new_tokens", "vqav2"]),
    "limit-0": ("vqav2", ["--limit", "0"], ["--limit"]),
    "seed-negative": ("vqav2", ["--seed", "-1"], ["--seed"]),
    "length-penalty-one-beam": ("vqav2", ["--num-beams", "1", "--length-penalty", "2"], ["--length-penalty"]),
    "length-penalty-not-finite": ("vqav2", ["--length-penalty", "nan"], ["--length-penalty"]),
    "repetition-penalty-0": ("vqav2", ["--repetition-penalty", "0"], ["--repetition-penalty"]),
    "image-size-0": ("vqav2", ["--image-size", "0"], ["--image-size"]),
    "image-size-off-the-patch-grid": ("vqav2", ["--image-size", "30"], ["--image-size", "14"]),
    "name-with-separator": ("vqav2", ["--name", "../outside"], ["--name"]),
    "name-dotdot": ("vqav2", ["--name", ".."], ["--name"]),
    "same-task-twice": ("vqav2,gqa,vqav2", [], ["--task", "vqav2"]),
    "empty-task": ("", [], ["--task"]),
    "only-commas": (" , ", [], ["--task"]),
    "misspelt-task": ("vqa2", [], ["vqa2", "Did you mean 'vqav2'"]),
    "retrieval-flag-on-vqa": ("vqav2", ["--k-test", "16"], ["--k-test", "vqav2"]),
    "retrieval-flag-on-caption": ("nocaps", ["--max-text-tokens", "16"], ["--max-text-tokens", "nocaps"]),
    "vqa-scorer-on-gqa": ("gqa", ["--vqa-scorer", "official"], ["--vqa-scorer", "gqa"]),
    "arch-with-a-folder": ("vqav2", ["--arch", "vitg-opt2.7b"], ["--arch"]),
}


@pytest.mark.parametrize("case", list(GENERATION_CASES))
def test_generative_model_refused_before_compute(case, tiny_dir, data_root, tmp_path, capsys, no_compute):
    task, extra, named = GENERATION_CASES[case]
    out = tmp_path / "runs"
    err = refused(run_args(tiny_dir("opt", "base"), data_root, out, task, *extra), out, capsys, *named)
    assert err.lower().count("error:") == 1  # one message


RETRIEVAL_CASES = {
    "generation-flag-on-retrieval": ("flickr30k", ["--num-beams", "3"], ["--num-beams", "flickr30k"]),
    "prompt-on-retrieval": ("coco_retrieval", ["--prompt", "a photo of"], ["--prompt", "coco_retrieval"]),
    "k-test-0": ("flickr30k", ["--k-test", "0"], ["--k-test"]),
    "max-text-tokens-0": ("flickr30k", ["--max-text-tokens", "0"], ["--max-text-tokens"]),
    "skip-bad-on-retrieval": ("flickr30k", ["--skip-bad"], ["--skip-bad", "flickr30k"]),
    "kind-the-model-cannot-do": ("flickr30k,vqav2", [], ["vqav2", "generative"]),
}


@pytest.mark.parametrize("case", list(RETRIEVAL_CASES))
def test_retrieval_model_refused_before_compute(case, tiny_dir, data_root, tmp_path, capsys, no_compute):
    task, extra, named = RETRIEVAL_CASES[case]
    out = tmp_path / "runs"
    refused(run_args(tiny_dir("itm", "base"), data_root, out, task, *extra), out, capsys, *named)


def test_misspelt_zoo_name_gets_a_suggestion(data_root, tmp_path, capsys, no_compute):
    out = tmp_path / "runs"
    refused(run_args("vitg-opt2.7", data_root, out, "vqav2"), out, capsys, "--model", "Did you mean 'vitg-opt2.7b'")


def test_output_dir_that_is_a_file(tiny_dir, data_root, tmp_path, capsys, no_compute):
    out = tmp_path / "file"
    out.write_text("not a folder")
    capsys.readouterr()
    code = main(run_args(tiny_dir("opt", "base"), data_root, out / "runs", "vqav2"))
    err = capsys.readouterr().err
    assert code == 2 and "--output-dir" in err and str(out) in err and "Traceback" not in err


def test_read_only_output_dir(tiny_dir, data_root, tmp_path, capsys, no_compute, monkeypatch):
    """CI runs as root, where chmod cannot make a folder read-only: the permission answer is simulated."""
    import bench.writable

    out = tmp_path / "runs"
    real_access = os.access
    monkeypatch.setattr(bench.writable.os, "access", lambda p, mode: False if Path(p) == tmp_path
                        else real_access(p, mode))
    err = refused(run_args(tiny_dir("opt", "base"), data_root, out, "vqav2"), out, capsys, "--output-dir")
    assert "read-only" in err


def test_unwritable_output_dir_found_by_the_write_probe(tiny_dir, data_root, tmp_path, capsys, no_compute,
                                                        monkeypatch):
    import bench.writable

    def failing_probe(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(bench.writable.tempfile, "TemporaryFile", failing_probe)
    out = tmp_path / "runs"
    err = refused(run_args(tiny_dir("opt", "base"), data_root, out, "vqav2"), out, capsys, "--output-dir")
    assert "Permission denied" in err


def test_output_disk_full(tiny_dir, data_root, tmp_path, capsys, no_compute, monkeypatch):
    import shutil

    import bench.writable

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(bench.writable.shutil, "disk_usage", lambda p: usage._replace(free=1024))
    out = tmp_path / "runs"
    err = refused(run_args(tiny_dir("opt", "base"), data_root, out, "vqav2"), out, capsys, "--output-dir")
    assert "free" in err


def test_refusal_has_no_traceback_in_a_real_process(tiny_dir, data_root, tmp_path):
    """The in-process tests above cannot see a traceback Python would print on exit; a subprocess can."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    args = run_args(tiny_dir("opt", "base"), data_root, tmp_path / "runs", "vqav2,coco_retrieval")
    proc = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 2 and "coco_retrieval" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()
