"""A --model's architecture, read from its config before any data is built or any weight is loaded.

The toy analyses build a data root (seconds) and load a model before they can find out the model is the
wrong kind; this refuses such a model first, with a message naming the flag and the value.
"""

from __future__ import annotations

from blip2 import zoo
from blip2.checkpoints.peek import peek_config
from blip2.config import Blip2Config
from blip2.suggest import did_you_mean

from .errors import BenchError


def model_config(name: str, flag: str = "--model") -> Blip2Config:
    """The config of zoo name or folder `name`, or a BenchError naming `flag` when it cannot be read."""
    if not name.strip():
        raise BenchError(f"{flag} is empty; give a zoo name or a model folder (see `python -m bench list models`)")
    cfg = peek_config(name)
    if cfg is None:
        raise BenchError(unknown_model(name, flag, "not a zoo name or a model folder whose config can be read"))
    return cfg


def unknown_model(name: str, flag: str, what: str) -> str:
    """The message for a --model (or --arch) that names nothing: what it is not, a suggestion, where to look."""
    return f"{flag} {name!r}: {what}.{did_you_mean(name, zoo.names())} See `python -m bench list models`."


def check_llm(name: str, cfg: Blip2Config, wanted: bool, flag: str, example: str) -> None:
    """Refuse a model with an LLM where a stage-1 one is needed (`wanted` False), or the reverse."""
    if wanted and cfg.llm is None:
        raise BenchError(f"{flag} {name!r}: a stage-1 model with no LLM; this needs a model with an LLM "
                         f"(e.g. {example})")
    if not wanted and cfg.llm is not None:
        raise BenchError(f"{flag} {name!r}: a model with an LLM ({cfg.llm.family}); this needs a stage-1 or "
                         f"retrieval model (e.g. {example})")


def check_seed(seed: int, flag: str = "--seed") -> None:
    """numpy and torch refuse a negative seed with a traceback; refuse it here first."""
    if seed < 0:
        raise BenchError(f"{flag} must be 0 or more, not {seed}")
