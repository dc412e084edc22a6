"""Frozen parts stored once: a model folder may take its frozen image encoder or LLM from another file.

BLIP-2 trains a Q-Former between a frozen ViT and a frozen LLM, so every stage-2 model of one LLM carries the
same LLM tensors. A folder in our format may therefore leave such a part out of its ``model.safetensors`` and
name, in ``shared_parts.json``, the file that holds it. That file's sha256 is recorded when the model is saved
and checked when it is loaded: a backbone rebuilt since would otherwise change the model without a trace.

Each part maps the tensors of ``file`` whose keys start with ``select`` to the model keys ``prefix + key``
(the ViT's file also holds its ``ln_vision``, which BLIP-2 trains, so that part selects ``trunk.`` only).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..errors import ModelInputError
from .weights_io import MissingWeightsError, load_safetensors, sha256_file

SHARED_PARTS_NAME = "shared_parts.json"


class SharedPartError(ModelInputError, ValueError):
    """A shared part that is missing, changed since the model was saved, or does not fit the model."""


@dataclass(frozen=True)
class SharedPart:
    """Model keys ``prefix + k`` come from ``file`` (relative to the model folder), for its keys k that start
    with ``select``; ``sha256`` is the file's digest when the model was saved."""

    prefix: str
    file: str
    sha256: str
    select: str = ""


def part_tensors(path: Path, prefix: str, select: str) -> dict[str, torch.Tensor]:
    """The model-keyed tensors a part of ``path`` gives."""
    return {prefix + k: v for k, v in load_safetensors(path).items() if k.startswith(select)}


def first_difference(tensors: dict[str, torch.Tensor], shared: dict[str, torch.Tensor]) -> str | None:
    """The first key of ``shared`` that ``tensors`` lacks or holds with another value; None when it holds them all."""
    for key, value in shared.items():
        own = tensors.get(key)
        if own is None or own.shape != value.shape or not torch.equal(own, value.to(own.dtype)):
            return key
    return None


def split_shared(tensors: dict[str, torch.Tensor], directory: Path,
                 sources: dict[str, tuple[Path, str]]) -> tuple[dict[str, torch.Tensor], list[SharedPart]]:
    """Drop from ``tensors`` what ``sources`` (``{prefix: (file, select)}``) already hold; returns the tensors
    left to store and the parts to record.

    A part is shared only when every one of its tensors equals the model's (a fine-tuned ViT is not the frozen
    one), so saving and loading again gives the same model; anything else is an error naming the first
    tensor that differs.
    """
    own = dict(tensors)
    parts = []
    for prefix, (file, select) in sorted(sources.items()):
        shared = part_tensors(Path(file), prefix, select)
        if (key := first_difference(own, shared)) is not None:
            raise SharedPartError(f"{key} differs from {file}: that part was trained (or is another file's), "
                                  "so it cannot be shared; save it with the model instead")
        for key in shared:
            del own[key]
        parts.append(SharedPart(prefix, os.path.relpath(Path(file).resolve(), Path(directory).resolve()),
                                sha256_file(Path(file)), select))
    return own, parts


def write_parts(directory: Path, parts: list[SharedPart]) -> None:
    """Record the parts (or remove an old record when there are none), written to a temporary name first."""
    path = Path(directory) / SHARED_PARTS_NAME
    if not parts:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps([asdict(p) for p in parts], indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_parts(directory: Path) -> list[SharedPart]:
    """The parts a folder records; none when it has no ``shared_parts.json``."""
    path = Path(directory) / SHARED_PARTS_NAME
    if not path.is_file():
        return []
    try:
        return [SharedPart(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    except (json.JSONDecodeError, TypeError) as exc:
        raise SharedPartError(f"{path}: not a list of shared parts ({exc}); save the model again") from None


def load_parts(directory: Path, parts: list[SharedPart]) -> tuple[dict[str, torch.Tensor], list[Path]]:
    """The tensors of every part, each file checked against the digest recorded at saving; and the files."""
    state: dict[str, torch.Tensor] = {}
    files = []
    for part in parts:
        path = (Path(directory) / part.file).resolve()
        if not path.is_file():
            raise MissingWeightsError(f"{directory}/{SHARED_PARTS_NAME}: its {part.prefix!r} part {path} is "
                                      "missing; restore that file, or save the model with the part included")
        found = sha256_file(path)
        if found != part.sha256:
            raise SharedPartError(f"{directory}: its {part.prefix!r} part {path} has sha256 {found}, not the "
                                  f"{part.sha256} it was saved with: the file was rebuilt or replaced since. "
                                  "Restore it, or rebuild the model from it")
        state.update(part_tensors(path, part.prefix, part.select))
        files.append(path)
    return state, files
