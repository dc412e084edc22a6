"""A compare page's data: ``bench compare``'s paired metrics, and the samples whose own score changed, A beside B.

The metrics (Δ = B − A, paired 95% interval, p-value) are :func:`bench.compare_report.compare_runs`' report as is.
The samples are paired by :func:`bench.compare.sample_key`, as ``bench compare`` pairs them, and a sample is
listed when its own score moved (VQA accuracy, caption CIDEr, retrieval rank): the samples ``bench compare``
counts under "changed", so the page's counts equal its counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.compare_report import compare_runs
from bench.report.inputs import ReportRun
from bench.report.rows import CAPTION, RETRIEVAL, Facet, SampleTable

SIDE_KEYS = ("p", "s", "sc", "o", "top_t", "top_i")  # what differs between the two runs of a sample; the rest is shared
CHANGES = {
    "vqa": ("accuracy fell in B (right → wrong)", "accuracy rose in B (wrong → right)"),
    CAPTION: ("CIDEr fell in B", "CIDEr rose in B"),
    RETRIEVAL: ("rank worse in B (the true match fell)", "rank better in B (the true match rose)"),
}


@dataclass(frozen=True)
class Comparison:
    """Two runs of one task and split: ``bench compare``'s report and the changed samples side by side."""

    a: ReportRun
    b: ReportRun
    report: dict[str, Any]
    table: SampleTable | None

    @property
    def slug(self) -> str:
        return f"{self.a.slug}--vs--{self.b.slug}"

    @property
    def changed(self) -> int | None:
        """How many samples changed, as ``bench compare`` counts them (None: the task has no per-sample records)."""
        blocks = self.report.get("changed") or {}
        return sum(block["count"] for block in blocks.values()) if blocks else None


def compare(a: ReportRun, b: ReportRun, table_a: SampleTable | None, table_b: SampleTable | None,
            resamples: int, seed: int) -> Comparison:
    """Pair two runs (raises :class:`bench.compare.CompareError` when they cannot be paired)."""
    report = compare_runs(a.folder, b.folder, resamples, seed, top=0)
    if table_a is None or table_b is None:
        return Comparison(a, b, report, None)
    return Comparison(a, b, report, changed_table(table_a, table_b))


def changed_table(a: SampleTable, b: SampleTable) -> SampleTable:
    """The rows of ``a`` whose score differs in ``b`` (shared samples only), each holding both runs' sides."""
    in_b = {key: i for i, key in enumerate(b.keys)}
    worse_if_higher = a.kind == RETRIEVAL  # a higher rank is worse; a higher accuracy or CIDEr is better
    rows, keys, scores, change, kept = [], [], [], [], []
    for i, key in enumerate(a.keys):
        j = in_b.get(key)
        if j is None or a.scores[i] == b.scores[j]:
            continue
        row_a, row_b = a.rows[i], b.rows[j]
        row = {k: v for k, v in row_a.items() if k not in SIDE_KEYS}
        row["A"] = {k: row_a[k] for k in SIDE_KEYS if k in row_a}
        row["B"] = {k: row_b[k] for k in SIDE_KEYS if k in row_b}
        rows.append(row)
        keys.append(key)
        scores.append(b.scores[j] - a.scores[i])
        change.append(0 if (b.scores[j] > a.scores[i]) == worse_if_higher else 1)
        row["sc"] = ("bad", "good")[change[-1]]  # the card's edge: red where B is worse, green where better
        kept.append(i)
    facets = [Facet("change", "change", CHANGES.get(a.kind, ("worse in B", "better in B")), change)]
    facets += [Facet(f.key, f.label, f.values, [f.codes[i] for i in kept]) for f in a.facets if f.key != "score"]
    columns = [c for c in a.columns if c["key"] not in SIDE_KEYS]
    side_columns = [c for c in a.columns if c["key"] in SIDE_KEYS]
    return SampleTable(a.kind, columns, rows, facets, keys, scores, [], list(a.header), side_columns)
