"""The bootstrap behind every interval and every comparison: reweight whole units, recompute, read percentiles.

A data set is a set of independent *units* (an image with all its questions, or with all its references; a
retrieval query with its rank). A bootstrap resample draws as many units as there are, with replacement, and
is represented by how often each unit was drawn: a weight matrix ``[resamples, units]``. A metric that can be
recomputed from weights (a :class:`Statistic`) then gives one value per resample, and the 2.5th and 97.5th
percentiles of those values are the 95% interval (the percentile bootstrap).

Two properties the results promise come from here:
* **deterministic for a seed**: the draws come from ``numpy.random.default_rng([seed, unit set, chunk])``;
* **independent of sample order**: units are drawn in the order of their sorted keys, then mapped back, so the
  same units listed in another order get the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
LEVEL = 0.95
METHOD = "percentile bootstrap"
# resamples drawn (and evaluated) at a time: bounds memory at CHUNK x units; part of the algorithm, because
# each chunk has its own random stream
CHUNK = 50

MetricPath = tuple[str, ...]


class Statistic(Protocol):
    """Metrics recomputable on reweighted units.

    ``units`` names each unit set (usually just ``"image"``; retrieval has ``"image"`` and ``"text"``) with the
    keys of its units, in the order ``values`` expects its weight columns. ``point()`` is every metric at unit
    weights; ``values(weights)`` takes one ``[resamples, len(units[name])]`` matrix per unit set and returns
    one value per resample for each metric path (e.g. ``("accuracy_by_answer_type", "yes/no")``).
    ``unit_label`` says, for the result's ``ci`` block, what one unit is.
    """

    units: Mapping[str, Sequence[str]]
    unit_label: str | Mapping[str, str]

    def point(self) -> dict[MetricPath, float]: ...

    def values(self, weights: Mapping[str, np.ndarray]) -> dict[MetricPath, np.ndarray]: ...


def weight_chunks(units: Mapping[str, Sequence[str]], resamples: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
    """Yield bootstrap weights ``{unit set: float64 [<= CHUNK, n units]}`` until ``resamples`` rows are out.

    Each unit set is resampled on its own (retrieval's images and texts independently). A unit's weight is how
    many times it was drawn; every row sums to the number of units.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    orders = {name: np.argsort(np.asarray([str(k) for k in keys], dtype=object), kind="stable")
              for name, keys in units.items()}
    for number, start in enumerate(range(0, resamples, CHUNK)):
        rows = min(CHUNK, resamples - start)
        out: dict[str, np.ndarray] = {}
        for index, (name, order) in enumerate(sorted(orders.items())):
            size = len(order)
            rng = np.random.default_rng([seed, index, number])
            draws = rng.integers(0, size, size=(rows, size))
            flat = (np.arange(rows)[:, None] * size + draws).ravel()
            counts = np.bincount(flat, minlength=rows * size).reshape(rows, size).astype(np.float64)
            weights = np.empty_like(counts)
            weights[:, order] = counts  # column j of the sorted draw belongs to unit order[j]
            out[name] = weights
        yield out


def bootstrap(statistic: Statistic, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
              ) -> dict[MetricPath, np.ndarray]:
    """Every metric of ``statistic`` on ``resamples`` bootstrap resamples: ``{path: [resamples]}``."""
    parts: dict[MetricPath, list[np.ndarray]] = {}
    for weights in weight_chunks(statistic.units, resamples, seed):
        for path, values in statistic.values(weights).items():
            parts.setdefault(path, []).append(np.asarray(values, dtype=np.float64))
    return {path: np.concatenate(chunks) for path, chunks in parts.items()}


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of bootstrap values; NaN resamples (a subset drawn empty) are left out."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return (math.nan, math.nan)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return (float(low), float(high))


def intervals(statistic: Statistic, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
              ) -> dict[MetricPath, tuple[float, float]]:
    """The 95% percentile-bootstrap interval of every metric of ``statistic``."""
    return {path: percentile_interval(values) for path, values in bootstrap(statistic, resamples, seed).items()}


@dataclass(frozen=True)
class PairedDifference:
    """Run B against run A on the same units: both values, ``delta = b - a``, its interval and p-value."""

    a: float
    b: float
    delta: float
    low: float
    high: float
    p_value: float
    se: float

    def to_dict(self) -> dict[str, object]:
        return {"a": self.a, "b": self.b, "delta": self.delta, "ci95": [self.low, self.high],
                "p_value": self.p_value}


P_VALUE_METHOD = ("paired bootstrap: both runs are recomputed on the same resamples of their shared units; "
                  "delta's 95% interval is the percentile interval of the resampled deltas, and the two-sided "
                  "p-value is 2 * (1 - Phi(|delta| / SE)), SE being the resampled deltas' standard deviation "
                  "(a normal approximation, so p is not limited to multiples of 1/resamples)")
# Below this a p-value is shown as "<1e-4": a normal tail that far out says "significant" and nothing more.
P_FLOOR = 1e-4


def format_p(value: float) -> str:
    """A p-value as every report shows it: 3 significant digits, "<1e-4" below :data:`P_FLOOR`, "—" when NaN."""
    if value != value:
        return "—"
    return "1" if value >= 1 else f"{value:.3g}" if value >= P_FLOOR else "<1e-4"


def paired(a: Statistic, b: Statistic, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
           ) -> dict[MetricPath, PairedDifference]:
    """Compare two statistics built on the same units (same unit sets, same keys, same order)."""
    for name in set(a.units) | set(b.units):
        if list(a.units.get(name, ())) != list(b.units.get(name, ())):
            raise ValueError(f"the two runs' {name!r} units differ; build both on the samples they share")
    point_a, point_b = a.point(), b.point()
    parts: dict[MetricPath, list[np.ndarray]] = {}
    for weights in weight_chunks(a.units, resamples, seed):
        values_a, values_b = a.values(weights), b.values(weights)
        for path in values_a.keys() & values_b.keys():
            parts.setdefault(path, []).append(np.asarray(values_b[path]) - np.asarray(values_a[path]))
    out: dict[MetricPath, PairedDifference] = {}
    for path in sorted(point_a.keys() & point_b.keys() & parts.keys()):
        deltas = np.concatenate(parts[path])
        delta = point_b[path] - point_a[path]
        low, high = percentile_interval(deltas)
        finite = deltas[np.isfinite(deltas)]
        se = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
        out[path] = PairedDifference(point_a[path], point_b[path], delta, low, high, _p_value(delta, se), se)
    return out


def _p_value(delta: float, se: float) -> float:
    """Two-sided normal-approximation p-value of ``delta`` given its bootstrap standard error."""
    if se <= 1e-12 * max(1.0, abs(delta)):
        return 1.0 if abs(delta) <= 1e-12 else 0.0
    return math.erfc(abs(delta) / se / math.sqrt(2))
