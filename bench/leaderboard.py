"""Set our runs beside the paper's numbers: ``leaderboard.csv``, ``leaderboard.md`` and ``leaderboard.png``.

The long frame built here (one metric per row) is the CSV; the Markdown opens with its pivots
(:mod:`bench.leaderboard_pivot`) and the PNG plots them (:mod:`bench.leaderboard_plot`).

Every BLIP-2 row of the paper gets a row, run or not, so the table also shows what is left to reproduce
(and what cannot be, because no checkpoint was released). A run is matched to paper rows through its zoo
name (``provenance.zoo``, or its run name when that is a zoo name); anything else a run measured is listed
as "not in paper" so nothing measured is hidden.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from bench import markdown
from bench.leaderboard_pivot import OTHER, PAPER, TOY, PivotTable, pivot_tables, table_markdown
from bench.leaderboard_status import (
    DIFFERS,
    NO_CHECKPOINT,
    NOT_IN_PAPER,
    NOT_RUN,
    NOT_SCORED,
    PARTIAL,
    REPRODUCED,
    STATUS_NOTES,
    TOO_FEW,
)
from bench.paper import TABLE_TITLES, is_blip2_row
from bench.tolerance import Tolerances, within
from bench.toy_references import ToyReferences
from blip2 import zoo
from tasks.atomic import atomic_write, atomic_write_text
from toyworld import TOY_MODELS

COLUMNS = (
    "table",
    "model",
    "run",
    "task",
    "split",
    "subset",
    "metric",
    "paper",
    "ours",
    "low",
    "high",
    "delta",
    "tolerance",
    "status",
    "n",
)
MATCH = ["task", "split", "subset", "metric"]
DEFAULT_TOLERANCE = 0.5


def _released(model: str) -> bool:
    return model in zoo.ZOO and zoo.get(model).released


def _status(row: pd.Series) -> str:
    if pd.isna(row["run"]):
        return NOT_RUN if _released(row["model"]) else NO_CHECKPOINT
    if pd.isna(row["ours"]):
        return NOT_SCORED
    if not row["vs_paper"]:
        return PARTIAL
    # the interval never widens the rule; it only says when the run is too small for the rule to mean anything
    if pd.notna(row["high"]) and (row["high"] - row["low"]) / 2 > row["tolerance"]:
        return TOO_FEW
    return REPRODUCED if within(row["ours"] - row["paper"], row["tolerance"]) else DIFFERS


def build_leaderboard(paper: pd.DataFrame, results: pd.DataFrame, tolerances: Tolerances) -> pd.DataFrame:
    """Paper rows (in the paper's order) joined with the runs, then the runs' numbers the paper lacks.

    ``paper`` is :func:`bench.paper.load_paper_results`; ``results`` is :func:`bench.run_folders.results_frame`.
    A paper row matched by several runs (say two folders of the same zoo model) appears once per run.
    """
    blip2 = paper[paper["model"].map(is_blip2_row)][["table", "model", *MATCH, "value"]]
    blip2 = blip2.rename(columns={"value": "paper"})
    runs = results.rename(columns={"value": "ours", "zoo": "model"})[
        ["model", "run", *MATCH, "ours", "low", "high", "n", "vs_paper"]]
    matched = blip2.merge(runs[runs["model"].notna()], on=["model", *MATCH], how="left")
    matched["tolerance"] = matched["metric"].map(tolerances.for_metric)
    matched[["ours", "low", "high"]] = matched[["ours", "low", "high"]].round(4)
    matched["delta"] = (matched["ours"] - matched["paper"]).round(4)
    matched["status"] = matched.apply(_status, axis=1) if len(matched) else pd.Series(dtype=str)

    in_paper = pd.MultiIndex.from_frame(blip2[["model", *MATCH]])
    extra = runs[~pd.MultiIndex.from_frame(runs[["model", *MATCH]]).isin(in_paper)].copy()
    extra["model"] = extra["model"].fillna(extra["run"])
    extra[["ours", "low", "high"]] = extra[["ours", "low", "high"]].round(4)
    extra = extra.assign(table=pd.NA, paper=math.nan, delta=math.nan, tolerance=math.nan, status=NOT_IN_PAPER)
    extra = _sort_extras(extra)

    frame = pd.concat([matched, extra], ignore_index=True) if len(extra) else matched
    frame = frame[list(COLUMNS)].astype({"table": "Int64", "n": "Int64"})
    return frame.reset_index(drop=True)


def _sort_extras(extra: pd.DataFrame) -> pd.DataFrame:
    subset_rank = extra["subset"].map(lambda s: (s != "all", s))
    return (
        extra.assign(_rank=subset_rank).sort_values(["run", "task", "split", "_rank", "metric"]).drop(columns="_rank")
    )


def _fmt(value: object, digits: int = 2, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return ""
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _ours(row) -> str:
    """"ours ± half-width" (the half-width of its 95% interval), or just ours when it has no interval."""
    if pd.isna(row.ours) or pd.isna(row.low) or pd.isna(row.high):
        return _fmt(row.ours)
    return f"{row.ours:.2f} ± {(row.high - row.low) / 2:.2f}"


def _md_rows(rows: pd.DataFrame) -> str:
    headers = ["model", "run", "task", "split", "subset", "metric", "paper", "ours", "Δ", "status"]
    body = [
        [
            r.model,
            "" if pd.isna(r.run) else r.run,
            r.task,
            r.split,
            r.subset,
            r.metric,
            _fmt(r.paper),
            _ours(r),
            _fmt(r.delta, signed=True),
            r.status,
        ]
        for r in rows.itertuples()
    ]
    return markdown.table(headers, body, "llllllrrrl")


def _details(summary: str, body: str) -> str:
    """A collapsed block: GitHub shows the summary line and opens the body (Markdown included) on a click."""
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>\n"


def _toy_note(references: ToyReferences | None) -> str:
    if references is None:
        return "Ours ± the half-width of its 95% interval (no chance levels or references were given).\n"
    return ("Ours ± the half-width of its 95% interval, beside the task's **chance** level (a blind answer prior "
            "for VQA, a random training caption, random retrieval scores) and a **reference** from above (the toy "
            "LLM answering from the scene in words for VQA; for retrieval an oracle that knows which texts are "
            f"true of which images). Both are in `bench/data/toy_references.json`, {references.describe()}; "
            "docs/toy-models.md explains them.\n")


def _glance(tables: list[PivotTable], references: ToyReferences | None) -> list[str]:
    """The pivots: paper tables with runs, the toy world, other runs, then the paper tables nothing ran (collapsed)."""
    parts = ["## At a glance\n", "One row per task-split and model with the task's headline numbers: VQA accuracy; "
             "captioning CIDEr and BLEU-4 (SPICE where scored); retrieval TR@1, IR@1 and R_mean. Every number, "
             "one per row, is further down and in leaderboard.csv.\n"]
    run = [t for t in tables if t.section == PAPER and t.has_runs]
    toy = [t for t in tables if t.section == TOY]
    other = [t for t in tables if t.section == OTHER]
    idle = [t for t in tables if t.section == PAPER and not t.has_runs]
    for table in run:
        parts += [f"### {table.title}\n", table_markdown(table) + "\n"]
    if toy:
        parts += ["### Toy world\n", "The toy models (docs/toy-models.md) on the toy data root; `python -m bench run` "
                  "with no arguments refreshes them. " + _toy_note(references)]
        parts += [line for table in toy for line in (f"#### {table.title}\n", table_markdown(table) + "\n")]
    for table in other:
        parts += [f"### {table.title}\n", table_markdown(table) + "\n"]
    if idle:
        parts += ["### Paper tables that no run has reached yet\n"]
        parts += [_details(f"{t.title}: {len(t.rows)} rows, none run", table_markdown(t)) for t in idle]
    return parts


def to_markdown(frame: pd.DataFrame, tolerances: Tolerances, references: ToyReferences | None = None) -> str:
    """The leaderboard as Markdown: the pivots first (:mod:`bench.leaderboard_pivot`), then every number, one per
    row, in collapsed blocks (one per paper table, the toy world, the other runs) and the statuses' meaning.

    ``references`` (:func:`bench.toy_references.load`) adds the toy chance levels and references."""
    counts = frame["status"].value_counts()
    summary = ", ".join(f"{status}: {counts[status]}" for status in STATUS_NOTES if status in counts)
    parts = [
        "# BLIP-2 leaderboard: ours vs the paper\n",
        f"A row is **reproduced** when |ours − paper| ≤ {tolerances.describe()} (absolute, on the paper's "
        "0–100 scale); Δ = ours − paper. Ours is shown ± the half-width of its 95% bootstrap interval "
        "(`ci95` in each run's metrics.json; the CSV has its low and high). `leaderboard.png` plots the same.\n",
        f"Rows: {summary or 'none'}.\n",
        *_glance(pivot_tables(frame, references), references),
        "## Every number, one per row\n",
    ]
    for table_no, rows in frame[frame["table"].notna()].groupby("table", sort=True):
        title = TABLE_TITLES.get(int(table_no), f"Table {table_no}")
        parts.append(_details(f"{title}: {len(rows)} rows", _md_rows(rows)))
    extras = frame[frame["table"].isna()]
    toy = extras["model"].isin(TOY_MODELS)
    if toy.any():
        parts.append(_details(f"Toy world: {int(toy.sum())} rows", _md_rows(extras[toy])))
    if (~toy).any():
        parts.append(_details(f"Measured by our runs, not reported in the paper: {int((~toy).sum())} rows",
                              _md_rows(extras[~toy])))
    parts.append("Statuses: " + "; ".join(f"*{s}*: {note}" for s, note in STATUS_NOTES.items()) + ".\n")
    return "\n".join(parts)


def write_leaderboard(frame: pd.DataFrame, out_dir: Path, tolerances: Tolerances,
                      references: ToyReferences | None = None) -> list[Path]:
    """Write the CSV, Markdown and PNG atomically into ``out_dir``; returns their paths. ``references`` adds the
    toy chance levels and references to the Markdown and the plot."""
    from bench.leaderboard_plot import to_png  # matplotlib loads only here

    out_dir = Path(out_dir)
    csv_text = frame.to_csv(index=False, lineterminator="\n")
    png = to_png(frame, tolerances, references)
    return [
        atomic_write_text(out_dir / "leaderboard.csv", csv_text),
        atomic_write_text(out_dir / "leaderboard.md", to_markdown(frame, tolerances, references)),
        atomic_write(out_dir / "leaderboard.png", lambda handle: handle.write(png)),
    ]
