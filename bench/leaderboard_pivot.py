"""The leaderboard at a glance: one row per task-split and model, with the task's headline metrics as columns.

The long leaderboard (:func:`bench.leaderboard.build_leaderboard`, one metric per row) is what the CSV holds
and what the gate and scripts read; a reader wants the model-by-task picture instead. :func:`pivot_tables`
turns the long frame into plain data (:class:`PivotTable`: headers, rows of cells), which the Markdown here,
the plot and the HTML report all render. Beside each of our numbers a pivot sets what it must be read
against: the paper's value and Δ for a paper table, the chance level and the reference for a toy model
(:mod:`bench.toy_references`). No plotting library is imported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

import tasks
from bench import markdown
from bench.paper import TABLE_TITLES
from bench.toy_references import ToyReferences
from tasks.errors import TaskInputError
from toyworld import TOY_MODELS

# The numbers a reader looks at first, per task kind (the paper's own columns, plus R_mean for retrieval).
HEADLINE: dict[str, tuple[str, ...]] = {
    "vqa": ("accuracy",),
    "caption": ("CIDEr", "BLEU-4", "SPICE"),
    "retrieval": ("TR@1", "IR@1", "R_mean"),
}
KIND_TITLES = {"vqa": "VQA", "caption": "captioning", "retrieval": "retrieval"}
# R_mean (tasks/scoring/retrieval.py) is the mean of TR_mean and IR_mean, so the mean of these six recalls;
# the paper prints the six, not R_mean, so its R_mean is derived from them where all six are there.
R_MEAN_PARTS = ("TR@1", "TR@5", "TR@10", "IR@1", "IR@5", "IR@10")
DERIVED_MARK = "†"
DERIVED_NOTE = (f"{DERIVED_MARK} the paper prints no R_mean; this is the mean of its six recalls (TR@1/5/10, "
                "IR@1/5/10), as our R_mean is.")
PAPER, TOY, OTHER = "paper", "toy", "other"
PAPER_SIDES = ("paper", "Δ")
TOY_SIDES = ("chance", "reference")


@dataclass(frozen=True)
class Cell:
    """One metric of one pivot row: ours with its 95% interval, and what it is read against."""

    ours: float | None = None
    low: float | None = None
    high: float | None = None
    paper: float | None = None
    delta: float | None = None
    status: str | None = None  # the long leaderboard's status, where the paper has this number
    chance: float | None = None
    reference: float | None = None
    derived: bool = False  # the paper value is derived (R_mean from the six recalls), not printed

    @property
    def half_width(self) -> float | None:
        """Half the width of ours' 95% interval, or None when it has none."""
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    def value(self, side: str | None) -> float | None:
        """The number shown in column ``side`` (None: ours)."""
        return {None: self.ours, "paper": self.paper, "Δ": self.delta, "chance": self.chance,
                "reference": self.reference}[side]

    def text(self, side: str | None) -> str:
        """The Markdown text of column ``side``: ours as "value ± half-width", the others with two decimals."""
        value = self.value(side)
        if value is None:
            return ""
        if side is None:
            return f"{value:.2f}" if self.half_width is None else f"{value:.2f} ± {self.half_width:.2f}"
        if side == "Δ":
            return f"{value:+.2f}"
        return f"{value:.2f}{DERIVED_MARK}" if side == "paper" and self.derived else f"{value:.2f}"


@dataclass(frozen=True)
class PivotRow:
    """One model (run) on one task-split (and subset: a NoCaps domain), its headline metrics by name."""

    task: str
    split: str
    subset: str
    model: str
    run: str  # "" for a paper row that no run has
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The long leaderboard's status of the row's paper numbers: one word when they agree, else per metric."""
        judged = {metric: cell.status for metric, cell in self.cells.items() if cell.status}
        if len(set(judged.values())) <= 1:
            return next(iter(judged.values()), "")
        return "; ".join(f"{metric}: {status}" for metric, status in judged.items())


@dataclass(frozen=True)
class Column:
    """A value column: ``metric`` and ``side`` (None: ours; else "paper", "Δ", "chance" or "reference")."""

    metric: str
    side: str | None

    @property
    def header(self) -> str:
        return self.metric if self.side is None else self.side


@dataclass(frozen=True)
class PivotTable:
    """One pivot: ``section`` is "paper" (a paper table), "toy" or "other" (runs the paper does not report)."""

    section: str
    title: str
    kind: str
    columns: tuple[Column, ...]
    rows: tuple[PivotRow, ...]
    notes: tuple[str, ...] = ()

    @property
    def has_runs(self) -> bool:
        return any(row.run for row in self.rows)

    @property
    def key_headers(self) -> list[str]:
        """task, split, then subset, model and run where they tell rows apart (a run named as its model is not)."""
        keys = ["task", "split"]
        keys += ["subset"] if any(row.subset != "all" for row in self.rows) else []
        keys += ["model"]
        keys += ["run"] if any(row.run not in ("", row.model) for row in self.rows) else []
        return keys

    @property
    def headers(self) -> list[str]:
        return self.key_headers + [c.header for c in self.columns] + (["status"] if self.section == PAPER else [])

    @property
    def text_rows(self) -> list[list[str]]:
        """Each row as the strings the Markdown shows, in the order of :attr:`headers`."""
        out = []
        for row in self.rows:
            keys = [getattr(row, key) for key in self.key_headers]
            values = [row.cells[c.metric].text(c.side) if c.metric in row.cells else "" for c in self.columns]
            out.append(keys + values + ([row.status] if self.section == PAPER else []))
        return out

    @property
    def align(self) -> str:
        return "l" * len(self.key_headers) + "r" * len(self.columns) + ("l" if self.section == PAPER else "")


def table_markdown(table: PivotTable) -> str:
    """One pivot as a GitHub Markdown table, followed by its notes."""
    text = markdown.table(table.headers, table.text_rows, table.align)
    return text + "".join(f"\n\n{note}" for note in table.notes)


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _kind(task: str) -> str | None:
    try:
        return tasks.get(task).kind
    except TaskInputError:  # a run folder of a task this version does not know: it stays in the long table
        return None


def _in_pivot(kind: str | None, subset: str) -> bool:
    """Subsets the pivots show: "all", and NoCaps' domains (the paper reports them); VQA answer types stay long."""
    return kind is not None and (subset == "all" or kind == "caption")


def _ordered(rows: Iterable[PivotRow], models: list[str]) -> tuple[PivotRow, ...]:
    """Task in the registry's order, split, "all" before the subsets, then the models' order given."""
    task_rank = {name: i for i, name in enumerate(tasks.names())}
    split_rank = {(name, split.name): i for name in tasks.names() for i, split in enumerate(tasks.get(name).splits)}
    model_rank = {name: i for i, name in enumerate(models)}
    return tuple(sorted(rows, key=lambda r: (task_rank.get(r.task, len(task_rank)), r.task,
                                             split_rank.get((r.task, r.split), len(split_rank)), r.split,
                                             (r.subset != "all", r.subset), model_rank.get(r.model, len(models)),
                                             r.run)))


def _columns(kind: str, rows: tuple[PivotRow, ...], sides: tuple[str, ...]) -> tuple[Column, ...]:
    """The headline metrics with a number in some row, each with the sides that have one."""
    columns = []
    for metric in HEADLINE[kind]:
        cells = [row.cells[metric] for row in rows if metric in row.cells]
        shown = [side for side in (None, *sides) if any(cell.value(side) is not None for cell in cells)]
        if shown:
            columns += [Column(metric, None)] + [Column(metric, side) for side in sides if side in shown]
    return tuple(columns)


def _paper_tables(frame: pd.DataFrame, extras: pd.DataFrame) -> list[PivotTable]:
    found = {(r.model, r.run, r.task, r.split, r.subset, r.metric): r for r in extras.itertuples()}
    out = []
    for table_no, group in frame[frame["table"].notna()].groupby("table", sort=True):
        kind = next((k for k in map(_kind, group["task"]) if k), None)
        if kind is None:
            continue
        by_key: dict[tuple, dict[str, object]] = {}
        for r in group.itertuples():
            if _in_pivot(kind, r.subset):
                by_key.setdefault((r.task, r.split, r.subset, r.model, r.run), {})[r.metric] = r
        rows = []
        for (task, split, subset, model, run), metrics in by_key.items():
            cells = {}
            for metric in HEADLINE[kind]:
                r = metrics.get(metric) or found.get((model, run, task, split, subset, metric))
                paper = _number(getattr(r, "paper", None)) if r is not None else None
                cell = Cell() if r is None else Cell(
                    ours=_number(r.ours), low=_number(r.low), high=_number(r.high), paper=paper,
                    delta=_number(r.delta) if paper is not None else None,
                    status=r.status if paper is not None else None)
                if metric == "R_mean" and cell.paper is None and all(m in metrics for m in R_MEAN_PARTS):
                    paper = sum(float(metrics[m].paper) for m in R_MEAN_PARTS) / len(R_MEAN_PARTS)
                    cell = Cell(ours=cell.ours, low=cell.low, high=cell.high, paper=round(paper, 4), derived=True,
                                delta=None if cell.ours is None else round(cell.ours - paper, 4))
                cells[metric] = cell
            rows.append(PivotRow(task, split, subset, model, run, cells))
        ordered = _ordered(rows, list(dict.fromkeys(group["model"])))
        notes = (DERIVED_NOTE,) if any(c.derived for row in ordered for c in row.cells.values()) else ()
        title = TABLE_TITLES.get(int(table_no), f"Table {int(table_no)}")
        out.append(PivotTable(PAPER, title, kind, _columns(kind, ordered, PAPER_SIDES), ordered, notes))
    return out


def _run_tables(extras: pd.DataFrame, section: str, references: ToyReferences | None) -> list[PivotTable]:
    """The pivots of runs that no paper table holds: one per task kind."""
    out = []
    kinds = extras["task"].map(_kind)
    for kind in HEADLINE:
        group = extras[(kinds == kind) & extras["metric"].isin(HEADLINE[kind])]
        group = group.loc[[_in_pivot(kind, subset) for subset in group["subset"]]]
        rows = []
        for (task, split, subset, model, run), hits in group.groupby(["task", "split", "subset", "model", "run"]):
            cells = {}
            for r in hits.itertuples():
                chance, reference = (references.lookup(model, task, split, subset, r.metric)
                                     if references is not None and section == TOY else (None, None))
                cells[r.metric] = Cell(ours=_number(r.ours), low=_number(r.low), high=_number(r.high),
                                       chance=chance, reference=reference)
            if any(cell.ours is not None for cell in cells.values()):
                rows.append(PivotRow(task, split, subset, model, run, cells))
        if not rows:
            continue
        models = list(TOY_MODELS) if section == TOY else sorted({row.model for row in rows})
        ordered = _ordered(rows, models)
        sides = TOY_SIDES if section == TOY else ()
        where = "Toy world" if section == TOY else "Other runs"
        metrics = ", ".join(c.metric for c in _columns(kind, ordered, ()))
        title = f"{where}: {KIND_TITLES[kind]} ({metrics})"
        out.append(PivotTable(section, title, kind, _columns(kind, ordered, sides), ordered))
    return out


def pivot_tables(frame: pd.DataFrame, references: ToyReferences | None = None) -> list[PivotTable]:
    """The pivots of a long leaderboard frame: one per paper table (every BLIP-2 row, run or not), then the toy
    models' runs and the other runs the paper does not report, one pivot per task kind.

    A run's row sits in one pivot only: a run matched to a paper row is shown in that paper table, with its
    headline numbers that the paper lacks beside the others. ``references`` adds the toy chance levels and
    references (:func:`bench.toy_references.load`); without it the toy pivots show ours alone.
    """
    frame = frame.assign(run=frame["run"].fillna("").astype(str))
    extras = frame[frame["table"].isna()]
    paper = _paper_tables(frame, extras)
    in_paper = {(row.task, row.split, row.subset, row.model, row.run) for t in paper for row in t.rows if row.run}
    keys = list(zip(extras["task"], extras["split"], extras["subset"], extras["model"], extras["run"], strict=True))
    unmatched = extras.loc[[key not in in_paper for key in keys]]
    toy = unmatched["model"].isin(TOY_MODELS)
    return paper + _run_tables(unmatched[toy], TOY, references) + _run_tables(unmatched[~toy], OTHER, None)
