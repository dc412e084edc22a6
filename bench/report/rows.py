"""What the sample browser shows of one run (or of a pair of runs): its rows, their columns and filters.

The builders (:mod:`bench.report.samples` for VQA and captioning, :mod:`bench.report.retrieval`) make these; the
chunk writer and the pages read them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VQA, CAPTION, RETRIEVAL = "vqa", "caption", "retrieval"
Thumb = Callable[[Path | None], str | None]


@dataclass(frozen=True)
class Facet:
    """One filter: its values and, per row, the index of the row's value (-1: the row has none)."""

    key: str
    label: str
    values: tuple[str, ...]
    codes: list[int]

    def counts(self) -> list[int]:
        counted = Counter(self.codes)
        return [counted.get(i, 0) for i in range(len(self.values))]


@dataclass
class SampleTable:
    """What the browser shows of one run (or of a pair of runs): rows, their columns and filters."""

    kind: str
    columns: list[dict[str, str]]  # {"key", "label", "type"}: which row keys to show, and how
    rows: list[dict[str, Any]]
    facets: list[Facet]
    keys: list[str] = field(default_factory=list)  # bench.compare.sample_key of each row: pairs two runs' rows
    scores: list[float] = field(default_factory=list)  # each row's own score (accuracy, CIDEr or rank)
    notes: list[str] = field(default_factory=list)
    header: list[tuple[str, str]] = field(default_factory=list)  # ("prompt", "a photo of"), shown above the rows
    side_columns: list[dict[str, str]] = field(default_factory=list)  # a compare table's per-run columns (A, B)


def fmt(value: float) -> str:
    """A score as a reader wants it: one decimal, none when it is whole (89.99999999999999 -> "90")."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
