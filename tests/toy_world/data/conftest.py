"""One small toy root per test session (generation takes well under a second at this size)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toyworld.data import generate


@pytest.fixture(scope="session")
def toy_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy") / "root"
    generate(root, seed=0, size="small")
    return root


@pytest.fixture(scope="session")
def scenes(toy_root) -> dict:
    """The generator's scene labels, keyed by image path relative to the root."""
    return json.loads((toy_root / "scenes.json").read_text())


@pytest.fixture(scope="session")
def manifest(toy_root) -> dict:
    return json.loads((toy_root / "manifest.json").read_text())


def rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()
