"""Parameter counts of the zoo models (trainable and total), with the paper's Table 2 beside them.

The counts are the real ones: each model is built on the meta device (no weights, no download) and
counted. Building needs torch, transformers and timm and takes seconds per model, so the counts are
cached in a user cache file (``$BLIP2_CACHE`` or ``~/.cache/blip2-bench``), keyed by the model's config,
the model code and the library versions: any change there recomputes them, and `bench list models`
answers from the cache without importing torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import zoo

# The paper's Table 2 (trainable, total) and Sec. 3.1's 188M stage-1 Q-Former: the one place they live.
PAPER = {
    "vitl-opt2.7b": ("104M", "3.1B"),
    "vitg-opt2.7b": ("107M", "3.8B"),
    "vitg-opt6.7b": ("108M", "7.8B"),
    "vitl-flant5xl": ("103M", "3.4B"),
    "vitg-flant5xl": ("107M", "4.1B"),
    "vitg-flant5xxl": ("108M", "12.1B"),
    "vitg-qformer": ("188M", "-"),
}
CACHE_NAME = "param_counts.json"


def cache_dir() -> Path:
    """Where cached counts live: $BLIP2_CACHE, else $XDG_CACHE_HOME/blip2-bench, else ~/.cache/blip2-bench."""
    if os.environ.get("BLIP2_CACHE"):
        return Path(os.environ["BLIP2_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "blip2-bench"


@lru_cache(maxsize=1)
def _code_and_versions() -> str:
    """The model code and the libraries that decide a count; a change in either invalidates the cache."""
    digest = hashlib.sha256()
    for file in sorted((Path(__file__).parent / "models").glob("*.py")):
        digest.update(file.read_bytes())
    for package in ("torch", "transformers", "timm"):
        try:
            digest.update(f"{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f"{package}=none".encode())
    return digest.hexdigest()


def cache_key(name: str) -> str:
    config = json.dumps(zoo.get(name).config().to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(f"{config}|{_code_and_versions()}".encode()).hexdigest()


def measure(name: str) -> dict[str, int]:
    """Build `name` on the meta device and count: the trainable part is what BLIP-2 trains (for a stage-1
    model, everything but the ViT: the Q-Former with its heads, as the paper's 188M)."""
    import torch

    from .api import count_parameters, freeze_frozen_parts
    from .models.build import build_model

    with torch.device("meta"):
        model = build_model(zoo.get(name).config())
    freeze_frozen_parts(model)
    counts = count_parameters(model)
    non_vit = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("vision."))
    return {"trainable": non_vit if model.cfg.is_stage1 else counts.trainable, "total": counts.total}


def parameter_rows(names: list[str] | None = None) -> list[dict]:
    """One row per model: our trainable and total counts (cached), and the paper's beside them."""
    file = cache_dir() / CACHE_NAME
    try:
        cache = json.loads(file.read_text())
    except (OSError, ValueError):
        cache = {}
    rows, changed = [], False
    for name in names or list(PAPER):
        key = cache_key(name)
        if not isinstance(cache.get(key), dict):
            cache[key] = measure(name)
            changed = True
        paper_trainable, paper_total = PAPER.get(name, ("-", "-"))
        rows.append({"model": name, **cache[key], "paper_trainable": paper_trainable, "paper_total": paper_total})
    if changed:
        _save(file, cache)
    return rows


def _save(file: Path, cache: dict) -> None:
    """Best effort: a cache that cannot be written only costs the next call the time to measure again."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
        os.replace(tmp, file)
    except OSError:
        pass
