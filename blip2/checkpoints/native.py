"""Our own format: `blip2_config.json` + `model.safetensors` + tokenizer folders (+ `shared_parts.json`).

It stores exactly what `blip2` builds, so a fine-tuned or trained model reloads
with no mapping at all, and tied tensors are written once. A frozen part (the ViT, the LLM) may be kept
in another file that several models share (`shared_parts`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ..config import Blip2Config
from ..errors import ModelInputError
from ..models.build import build_model
from .keymap import load_into, model_keys
from .shared_parts import SharedPartError, load_parts, read_parts, split_shared, write_parts
from .weights_io import MissingWeightsError, load_safetensors, save_safetensors

CONFIG_NAME = "blip2_config.json"
WEIGHTS_NAME = "model.safetensors"
# How a tokenizer was last *loaded*, which transformers writes back into tokenizer_config.json: `is_local`,
# and `local_files_only`, true with HF_HUB_OFFLINE set, else false. It says nothing about the tokenizer, and
# keeping it would make two saves of the same model differ by the environment they ran in.
LOAD_CONTEXT_KEYS = ("is_local", "local_files_only")


class NativeConfigError(ModelInputError, ValueError):
    """A blip2-bench folder whose config file cannot be read or does not describe a model."""


def is_native_dir(path: Path) -> bool:
    return (Path(path) / CONFIG_NAME).is_file()


def save_native(model: torch.nn.Module, directory: str | Path,
                shared: dict[str, tuple[Path, str]] | None = None) -> Path:
    """Write config, weights and tokenizers; files are written to temporary names, then renamed.

    ``shared`` (``{prefix: (file, select)}``, see `shared_parts.split_shared`) leaves frozen parts in the files
    that already hold them.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    tensors = {k: state[k].detach().contiguous().cpu() for k in model_keys(model)}
    tensors, parts = split_shared(tensors, directory, shared or {})
    save_safetensors(tensors, directory / WEIGHTS_NAME, metadata={"format": "pt", "producer": "blip2-bench"})
    write_parts(directory, parts)
    _write_json_atomic(directory / CONFIG_NAME, model.cfg.to_dict())
    for attr, sub in (("tokenizer", "tokenizer"), ("qformer_tokenizer", "qformer_tokenizer")):
        tok = getattr(model, attr, None)
        if tok is not None:
            tok.save_pretrained(directory / sub)
            _drop_load_context(directory / sub / "tokenizer_config.json")
    return directory


def _drop_load_context(path: Path) -> None:
    """Remove `LOAD_CONTEXT_KEYS` from a saved tokenizer config, so the saved bytes depend on the tokenizer
    alone (transformers sets them again when it loads the folder)."""
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    if any(k in config for k in LOAD_CONTEXT_KEYS):  # in transformers' own layout, final newline included
        _write_json_atomic(path, {k: v for k, v in config.items() if k not in LOAD_CONTEXT_KEYS}, end="\n")


def load_native(directory: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model from its config and load every tensor, strictly."""
    import transformers

    directory = Path(directory)
    try:
        cfg = Blip2Config.from_dict(json.loads((directory / CONFIG_NAME).read_text()))
    except (OSError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise NativeConfigError(f"{directory / CONFIG_NAME}: not a valid blip2-bench config ({exc}); save the "
                                "model again with blip2.save_model, or restore the file") from exc
    model = build_model(cfg)
    model.eval()
    weights = directory / WEIGHTS_NAME
    if not weights.exists():
        raise MissingWeightsError(f"{weights}: missing; a blip2-bench folder holds {CONFIG_NAME} and {WEIGHTS_NAME}. "
                                  "Copy or save the model again")
    state = load_safetensors(weights)
    shared, shared_files = load_parts(directory, read_parts(directory))
    if both := sorted(set(state) & set(shared)):
        raise SharedPartError(f"{directory}: {both[0]} (and {len(both) - 1} more) is both in {WEIGHTS_NAME} and in "
                              "a shared part; save the model again")
    load_into(model, {**state, **shared}, str(weights))
    for attr, sub in (("tokenizer", "tokenizer"), ("qformer_tokenizer", "qformer_tokenizer")):
        if (directory / sub).is_dir():
            setattr(model, attr, transformers.AutoTokenizer.from_pretrained(directory / sub))
    if hasattr(model, "bos_token_id") and model.tokenizer is not None:  # a stage-1 model's ITG starts at [DEC]
        model.bos_token_id = model.tokenizer.bos_token_id
    return model, {"format": "blip2-bench", "files": [str(weights), *map(str, shared_files)], "left_at_init": []}


def _write_json_atomic(path: Path, data: Any, end: str = "") -> None:
    """A plain `open` (the user's umask decides the mode, as for the weights) to a temporary name, then a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + end, encoding="utf-8")
    os.replace(tmp, path)
