"""Where a result came from: checkpoint and its sha256, library versions, git commit, device, precision."""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch
import transformers

import blip2
from blip2 import zoo
from blip2.checkpoints.weights_io import sha256_file


def run_name_for(model_arg: str, model) -> str:
    """`--name`, else the zoo name, else the checkpoint's folder (or file) name."""
    if model_arg in zoo.ZOO and not Path(model_arg).exists():
        return model_arg
    path = Path(model_arg)
    if path.exists():
        return path.resolve().name if path.is_dir() else path.stem
    return model_arg.rstrip("/").split("/")[-1]


@functools.lru_cache(maxsize=64)
def _sha256(path: str) -> str:
    return sha256_file(Path(path))


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The harness's own commit (None outside a git checkout, e.g. installed from a wheel: site-packages may
    lie inside some other repository, whose commit is not ours)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(request, model) -> dict[str, Any]:
    source = getattr(model, "source", {}) or {}
    files = source.get("files", [])
    return {
        "checkpoint": {
            "source": source.get("source", request.model),
            "format": source.get("format"),
            "arch": request.arch,
            "expected_sha256": request.expect_sha256,
            "checked_sha256": source.get("checked_sha256"),  # which file --expect-sha256 was checked against
            "files": [{"path": f, "sha256": _sha256(f)} for f in files],
            "left_at_init": source.get("left_at_init", []),
        },
        "zoo": source.get("zoo") or (request.model if request.model in zoo.ZOO else None),
        "versions": {"blip2-bench": blip2.__version__, "torch": torch.__version__,
                     "transformers": transformers.__version__, "python": platform.python_version()},
        "git_commit": git_commit(),
        "device": str(request.device) if request.device != "cuda" or not torch.cuda.is_available()
        else torch.cuda.get_device_name(),
        "precision": getattr(model, "precision", None),
        "data_root": str(request.data_root) if request.data_root else None,
    }
