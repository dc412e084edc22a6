"""Toy roots for the toy-training tests: a small one for training, the default one for evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from blip2 import zoo
from toyworld import TOY_MODELS
from toyworld.data import build, generate


@pytest.fixture(scope="session")
def small_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy-small") / "root"
    generate(root, seed=0, size="small")
    return root


@pytest.fixture(scope="session")
def default_root(tmp_path_factory) -> Path:
    """The default toy root (what `bench run` evaluates on): ./data/toy when present, else generated (~3 s)."""
    here = Path("data/toy")
    if (here / "manifest.json").is_file():
        return build(here).root  # refuses a root made with other settings
    return build(tmp_path_factory.mktemp("toy-default") / "root").root


@pytest.fixture(scope="session")
def committed_toy_models() -> None:
    """Skip (with the command that fixes it) until `bench train --recipe toy` has exported the toy weights."""

    missing = [n for n in TOY_MODELS if not (zoo.get(n).local_dir / "model.safetensors").is_file()]
    if missing:
        pytest.skip(f"toy weights not exported yet ({', '.join(missing)}): run `python -m bench train --recipe toy`")
