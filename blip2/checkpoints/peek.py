"""A model's architecture config, read without reading its weights.

`bench run` checks that a model can do every requested task, that `--image-size` fits its patch grid and
that the task prompts suit its LLM family before it loads any weights: loading a full-size model takes
minutes, and a mistake found after it (or after a first task's compute) wastes them. Reading the config
costs one small JSON file at most.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import zoo
from ..config import Blip2Config
from .hub import WeightsUnavailable, hf_snapshot
from .native import CONFIG_NAME, is_native_dir


def peek_config(name_or_path: str | Path, arch: str | None = None) -> Blip2Config | None:
    """The config `blip2.load_model(name_or_path, arch=arch)` would build, or None when it cannot be known
    without a download or without reading the weights (an uncached hub id, an unreadable config file).

    None is not an error: the caller checks again once the model is loaded. Unreadable files are left to
    `load_model`, whose messages name them.
    """
    name = str(name_or_path)
    path = Path(name)
    try:
        if name in zoo.ZOO and not path.exists():
            return zoo.get(name).config()
        if path.is_file():
            return zoo.get(arch).config() if arch in zoo.ZOO else None
        if not path.is_dir() and "/" in name and not name.startswith((".", "/")):
            path = hf_snapshot(name, local_only=True)
        if is_native_dir(path):
            return Blip2Config.from_dict(json.loads((path / CONFIG_NAME).read_text()))
        if (path / "config.json").is_file():
            from .hf import config_from_hf, read_preprocessor_config

            return config_from_hf(json.loads((path / "config.json").read_text()), read_preprocessor_config(path))
    except (WeightsUnavailable, OSError, ValueError, TypeError, KeyError):
        return None
    return None
