"""``bench compare``'s report: the JSON object and the Markdown page built from two paired runs.

Kept apart from :mod:`bench.compare` (which pairs runs and is shared with the CI gate) so each stays short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import markdown
from bench.compare import (
    NO_STATISTIC,
    CompareError,
    changed_samples,
    check_same_split,
    load_side,
    nest,
    not_covered,
    pair_runs,
    statistic_of,
)
from tasks.stats.intervals import numeric_paths
from tasks.stats.resample import P_VALUE_METHOD, format_p

TITLES = {"right_to_wrong": "right to wrong (accuracy fell)", "wrong_to_right": "wrong to right (accuracy rose)",
          "image_queries": "image queries whose rank moved", "text_queries": "text queries whose rank moved",
          "CIDEr_moved": "images whose CIDEr moved"}
NOT_COVERED = "not rebuilt from per-sample records by the task's statistic (e.g. METEOR and SPICE run in Java)"


def compare_runs(path_a: Path, path_b: Path, resamples: int, seed: int, top: int) -> dict[str, Any]:
    """The comparison of run B with run A as a JSON-ready dict (see docs/leaderboard.md for its keys)."""
    a, b = load_side(path_a), load_side(path_b)
    check_same_split(a, b)
    report: dict[str, Any] = {
        "task": a.result.task,
        "split": a.result.split,
        "a": {"run": a.result.run, "folder": str(a.folder)},
        "b": {"run": b.result.run, "folder": str(b.folder)},
        "shared": None,
        "method": P_VALUE_METHOD,
        "resamples": resamples,
        "seed": seed,
        "metrics": {},
        "not_compared": {},
        "changed": {},
    }
    if statistic_of(a.result.task) is None:
        report["not_compared"] = not_covered(a, b, [], f"{NO_STATISTIC}: whole-run values, not paired")
        return report
    pairing = pair_runs(a, b, resamples, seed)
    report["shared"] = pairing.counts()
    listed = [path for path in numeric_paths(a.result.metrics) if path in pairing.differences]  # metrics.json's order
    order = listed + [path for path in pairing.differences if path not in listed]
    report["metrics"] = nest({path: pairing.differences[path].to_dict() for path in order})
    report["not_compared"] = not_covered(a, b, list(pairing.differences), NOT_COVERED + ": whole-run values")
    report["changed"] = changed_samples(pairing, top)
    return report


def metric_leaves(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, dict[str, Any]]]:
    """``("by_domain.in-domain.CIDEr", {"a", "b", "delta", "ci95", "p_value"})`` for each metric of a report."""
    out: list[tuple[str, dict[str, Any]]] = []
    for key, value in tree.items():
        if isinstance(value, dict) and "delta" in value and "a" in value:
            out.append((".".join((*prefix, key)), value))
        elif isinstance(value, dict):
            out += metric_leaves(value, (*prefix, key))
    return out


def _num(value: Any, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def to_markdown(report: dict[str, Any]) -> str:
    """A readable page: the sample counts, one row per metric (A, B, Δ, 95% CI, p) and the changed samples."""
    a, b = report["a"], report["b"]
    lines = [f"### {report['task']} {report['split']}: {b['run']} (B) vs {a['run']} (A)", "",
             f"- A: `{a['folder']}`", f"- B: `{b['folder']}`"]
    if report["shared"] is not None:
        s = report["shared"]
        lines.append(f"- samples: {s['shared']} shared, {s['only_a']} only in A, {s['only_b']} only in B; "
                     "every number below is on the shared samples")
        lines.append(f"- Δ = B − A; {report['resamples']} resamples, seed {report['seed']}; {report['method']}")
    rows = [[name, _num(leaf["a"]), _num(leaf["b"]), _num(leaf["delta"], True),
             f"[{leaf['ci95'][0]:+.2f}, {leaf['ci95'][1]:+.2f}]", format_p(leaf["p_value"])]
            for name, leaf in metric_leaves(report["metrics"])]
    rows += [[name, _num(leaf["a"]), _num(leaf["b"]), _num(leaf["delta"], True), "—", "—"]
             for name, leaf in report["not_compared"].items()]
    lines += ["", markdown.table(["metric", "A", "B", "Δ", "95% CI", "p"], rows, "lrrrrr")]
    reasons = sorted({leaf["reason"] for leaf in report["not_compared"].values()})
    lines += [f"\nRows without an interval: {reason}." for reason in reasons]
    lines += _changed_markdown(report["changed"])
    return "\n".join(lines) + "\n"


def _changed_markdown(changed: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, block in changed.items():
        title = TITLES.get(name, name.replace("_", " "))
        lines += ["", f"#### {title}: {block['count']} sample(s)" + (", the largest moves:" if block["top"] else "")]
        if not block["top"]:
            continue
        if "a_rank" in block["top"][0]:
            rows = [[m["id"], m.get("text", ""), m["a_rank"], m["b_rank"], f"{m['delta']:+d}"]
                    for m in block["top"]]
            lines += ["", markdown.table(["id", "text", "rank A", "rank B", "Δ rank"], rows, "llrrr")]
        else:
            score = next(k for k in block["top"][0]["a"] if k != "prediction")
            rows = [[m["id"], m.get("image", ""), m["a"]["prediction"], _num(m["a"][score]),
                     m["b"]["prediction"], _num(m["b"][score])] for m in block["top"]]
            lines += ["", markdown.table(["id", "image", "prediction A", score + " A", "prediction B", score + " B"],
                                         rows, "lllrlr")]
    return lines


__all__ = ["CompareError", "compare_runs", "metric_leaves", "to_markdown"]
