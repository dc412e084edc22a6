"""Did a toy rebuild reproduce the committed one? Step-by-step loss traces and tensor-by-tensor weights.

A build records every training step's loss (`toy_build.json`, "losses"); the committed record
(`results/toy_build.json`) is the build whose weights are in `toyworld/models/`. Comparing traces names
the first step where a rebuild left the committed build's path, which is where to look for a
run-dependent kernel; comparing tensors says whether the weights came out the same (the safetensors files
differ byte for byte even when every tensor is equal).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from toyworld.errors import ToyError

BACKBONE_LOG = "toy_backbones/log.jsonl"


def loss_traces(output_root: Path, stages: list[str], backbones: bool = True) -> dict[str, list[float]]:
    """Each backbone's (unless not `backbones`: copied, not trained) and each recipe's per-step losses, read
    from the build's `log.jsonl` files."""
    traces: dict[str, list[float]] = {}
    backbone_log = output_root / BACKBONE_LOG
    if backbones and backbone_log.is_file():
        for line in backbone_log.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            traces.setdefault(f"backbone_{record['backbone'].lower()}", []).append(record["loss"])
    for stage in stages:
        log = output_root / stage / "log.jsonl"
        if log.is_file():
            traces[stage] = [json.loads(line)["loss"] for line in log.read_text(encoding="utf-8").splitlines()]
    return traces


def compare_traces(reference: dict[str, list[float]], current: dict[str, list[float]]) -> dict[str, str]:
    """Per step name: "identical (N steps)", "first differs at step S (ref -> now)", or what is missing."""
    verdicts = {}
    for name in sorted(set(reference) | set(current)):
        ref, now = reference.get(name), current.get(name)
        if ref is None or now is None:
            verdicts[name] = "not in the reference build" if ref is None else "not in this build"
            continue
        step = next((i for i, (a, b) in enumerate(zip(ref, now, strict=False)) if not _same_loss(a, b)), None)
        if step is not None:
            verdicts[name] = f"first differs at step {step + 1} (loss {ref[step]!r} -> {now[step]!r})"
        elif len(ref) != len(now):
            verdicts[name] = f"same first {min(len(ref), len(now))} steps, but {len(ref)} vs {len(now)} steps"
        else:
            verdicts[name] = f"identical ({len(ref)} steps)"
    return verdicts


def _same_loss(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def compare_weights(old: dict[str, torch.Tensor], new: dict[str, torch.Tensor]) -> str:
    """"identical" or how many tensors differ and by how much at most."""
    if set(old) != set(new):
        return f"different tensor names ({len(set(old) ^ set(new))} not in both)"
    differing = [k for k in old if old[k].shape != new[k].shape or not torch.equal(old[k], new[k])]
    if not differing:
        return f"identical ({len(old)} tensors)"
    gaps = [(old[k].float() - new[k].float()).abs().max().item() for k in differing if old[k].shape == new[k].shape]
    reshaped = len(differing) - len(gaps)
    return (f"{len(differing)} of {len(old)} tensors differ"
            + (f" (max |difference| {max(gaps):.3g})" if gaps else "")
            + (f", {reshaped} in shape" if reshaped else ""))


def read_reference(path: Path) -> tuple[float, dict[str, list[float]]] | None:
    """The committed build's (scale, traces), or None when there is no record; a broken record is named."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        scale, losses = float(record.get("scale", 1.0)), record["losses"]
        if not isinstance(losses, dict) or not all(
                isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) for v in losses.values()):
            raise TypeError("'losses' must map each step name to a list of numbers")
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ToyError(f"{path}: not a toy build record with loss traces ({exc}); restore it with "
                         f"`git checkout {path}`, or remove it to build without comparing") from exc
    return scale, losses
