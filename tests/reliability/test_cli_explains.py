"""The CLI explains itself and never mislabels a disk problem: the default job's flags, --version, regress's
exit codes, results-file permissions, and a `bench list models` that answers without building models."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers

import blip2
from bench.cli import main
from blip2 import param_count, param_report
from tasks.atomic import atomic_write_json

REPO = Path(__file__).resolve().parents[2]


# --- the default job ---------------------------------------------------------------------------------------


@pytest.fixture
def fake_default_job(monkeypatch, tmp_path):
    """The default job with its runs and its leaderboard recorded instead of done."""
    import bench.default_job
    import bench.runner.run

    seen = {"requests": [], "leaderboard": []}
    monkeypatch.setattr(bench.runner.run, "run_all", lambda r: seen["requests"].append(r) or [])
    monkeypatch.setattr(bench.default_job, "ensure_root", lambda root: Path(root))
    monkeypatch.setattr(bench.default_job, "write_leaderboard", lambda runs, out: seen["leaderboard"].append(runs))
    monkeypatch.chdir(tmp_path)
    return seen


def test_default_job_honours_its_flags(fake_default_job, tmp_path):
    out, root = tmp_path / "elsewhere", tmp_path / "toy"
    assert main(["run", "--output-dir", str(out), "--data-root", str(root), "--device", "cpu", "--batch-size", "3",
                 "--precision", "fp32", "--num-workers", "1", "--limit", "2", "--quiet"]) == 0
    requests = fake_default_job["requests"]
    assert requests and all((r.output_dir, r.data_root, r.device, r.batch_size, r.precision, r.num_workers,
                             r.limit, r.quiet) == (str(out), str(root), "cpu", 3, "fp32", 1, 2, True)
                            for r in requests)


@pytest.mark.parametrize("extra,refreshed", [([], True), (["--limit", "2"], False),
                                             (["--output-dir", "other/runs"], False)])
def test_default_job_refreshes_the_leaderboard_only_from_a_full_default_run(fake_default_job, extra, refreshed):
    assert main(["run", "--quiet", *extra]) == 0
    assert bool(fake_default_job["leaderboard"]) == refreshed


@pytest.mark.parametrize("extra", [["--seed", "3"], ["--k-test", "4"], ["--name", "x"], ["--skip-bad"],
                                   ["--vqa-scorer", "official"], ["--image-size", "56"]])
def test_default_job_refuses_other_flags(fake_default_job, capsys, extra):
    assert main(["run", *extra]) == 2
    err = capsys.readouterr().err
    assert extra[0] in err and "Traceback" not in err
    assert not fake_default_job["requests"] and not Path("data").exists()


def test_default_job_checks_its_flags_before_building_the_toy_root(fake_default_job, capsys, monkeypatch):
    import bench.default_job

    monkeypatch.setattr(bench.default_job, "ensure_root", lambda root: pytest.fail("built before the checks"))
    assert main(["run", "--batch-size", "0"]) == 2
    assert "--batch-size" in capsys.readouterr().err


# --- --version, regress exit codes, permissions -------------------------------------------------------------


def test_version_names_ours_torch_and_transformers(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    assert blip2.__version__ in out and torch.__version__.split("+")[0] in out and transformers.__version__ in out


@pytest.mark.parametrize("flag", ["--output", "--write-baseline"])
def test_regress_output_naming_a_folder_is_exit_2_not_a_regression(tmp_path, capsys, flag):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "notes.txt").write_text("mine")  # a folder, and not a baseline bundle to replace
    mode = ["--baseline", str(tmp_path / "b.csv")] if flag == "--output" else []
    assert main(["regress", *mode, flag, str(tmp_path / "report"), "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert flag in err and str(tmp_path / "report") in err and "Traceback" not in err


def test_regress_write_failure_is_exit_2(tmp_path, capsys, monkeypatch):
    import bench.commands.regress as command

    runs = tmp_path / "runs" / "m" / "vqav2-val"
    runs.mkdir(parents=True)
    (runs / "metrics.json").write_text(json.dumps({"task": "vqav2", "split": "val", "model": "m",
                                                   "metrics": {"accuracy": 50.0}}))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(command, "write_baseline", disk_full)
    assert main(["regress", "--write-baseline", str(tmp_path / "b.csv"), "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "--write-baseline" in err and "No space left" in err


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_files_get_the_users_normal_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write_json(tmp_path / "metrics.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_rewriting_a_results_file_keeps_its_mode(tmp_path):
    path = tmp_path / "leaderboard.csv"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write_json(path, [1])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and json.loads(path.read_text()) == [1]


# --- bench list models ----------------------------------------------------------------------------------------


def test_list_models_on_a_fresh_machine_counts_without_torch(tmp_path):
    """An empty home (no cache of any kind): a fresh process lists every zoo model with its counts beside the
    paper's, without importing torch, transformers or timm, and leaves nothing behind in the home."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("BLIP2_CACHE", "XDG_CACHE_HOME", "HF_HOME")}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", HOME=str(home))
    code = ("import sys; from bench.cli import main; main(['list', 'models']); "
            "print(sorted({'torch', 'transformers', 'timm'} & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("[]")
    assert list(home.iterdir()) == []
    rows = {line.split(" | ")[0].lstrip("| "): line for line in proc.stdout.splitlines() if line.startswith("| ")}
    for name in blip2.zoo.names():
        counts = param_count.count(blip2.zoo.get(name).config())
        paper_trainable, paper_total = param_report.PAPER.get(name, ("-", "-"))
        assert f"| {counts.trainable / 1e6:.1f}M ({paper_trainable}) |" in rows[name]
        assert f"({paper_total}) |" in rows[name]
