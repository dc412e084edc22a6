"""A toy data root on disk: written atomically, kept when it is current, regenerated or refused when an
older (or newer) generator made it, so the toy models are never scored on another generator's scenes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.coverage import MANIFEST
from toyworld.data.config import DEFAULT_ROOT, DEFAULT_SEED, DEFAULT_SIZE, GENERATOR_VERSION, sizes_for
from toyworld.data.writer import GENERATOR, generate
from toyworld.errors import ToyError


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of a toy root, or None when ``root`` holds no (readable) toy manifest."""
    try:
        manifest = json.loads((Path(root) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("generator") == GENERATOR else None


@dataclass(frozen=True)
class BuildResult:
    root: Path
    written: bool  # False: an identical toy root (same generator version, seed and size) was already there
    manifest: dict[str, Any]


def build(out: str | os.PathLike[str], *, seed: int = 0, size: str = "default", overwrite: bool = False) -> BuildResult:
    """Generate a toy root at ``out`` atomically: into a sibling temp folder, then renamed into place.

    An existing toy root with the same version, seed and size is kept as is (unless ``overwrite``);
    any other non-empty folder is refused unless ``overwrite``, so real data is never clobbered.
    """
    sizes_for(size)  # fail on a bad size before touching the disk
    target = Path(os.path.abspath(out))
    if target.exists() and not target.is_dir():
        raise ToyError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        existing = read_manifest(target)
        same = existing is not None and (existing.get("version"), existing.get("seed"), existing.get("size")) == (
            GENERATOR_VERSION,
            seed,
            size,
        )
        if same and not overwrite:
            return BuildResult(target, False, existing)
        if not overwrite:
            what = "a toy root made with other settings" if existing else "not a toy data root"
            raise ToyError(
                f"{target} is not empty and is {what}; pass --overwrite to replace it, or choose another --out"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        manifest = generate(tmp, seed=seed, size=size)
        os.chmod(tmp, 0o755)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / "root")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(target, True, manifest)


def ensure_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    """The toy data root (default `data/toy`), generated with the default seed and size when it has no
    manifest. A toy root that an older (or newer) generator made is regenerated with its own seed and size:
    the toy models are trained on this generator's scenes, and scoring them on another's would be silently
    wrong. Any other existing root is kept as it is."""
    root = Path(data_root) if data_root else DEFAULT_ROOT
    manifest = read_manifest(root)
    if not (root / MANIFEST).is_file():
        result = build(root, seed=DEFAULT_SEED, size=DEFAULT_SIZE)
        print(f"wrote the toy data root {result.root}")
    elif manifest is not None and manifest.get("version") != GENERATOR_VERSION:
        result = build(root, seed=manifest.get("seed", DEFAULT_SEED), size=manifest.get("size", DEFAULT_SIZE),
                       overwrite=True)
        print(f"regenerated the toy data root {result.root}: it was made by toy generator version "
              f"{manifest.get('version')}, this is version {GENERATOR_VERSION}")
    return root


def stale_root_message(data_root: str | os.PathLike[str]) -> str | None:
    """Why a toy root cannot be scored against this package's toy models, or None when it can (or when it
    is not a toy root at all)."""
    manifest = read_manifest(data_root)
    if manifest is None or manifest.get("version") == GENERATOR_VERSION:
        return None
    return (f"{data_root} was made by toy generator version {manifest.get('version')}, but the toy models and "
            f"their baseline belong to version {GENERATOR_VERSION}; regenerate it with `python -m bench toy-data "
            f"--out {data_root} --overwrite` (add --seed/--size if you chose others)")
