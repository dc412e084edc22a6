"""Shared helpers: JSON checks that raise a precise ``DataError``, and id checks that name the ids."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

from tasks.atomic import atomic_write_json
from tasks.errors import DataError, TaskInputError

_TYPE_NAMES = {int: "an integer", str: "a string", list: "a list", dict: "an object", float: "a number"}


def describe_type(value: Any) -> str:
    """JSON-ish name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


class JsonFile:
    """A JSON file being validated: every failure names the file, the place and the expected layout."""

    def __init__(
        self, path: str | os.PathLike[str], layout: str, error: type[TaskInputError] = DataError
    ) -> None:
        self.path = Path(path)
        self.layout = layout
        self.error = error

    def fail(self, where: str, problem: str) -> NoReturn:
        place = f" {where}:" if where else ""
        raise self.error(f"{self.path}:{place} {problem}. Expected {self.layout}")

    def load(self) -> Any:
        if not self.path.exists():
            raise self.error(f"missing file {self.path}. Expected {self.layout}")
        if not self.path.is_file():
            raise self.error(f"{self.path} is not a regular file. Expected {self.layout}")
        try:
            with self.path.open("rb") as handle:
                return json.load(handle)
        except json.JSONDecodeError as exc:
            self.fail("", f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
        except UnicodeDecodeError as exc:
            self.fail("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")

    def expect(self, value: Any, kind: type | tuple[type, ...], where: str) -> Any:
        """Return ``value`` if it has JSON type ``kind`` (booleans are never integers), else fail."""
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = any(isinstance(value, k) and not (isinstance(value, bool) and k in (int, float)) for k in kinds)
        if not ok:
            wanted = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            got = describe_type(value)
            if not isinstance(value, dict | list) and value is not None:
                got += f" ({_clip(repr(value))})"
            self.fail(where, f"must be {wanted}, got {got}")
        return value

    def field(self, obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
        """Return ``obj[key]`` checked against ``kind``; a missing key is reported as such."""
        if key not in obj:
            self.fail(where, f"field '{key}' is missing")
        return self.expect(obj[key], kind, f"{where}.{key}" if where else key)

    def non_empty_text(self, obj: dict[str, Any], key: str, where: str) -> str:
        text = self.field(obj, key, str, where)
        if not text.strip():
            self.fail(f"{where}.{key}", "is empty")
        return text


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_ids(ids: Any, limit: int = 10) -> str:
    """``'1, 2, 3 (and 7 more)'``: enough ids to find the problem without flooding the terminal."""
    items = list(ids)
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in items[:limit])
    if len(items) > limit:
        shown += f" (and {len(items) - limit} more)"
    return shown


def id_differences(expected: Iterable[Any], given: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """(missing, unknown): the expected ids ``given`` lacks, in expected order, and the given ids that are
    not expected, in given order. Every check that predictions cover a split or a reference set uses it."""
    expected, given = list(expected), list(given)
    expected_set, given_set = set(expected), set(given)
    return [key for key in expected if key not in given_set], [key for key in given if key not in expected_set]


def check_same_ids(expected: Iterable[Any], given: Iterable[Any], *, missing: str, unknown: str) -> None:
    """Raise ``ValueError`` naming (up to five of) the missing and unknown ids when the two sets differ.

    ``missing`` / ``unknown`` say what each kind is, e.g. "questions without a prediction"."""
    absent, extra = id_differences(expected, given)
    parts = []
    if absent:
        parts.append(f"{len(absent)} {missing} (e.g. {absent[:5]})")
    if extra:
        parts.append(f"{len(extra)} {unknown} (e.g. {extra[:5]})")
    if parts:
        raise ValueError("; ".join(parts))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write an official-format JSON file compactly (as the originals are) and atomically."""
    return atomic_write_json(path, obj, indent=None)
