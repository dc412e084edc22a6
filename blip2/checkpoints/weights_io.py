"""Reading weight files safely: safetensors first, pickles only with `weights_only=True`."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file

from ..errors import ModelInputError


class UnsafeCheckpointError(ModelInputError, ValueError):
    """A pickled checkpoint that carries more than tensors (code objects, custom classes)."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed so multi-GB checkpoints don't fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_pickle_weights(path: Path) -> dict:
    """`torch.load(weights_only=True)`: tensors and plain containers only, never arbitrary objects."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"{path}: refused to unpickle it; it holds objects beyond tensors and plain containers, and "
            f"loading those could run code. Convert it to safetensors in a trusted environment. ({exc})"
        ) from exc


# A transformers folder's weights, in the order they are looked for: shard indexes first, safetensors first.
_WEIGHT_FILES = (
    ("model.safetensors.index.json", load_file),
    ("pytorch_model.bin.index.json", load_pickle_weights),
    ("model.safetensors", load_file),
    ("pytorch_model.bin", load_pickle_weights),
)


def has_weight_files(directory: Path) -> bool:
    """Whether a transformers-style folder holds weights (a cache can hold only a tokenizer)."""
    return any((Path(directory) / name).exists() for name, _ in _WEIGHT_FILES)


def read_weight_files(directory: Path) -> tuple[dict[str, torch.Tensor], list[Path]]:
    """All tensors of a transformers-style folder (single or sharded; safetensors preferred)."""
    for name, loader in _WEIGHT_FILES:
        path = directory / name
        if not path.exists():
            continue
        if not name.endswith(".index.json"):
            return loader(path), [path]
        shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
        files = [directory / s for s in shards]
        state: dict[str, torch.Tensor] = {}
        for f in files:
            state.update(loader(f))
        return state, files
    raise FileNotFoundError(
        f"{directory}: no weights found (looked for {', '.join(name for name, _ in _WEIGHT_FILES)})"
    )
