"""Reading weight files safely (safetensors first, pickles only with `weights_only=True`), and writing them
reproducibly.

A file that cannot be parsed (empty, truncated, garbage) or a shard the index lists but the folder lacks
is a user error naming the file: an interrupted download is the usual cause, and downloading again the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from ..errors import ModelInputError

_REDOWNLOAD = ("An interrupted download is the usual cause: delete the file (or its hub cache folder) and "
               "download the checkpoint again.")


class UnsafeCheckpointError(ModelInputError, ValueError):
    """A pickled checkpoint that carries more than tensors (code objects, custom classes)."""


class CorruptWeightsError(ModelInputError, ValueError):
    """A weight file that cannot be parsed: empty, truncated or not a weights file at all."""


class MissingWeightsError(ModelInputError, FileNotFoundError):
    """A weight file (or a shard its index lists) is not there."""


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a `.safetensors` file; a damaged or missing file is an error naming it."""
    if not Path(path).is_file():
        raise MissingWeightsError(f"{path}: weight file missing. {_REDOWNLOAD}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CorruptWeightsError(f"{path}: not a readable safetensors file ({exc}); it is empty, truncated "
                                  f"or not a weights file. {_REDOWNLOAD}") from None


def save_safetensors(tensors: dict[str, torch.Tensor], path: str | Path,
                     metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` so that equal tensors and metadata always give the same bytes, atomically.

    The safetensors library keeps ``__metadata__`` in a hash map, so with two keys or more their order in the
    header changes from one process to the next: a rebuild with identical tensors would get a new sha256, and
    with it new run-folder fingerprints and a failing ``--expect-sha256``. The header is rewritten here with
    sorted metadata keys (tensor offsets are relative to the header's end, so only its length prefix changes).
    """
    raw = safetensors_bytes(tensors, metadata=metadata)
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format's 8-byte alignment of the data
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(len(text).to_bytes(8, "little") + text + raw[8 + size:])
    os.replace(tmp, path)
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed so multi-GB checkpoints don't fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_pickle_weights(path: Path) -> dict:
    """`torch.load(weights_only=True)`: tensors and plain containers only, never arbitrary objects."""
    if not Path(path).is_file():
        raise MissingWeightsError(f"{path}: weight file missing. {_REDOWNLOAD}")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip archive, or a legacy pickle
        what = "empty (0 bytes)" if not head else f"not a PyTorch weights file (it starts with {head!r})"
        raise CorruptWeightsError(f"{path}: the weight file is {what}. {_REDOWNLOAD}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"{path}: refused to unpickle it; it holds objects beyond tensors and plain containers, and "
            f"loading those could run code. Convert it to safetensors in a trusted environment. ({exc})"
        ) from exc
    except (EOFError, OSError, RuntimeError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        # torch.load's errors for a cut-off zip, a stray byte stream or a bad magic number
        raise CorruptWeightsError(f"{path}: not a readable PyTorch weights file ({type(exc).__name__}: {exc}); "
                                  f"it is truncated or not a checkpoint. {_REDOWNLOAD}") from None


# A transformers folder's weights, in the order they are looked for: shard indexes first, safetensors first.
_WEIGHT_FILES = (
    ("model.safetensors.index.json", load_safetensors),
    ("pytorch_model.bin.index.json", load_pickle_weights),
    ("model.safetensors", load_safetensors),
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
        files = _shard_files(path)
        state: dict[str, torch.Tensor] = {}
        for f in files:
            state.update(loader(f))
        return state, files
    raise MissingWeightsError(
        f"{directory}: no weights found (looked for {', '.join(name for name, _ in _WEIGHT_FILES)})"
    )


def _shard_files(index: Path) -> list[Path]:
    """The shards a `*.index.json` lists, all checked present before any is read."""
    try:
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptWeightsError(f"{index}: not a readable shard index (a JSON object with a 'weight_map'; "
                                  f"{type(exc).__name__}: {exc}). {_REDOWNLOAD}") from None
    files = [index.parent / str(s) for s in shards]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise MissingWeightsError(f"{index.parent}: {len(missing)} of the {len(files)} shard(s) that {index.name} "
                                  f"lists are missing ({', '.join(missing[:5])}). {_REDOWNLOAD}")
    return files
