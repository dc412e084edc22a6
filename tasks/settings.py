"""Frozen, JSON-serialisable evaluation settings.

A result is only comparable with the paper when the settings that produced it are known, so every
setting lives in a frozen dataclass that a run records verbatim (``to_dict``) and that can only be
changed by building a new object through ``with_overrides`` (which rejects unknown keys and bad
values instead of ignoring them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from tasks.errors import TaskError

LLM_FAMILIES: tuple[str, ...] = ("opt", "t5")

_S = TypeVar("_S", "GenerationSettings", "RetrievalSettings")


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    """How a generative task builds prompts and decodes (one LLM family, one variant)."""

    prompt: str
    image_size: int
    num_beams: int
    max_new_tokens: int
    min_new_tokens: int
    length_penalty: float
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        _check_positive_int(self, "image_size")
        _check_positive_int(self, "num_beams")
        _check_positive_int(self, "max_new_tokens", allow_zero=False)
        _check_positive_int(self, "min_new_tokens", allow_zero=True)
        if self.min_new_tokens > self.max_new_tokens:
            raise TaskError(
                f"setting min_new_tokens={self.min_new_tokens} exceeds max_new_tokens={self.max_new_tokens}"
            )
        _check_float(self, "length_penalty")
        _check_float(self, "repetition_penalty")
        if not isinstance(self.prompt, str):
            raise TaskError(f"setting prompt must be a string, got {type(self.prompt).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> GenerationSettings:
        return _replace(self, overrides)

    def format_prompt(self, question: str | None) -> str:
        """The text given to the LLM: the prompt with the (preprocessed) question filled in, if any."""
        if question is None:
            return self.prompt
        return self.prompt.format(question)


@dataclasses.dataclass(frozen=True)
class RetrievalSettings:
    """How a retrieval task ranks: ITC top-k candidates re-ranked by ITM."""

    image_size: int
    k_test: int
    max_text_tokens: int
    max_caption_words: int = 50

    def __post_init__(self) -> None:
        for name in ("image_size", "k_test", "max_text_tokens", "max_caption_words"):
            _check_positive_int(self, name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> RetrievalSettings:
        return _replace(self, overrides)


def _replace(settings: _S, overrides: Mapping[str, Any] | None) -> _S:
    if not overrides:
        return settings
    known = {field.name: field for field in dataclasses.fields(settings)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise TaskError(
            f"unknown setting(s) {', '.join(unknown)} for {type(settings).__name__}; "
            f"known settings: {', '.join(known)}"
        )
    coerced = {name: _coerce(name, value, getattr(settings, name)) for name, value in overrides.items()}
    return dataclasses.replace(settings, **coerced)


def _coerce(name: str, value: Any, current: Any) -> Any:
    """Accept command-line strings for numeric settings; refuse anything that is not a clean value."""
    if isinstance(current, bool) or isinstance(value, bool):
        raise TaskError(f"setting {name}: booleans are not accepted, got {value!r}")
    try:
        if isinstance(current, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(current, float):
            return float(value)
    except (TypeError, ValueError):
        wanted = "an integer" if isinstance(current, int) else "a number"
        raise TaskError(f"setting {name} must be {wanted}, got {value!r}") from None
    if isinstance(current, str) and not isinstance(value, str):
        raise TaskError(f"setting {name} must be a string, got {value!r}")
    return value


def _check_positive_int(settings: Any, name: str, allow_zero: bool = False) -> None:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        bound = ">= 0" if allow_zero else ">= 1"
        raise TaskError(f"setting {name} must be an integer {bound}, got {value!r}")


def _check_float(settings: Any, name: str) -> None:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TaskError(f"setting {name} must be a finite number, got {value!r}")
