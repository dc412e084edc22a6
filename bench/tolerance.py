"""Per-metric tolerances, given on the command line as ``METRIC=DELTA`` (absolute points, 0-100 scale).

The leaderboard and the CI gate share this so a typo like ``CIDer=1`` is an error instead of a silently
ignored tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bench.errors import BenchError
from tasks.registry import CAPTION_METRICS, RETRIEVAL_METRICS

METRIC_NAMES: tuple[str, ...] = ("accuracy", *CAPTION_METRICS, *RETRIEVAL_METRICS)
# Float noise must not turn an exact 0.5-point gap into "differs".
EPSILON = 1e-9


class ToleranceError(BenchError):
    """A ``--tolerance`` value that is not ``METRIC=DELTA`` with a known metric and a number >= 0."""


@dataclass(frozen=True)
class Tolerances:
    """A default delta plus per-metric overrides."""

    default: float
    per_metric: Mapping[str, float] = field(default_factory=dict)

    def for_metric(self, metric: str) -> float:
        return self.per_metric.get(metric, self.default)

    def describe(self) -> str:
        """Human text for table footnotes, e.g. ``0.5 points (CIDEr: 1.0)``."""
        text = f"{self.default:g} points"
        if self.per_metric:
            text += " (" + ", ".join(f"{m}: {d:g}" for m, d in sorted(self.per_metric.items())) + ")"
        return text


def parse_tolerances(specs: Iterable[str] | None, default: float) -> Tolerances:
    """Parse ``METRIC=DELTA`` items; ``default=DELTA`` replaces the default for every other metric."""
    per_metric: dict[str, float] = {}
    for spec in specs or ():
        name, sep, raw = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ToleranceError(f"--tolerance {spec!r}: expected METRIC=DELTA, e.g. CIDEr=1.0 or default=0.5")
        try:
            delta = float(raw)
        except ValueError:
            raise ToleranceError(f"--tolerance {spec!r}: {raw!r} is not a number") from None
        if not math.isfinite(delta) or delta < 0:
            raise ToleranceError(f"--tolerance {spec!r}: the delta must be a finite number >= 0")
        if name == "default":
            default = delta
        elif name in METRIC_NAMES:
            per_metric[name] = delta
        else:
            raise ToleranceError(
                f"--tolerance {spec!r}: unknown metric {name!r}; known metrics: {', '.join(METRIC_NAMES)}, default"
            )
    return Tolerances(default, per_metric)


def within(delta: float, tolerance: float) -> bool:
    """``|delta| <= tolerance``, forgiving float noise."""
    return abs(delta) <= tolerance + EPSILON
