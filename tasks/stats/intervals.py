"""A result's ``ci95`` and ``ci`` blocks: the interval of every metric a statistic covers, and what it does not.

``ci95`` mirrors ``metrics``: the same nesting (answer types, question types, NoCaps domains), with
``[low, high]`` in place of each number that has an interval. ``ci`` says how they were made (method, level,
unit, resamples, seed) and lists each metric without one, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED, LEVEL, METHOD, MetricPath, Statistic, intervals

DIGITS = 4  # the intervals' own noise is far above 1e-4 points


def interval_blocks(
    statistic: Statistic,
    metrics: Mapping[str, Any],
    not_covered: Mapping[str, str],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(ci95, ci)`` for ``metrics``: every number in ``metrics`` gets an interval or a reason in ``not_covered``.

    A number the statistic does not cover and ``not_covered`` does not explain is a programming error (a
    metric that would silently go without its interval), so it raises.
    """
    found = intervals(statistic, resamples, seed)
    ci95: dict[str, Any] = {}
    missing: dict[str, str] = dict(not_covered)
    for path in numeric_paths(metrics):
        if path in found and all(math.isfinite(x) for x in found[path]):
            _put(ci95, path, [round(found[path][0], DIGITS), round(found[path][1], DIGITS)])
        elif ".".join(path) not in missing and path[-1] not in missing and path[0] not in missing:
            raise ValueError(f"metric {'.'.join(path)} has neither an interval nor a reason for lacking one")
    ci = {
        "method": METHOD,
        "level": LEVEL,
        "unit": statistic.unit_label if isinstance(statistic.unit_label, str) else dict(statistic.unit_label),
        "n_units": {name: len(keys) for name, keys in statistic.units.items()},
        "resamples": resamples,
        "seed": seed,
        "not_covered": missing,
    }
    return ci95, ci


def switched_off(reason: str) -> dict[str, Any]:
    """The ``ci`` block of a result scored without intervals."""
    return {"method": None, "resamples": 0, "not_covered": {"*": reason}}


def numeric_paths(metrics: Mapping[str, Any], prefix: MetricPath = ()) -> list[MetricPath]:
    """The path of every number in a metrics dict (``by_domain``'s sample counts ``n`` are not metrics)."""
    paths: list[MetricPath] = []
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            paths += numeric_paths(value, (*prefix, key))
        elif isinstance(value, int | float) and not isinstance(value, bool) and not (prefix and key == "n"):
            paths.append((*prefix, key))
    return paths


def _put(tree: dict[str, Any], path: MetricPath, value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value
