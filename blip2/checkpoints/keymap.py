"""Explicit state-dict key mappings: ordered regex rules, with every leftover key reported.

A checkpoint format is a list of `(pattern, replacement)` rules. A source key
that no rule matches is *unexpected*; a model key that no source key reaches is
*missing*. Both are errors that list the keys, so a wrong mapping cannot pass
silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import torch

from ..errors import ModelInputError

Rule = tuple[str, str]


class CheckpointKeyError(ModelInputError, KeyError):
    """Raised when a checkpoint does not fit the model: lists the missing and unexpected keys."""

    def __init__(self, source: str, missing: Sequence[str], unexpected: Sequence[str]):
        self.missing, self.unexpected = list(missing), list(unexpected)
        lines = [f"checkpoint {source} does not match the model:"]
        if missing:
            lines.append(f"  missing ({len(missing)}): " + ", ".join(_head(missing)))
        if unexpected:
            lines.append(f"  unexpected ({len(unexpected)}): " + ", ".join(_head(unexpected)))
        lines.append("  Check that the checkpoint's format (--arch / zoo name) matches the model.")
        super().__init__("\n".join(lines))

    def __str__(self) -> str:
        return self.args[0]


class WeightShapeError(ModelInputError, ValueError):
    """A checkpoint tensor whose shape differs from the model's: config and weights do not belong together."""


def _head(keys: Sequence[str], n: int = 40) -> list[str]:
    keys = sorted(keys)
    return keys if len(keys) <= n else keys[:n] + [f"... (+{len(keys) - n} more)"]


def rename(key: str, rules: Sequence[Rule]) -> str | None:
    """Apply the first matching rule (full match); None when no rule matches."""
    for pattern, repl in rules:
        if re.fullmatch(pattern, key):
            return re.sub(f"^{pattern}$", repl, key)
    return None


def map_state_dict(
    source: Mapping[str, torch.Tensor], rules: Sequence[Rule], drop: Iterable[str] = ()
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename every key; keys matching a `drop` pattern are discarded on purpose. Returns (mapped, unmatched)."""
    drop = list(drop)
    mapped, unmatched = {}, []
    for key, value in source.items():
        if any(re.fullmatch(p, key) for p in drop):
            continue
        new = rename(key, rules)
        if new is None:
            unmatched.append(key)
        elif new in mapped:
            raise ValueError(f"two checkpoint keys map to {new!r} (second: {key!r}); the key mapping is wrong")
        else:
            mapped[new] = value
    return mapped, unmatched


def tied_aliases(model: torch.nn.Module) -> dict[str, str]:
    """Map each tied alias (e.g. OPT's lm_head.weight) to the first name of the same tensor."""
    first: dict[int, str] = {}
    aliases = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        canonical = first.setdefault(id(tensor), name)
        if canonical != name:
            aliases[name] = canonical
    return aliases


def model_keys(model: torch.nn.Module) -> list[str]:
    """Keys a checkpoint must provide: parameters and persistent buffers, tied aliases counted once."""
    aliases = tied_aliases(model)
    return [k for k in model.state_dict(keep_vars=True) if k not in aliases]


def _fold_aliases(state: Mapping[str, torch.Tensor], aliases: Mapping[str, str], source: str) -> dict:
    """Store a tied tensor under its canonical name; refuse two different values for one tied tensor."""
    out = dict(state)
    for alias, canonical in aliases.items():
        if alias not in out:
            continue
        value = out.pop(alias)
        if canonical in out:
            if out[canonical].shape != value.shape or not torch.equal(out[canonical], value):
                raise ValueError(f"checkpoint {source}: {alias} and {canonical} are tied in the model "
                                 "but differ in the checkpoint")
        else:
            out[canonical] = value
    return out


def load_into(
    model: torch.nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    unmatched: Sequence[str] = (),
    allow_missing: Iterable[str] = (),
) -> list[str]:
    """Copy `state` into `model`, checking shapes and keys; returns the allowed-missing keys left at init."""
    allow = list(allow_missing)
    state = _fold_aliases(state, tied_aliases(model), source)
    expected = model_keys(model)
    missing = [k for k in expected if k not in state]
    left_at_init = [k for k in missing if any(re.fullmatch(p, k) for p in allow)]
    missing = [k for k in missing if k not in left_at_init]
    known = set(model.state_dict(keep_vars=True))
    unexpected = list(unmatched) + [k for k in state if k not in known]
    if missing or unexpected:
        raise CheckpointKeyError(source, missing, unexpected)
    own = model.state_dict(keep_vars=True)
    bad_shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state.items()
        if tuple(v.shape) != tuple(own[k].shape)
    ]
    if bad_shapes:
        raise WeightShapeError(f"checkpoint {source} has tensors of the wrong shape:\n  " + "\n  ".join(bad_shapes)
                               + "\n  Its weights do not fit the model its config (or --arch) describes: use the "
                               "config and weights of one checkpoint, or download it again")
    model.load_state_dict(dict(state), strict=False, assign=_on_meta(model))
    return left_at_init


def _on_meta(model: torch.nn.Module) -> bool:
    return any(p.is_meta for p in model.parameters())
