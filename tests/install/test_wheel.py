"""Installed from a wheel, outside the checkout, `blip2-bench` runs and gates the default job from package data alone.

The wheel goes into a fresh venv that sees the test venv's packages (a .pth file, `--no-deps`),
so the test needs no network and no second copy of torch; the package itself comes from the wheel, which the
test checks, not from the checkout or the development install.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with the wheel built from this checkout installed; returns its bin folder."""
    tmp = tmp_path_factory.mktemp("install")
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(wheels), str(REPO)], check=True, cwd=tmp)
    (wheel,) = wheels.glob("blip2_bench-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # The test venv's packages (torch, transformers, ...) as plain path entries: a plain line in a .pth file
    # does not run that folder's own .pth files, so the development install's import hook stays out.
    (Path(_site_packages(python)) / "_test_venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--ignore-installed", str(wheel)], check=True, cwd=tmp)
    return env_dir / "bin"


def _site_packages(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _clean_env() -> dict[str, str]:
    """The user's environment, without this checkout on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BLIP2_DATA")}
    env["HF_HUB_OFFLINE"] = "1"
    return env


def test_the_installed_command_imports_the_installed_package(installed, tmp_path):
    out = subprocess.run([str(installed / "python"), "-c", "import bench, toyworld; print(bench.__file__); "
                          "print(toyworld.__file__)"], capture_output=True, text=True, cwd=tmp_path,
                         env=_clean_env(), check=True).stdout.split()
    assert all(Path(p).is_relative_to(installed.parent) for p in out), out
    version = subprocess.run([str(installed / "blip2-bench"), "--version"], capture_output=True, text=True,
                             cwd=tmp_path, env=_clean_env(), check=True).stdout
    assert version.startswith("blip2-bench ")


def test_the_default_job_runs_outside_the_checkout(installed, tmp_path):
    here = tmp_path / "elsewhere"
    here.mkdir()
    assert not here.resolve().is_relative_to(REPO)
    done = subprocess.run([str(installed / "blip2-bench"), "run", "--limit", "2", "--quiet"], capture_output=True,
                          text=True, cwd=here, env=_clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert (here / "data/toy/manifest.json").is_file()
    records = [json.loads(p.read_text()) for p in (here / "results/runs").glob("*/*/metrics.json")]
    assert len(records) == 17  # 3 generative toy models x 5 tasks + the retrieval one x 2
    for record in records:
        assert record["metrics"] and record["settings"]["limit"] == 2
        files = [f["path"] for f in record["provenance"]["checkpoint"]["files"]]
        assert files and all(Path(f).is_relative_to(installed.parent) for f in files)  # the wheel's weights
    assert f"toy data root {(here / 'data/toy').resolve()}" in done.stdout
    assert f"run folders in {(here / 'results/runs').resolve()}" in done.stdout
    # The gate finds the toy baseline in the wheel too. --limit runs are partial (exit 1) and lack some subsets
    # that the baseline has, such as an answer type (exit 2), so the gate judges them and does not pass them.
    gate = subprocess.run([str(installed / "blip2-bench"), "regress", "--baseline", "toy"], capture_output=True,
                          text=True, cwd=here, env=_clean_env())
    assert gate.returncode in (1, 2) and "BLIP-2 regression check" in gate.stdout, gate.stdout[-2000:] + gate.stderr
    baseline = gate.stdout.split("Baseline `toy (", 1)[1].split(")`", 1)[0]
    assert Path(baseline).is_relative_to(installed.parent) and (Path(baseline) / "toy-opt").is_dir()
    assert "is partial" in gate.stdout
    board = subprocess.run([str(installed / "blip2-bench"), "leaderboard"], capture_output=True, text=True, cwd=here,
                           env=_clean_env())
    assert board.returncode == 0, board.stderr[-3000:]
    # the toy chance levels and references come from the wheel's package data
    assert "| accuracy | chance | reference |" in (here / "results/leaderboard.md").read_text(encoding="utf-8")
