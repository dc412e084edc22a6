"""Reading weight files safely: safetensors first, pickles only with `weights_only=True`."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file


class UnsafeCheckpointError(ValueError):
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


WEIGHT_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json", "model.safetensors",
                "pytorch_model.bin")


def has_weight_files(directory: Path) -> bool:
    """Whether a transformers-style folder holds weights (a cache can hold only a tokenizer)."""
    return any((Path(directory) / name).exists() for name in WEIGHT_FILES)


def read_weight_files(directory: Path) -> tuple[dict[str, torch.Tensor], list[Path]]:
    """All tensors of a transformers-style folder (single or sharded; safetensors preferred)."""
    for index_name, loader in (("model.safetensors.index.json", load_file),
                               ("pytorch_model.bin.index.json", load_pickle_weights)):
        index = directory / index_name
        if index.exists():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            files = [directory / s for s in shards]
            state: dict[str, torch.Tensor] = {}
            for f in files:
                state.update(loader(f))
            return state, files
    for name, loader in (("model.safetensors", load_file), ("pytorch_model.bin", load_pickle_weights)):
        f = directory / name
        if f.exists():
            return loader(f), [f]
    raise FileNotFoundError(
        f"{directory}: no weights found (looked for model.safetensors, model.safetensors.index.json, "
        "pytorch_model.bin, pytorch_model.bin.index.json)"
    )
