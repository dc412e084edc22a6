"""``python -m bench toy-data``: writes a loadable root, keeps an identical one, refuses foreign folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tasks
from bench.cli import main

REPO = Path(__file__).resolve().parents[3]


def test_cli_writes_a_loadable_root(tmp_path):
    out = tmp_path / "toy"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "toy-data", "--out", str(out), "--size", "small", "--seed", "5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["seed"], manifest["size"]) == (5, "small")
    assert len(tasks.get("coco_caption").load(out, None)) == 12
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]  # the temp folder was renamed, nothing left over


def test_existing_roots(tmp_path, capsys):
    out = tmp_path / "toy"
    assert main(["toy-data", "--out", str(out), "--size", "small"]) == 0
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert main(["toy-data", "--out", str(out), "--size", "small"]) == 0  # same settings: kept as is
    assert (out / "manifest.json").stat().st_mtime_ns == stamp
    assert main(["toy-data", "--out", str(out), "--size", "small", "--seed", "2"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["toy-data", "--out", str(out), "--size", "small", "--seed", "2", "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2

    foreign = tmp_path / "real"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    assert main(["toy-data", "--out", str(foreign), "--size", "small"]) == 2
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real", "toy"]


def test_a_root_of_another_generator_version_is_refused_or_regenerated(tmp_path, capsys):
    """The toy models belong to this generator's scenes: an older root is never scored silently."""
    from toyworld.data import GENERATOR_VERSION, ensure_root

    out = tmp_path / "toy"
    assert main(["toy-data", "--out", str(out), "--size", "small", "--seed", "3"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "version": "0"}))
    capsys.readouterr()
    runs = tmp_path / "runs"
    code = main(["run", "--model", "toy-opt", "--task", "vqav2", "--data-root", str(out), "--output-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and "generator version 0" in err and f"toy-data --out {out} --overwrite" in err, err
    assert not runs.exists()  # refused before any run folder was made

    assert ensure_root(out) == out  # what the default job and the toy commands do: regenerate it, same settings
    again = json.loads((out / "manifest.json").read_text())
    assert (again["version"], again["seed"], again["size"]) == (GENERATOR_VERSION, 3, "small")
    assert "made by toy generator version 0" in capsys.readouterr().out
    stamp = (out / "manifest.json").stat().st_mtime_ns
    ensure_root(out)  # a current root is kept as it is
    assert (out / "manifest.json").stat().st_mtime_ns == stamp
