"""``leaderboard.png``: what the runs measured, and how they compare with the paper, readable at a glance.

Two parts, stacked:

- *ours vs the paper* (only when some run is compared with a paper number): each compared number as a point
  (paper on x, ours on y) beside the y = x line, coloured by status. Its labels sit in a column to the right,
  joined to their points by thin lines, so that points close together never get labels on top of each other.
- *the runs present* (always): one panel per task kind, one band per task-split and headline metric, one dot
  per run with its 95% interval as whiskers. Marks beside it: the chance level (a grey line across the band)
  and the reference (a diamond) of the toy models, and the paper's value (a cross) where it has one.

Every position is laid out here in inches (no automatic layout), and the test
``tests/bench/test_leaderboard_plot.py`` checks that no two texts of the figure overlap.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pandas as pd

from bench.leaderboard_pivot import HEADLINE, Cell, pivot_tables
from bench.leaderboard_status import DIFFERS, PARTIAL, REPRODUCED, TOO_FEW
from bench.tolerance import Tolerances
from bench.toy_references import ToyReferences

WIDTH = 11.0  # inches
DPI = 110
FONT = 8
LABEL_FONT = 7
SLOT = 0.2  # inches per run within a band
BAND_GAP = 0.12  # inches between two bands
RIGHT = 0.35  # the run panels' right margin (the left one fits their band labels and run names)
PANEL_GAP = 0.85  # between two panels: the x tick labels and axis label below, the next title above
PAPER_AXES = 4.4  # the paper-vs-ours square
MAX_PAPER_LABELS = 28
PANEL_TITLES = {"vqa": "VQA", "caption": "Captioning", "retrieval": "Retrieval"}
STATUS_COLOURS = {REPRODUCED: "tab:green", DIFFERS: "tab:red", TOO_FEW: "tab:purple", PARTIAL: "tab:orange"}


@dataclass(frozen=True)
class Point:
    """One run's headline number on one band of a run panel."""

    kind: str
    band: str  # "task split", the pivots' order
    metric: str
    run: str
    cell: Cell

    @property
    def label(self) -> str:
        return f"{self.band} {self.metric}"


def run_points(frame: pd.DataFrame, references: ToyReferences | None) -> list[Point]:
    """The headline numbers of every run present (subset "all"), once each, in the pivots' order."""
    points, seen = [], set()
    for table in pivot_tables(frame, references):
        for row in table.rows:
            for metric, cell in row.cells.items():
                key = (row.run, row.task, row.split, metric)
                if row.run and row.subset == "all" and cell.ours is not None and key not in seen:
                    seen.add(key)
                    points.append(Point(table.kind, f"{row.task} {row.split}", metric, row.run, cell))
    kinds = list(HEADLINE)
    return sorted(points, key=lambda p: (kinds.index(p.kind), HEADLINE[p.kind].index(p.metric)))


def _paper_points(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["paper"].notna() & frame["ours"].notna()]


def _spread(wanted: list[float], gap: float) -> list[float]:
    """Positions in [0, 1], each as close to its wanted one as it can be while keeping ``gap`` apart (sorted)."""
    placed = sorted(min(max(y, 0.0), 1.0) for y in wanted)
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    top = 1.0
    for i in reversed(range(len(placed))):
        placed[i] = min(placed[i], top)
        top = placed[i] - gap
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    return placed


def _draw_paper(figure, frame: pd.DataFrame, tolerances: Tolerances, bottom: float, height: float) -> None:
    """The ours-vs-paper scatter, its axes ``PAPER_AXES`` inches square with its top ``bottom + height``."""
    points = _paper_points(frame)
    axes = figure.add_axes(_box(figure, 0.9, bottom + 0.55, PAPER_AXES, PAPER_AXES))
    low = float(min(points["paper"].min(), points["ours"].min())) - 2
    high = float(max(points["paper"].max(), points["ours"].max())) + 2
    axes.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="y = x (the paper)")
    for status, group in points.groupby("status"):
        axes.scatter(group["paper"], group["ours"], s=22, color=STATUS_COLOURS.get(status, "tab:blue"), label=status,
                     zorder=3)
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_xlabel("the paper", fontsize=FONT)
    axes.set_ylabel("ours", fontsize=FONT)
    axes.tick_params(labelsize=FONT)
    axes.grid(True, linewidth=0.3)
    axes.legend(loc="upper left", fontsize=LABEL_FONT, framealpha=0.9)
    axes.set_title(f"Ours vs the paper: {len(points)} compared number(s); reproduced = within "
                   f"{tolerances.describe()}", fontsize=FONT + 1, loc="left")
    # Labels in a column right of the axes: the ones not reproduced first, then the largest |Δ|.
    gap = LABEL_FONT * 1.45 / 72 / PAPER_AXES
    room = max(1, int(1 / gap))
    ranked = points.assign(_off=points["status"] != REPRODUCED, _size=(points["ours"] - points["paper"]).abs())
    ranked = ranked.sort_values(["_off", "_size"], ascending=False)
    shown = ranked.head(room if len(ranked) <= room else room - 1)
    wanted = [(r.ours - low) / (high - low) for r in shown.itertuples()]
    order = sorted(range(len(shown)), key=lambda i: wanted[i])
    for slot, i in zip(_spread([wanted[i] for i in order], gap), order, strict=True):
        r = shown.iloc[i]
        subset = "" if r["subset"] == "all" else f" {r['subset']}"
        axes.annotate(f"{r['run']} {r['task']} {r['split']}{subset} {r['metric']}: {r['ours']:.2f} vs "
                      f"{r['paper']:.2f} ({r['delta']:+.2f})", xy=(r["paper"], r["ours"]), xycoords="data",
                      xytext=(1.04, slot), textcoords="axes fraction", va="center", fontsize=LABEL_FONT,
                      arrowprops={"arrowstyle": "-", "linewidth": 0.4, "color": "grey"})
    if len(shown) < len(points):
        axes.text(1.04, -0.1, f"... and {len(points) - len(shown)} more in leaderboard.md", fontsize=LABEL_FONT,
                  transform=axes.transAxes, va="center")


def _box(figure, left: float, bottom: float, width: float, height: float) -> list[float]:
    """An axes rectangle in figure fractions from inches."""
    w, h = figure.get_size_inches()
    return [left / w, bottom / h, width / w, height / h]


def _reach(cell: Cell, chance: float | None) -> float:
    """The right end of what a slot draws: whisker, reference, paper or the band's chance line."""
    return max(v for v in (cell.high, cell.ours, cell.reference, cell.paper, chance) if v is not None)


def _value_x(cell: Cell, chance: float | None, right: float) -> float:
    """Where a slot's value label starts: right of the whisker, else left of it, else past every mark; so that
    it never sits on the slot's reference or paper mark or the band's chance line, which would read as its value."""
    pad, width = right * 0.012, right * 0.055  # the label's room: about five characters at LABEL_FONT
    marks = [x for x in (cell.reference, cell.paper, chance) if x is not None]
    high = cell.ours if cell.high is None else cell.high
    low = cell.ours if cell.low is None else cell.low
    for start in (high + pad, low - pad - width):
        if 0 <= start and start + width <= right and not any(start - pad <= x <= start + width for x in marks):
            return start
    return _reach(cell, chance) + pad


def _bands(points: list[Point]) -> list[tuple[str, list[Point]]]:
    """The bands of a panel in order, each with its runs' points."""
    bands: dict[str, list[Point]] = {}
    for p in points:
        bands.setdefault(p.label, []).append(p)
    return list(bands.items())


def _band_height(runs: int) -> float:
    return max(runs, 1.5) * SLOT + BAND_GAP  # 1.5: room for the band's two-line label


def _panel_height(points: list[Point]) -> float:
    return sum(_band_height(len(here)) for _, here in _bands(points))


def _band_label(p: Point) -> str:
    return f"{p.band}\n{p.metric}"


def _text_width(figure, text: str, size: float) -> float:
    """The width in inches that ``text`` takes at ``size`` points, measured by the figure's renderer."""
    probe = figure.text(0, 0, text, fontsize=size)
    width = probe.get_window_extent(figure.canvas.get_renderer()).width / figure.dpi
    probe.remove()
    return width


def _draw_runs(figure, kind: str, points: list[Point], colours: dict[str, str], frame_box: tuple[float, ...],
               run_column: float) -> None:
    """One run panel in ``frame_box`` (left, bottom, width, height in inches): a band per task-split and metric
    (its label left of the run names), a slot per run in it, named on the y axis."""
    left, bottom, width, height = frame_box
    axes = figure.add_axes(_box(figure, left, bottom, width, height))
    right = max(100.0, math.ceil(max(_reach(p.cell, p.cell.chance) for p in points) * 1.15 / 10) * 10)
    ticks, names, top = [], [], height
    for b, (_, here) in enumerate(_bands(points)):
        band_height = _band_height(len(here))
        centre = top - band_height / 2  # inches from the panel's bottom
        chance = next((p.cell.chance for p in here if p.cell.chance is not None), None)
        if chance is not None:
            half = band_height / 2 - BAND_GAP / 2
            axes.plot([chance, chance], [centre - half, centre + half], color="grey", linewidth=1.2,
                      linestyle=(0, (2, 1.5)), zorder=1)
        if b:
            axes.axhline(top, color="0.8", linewidth=0.6, zorder=0)
        axes.text(-(run_column + 0.2) / width, centre, _band_label(here[0]), transform=axes.get_yaxis_transform(),
                  ha="right", va="center", fontsize=FONT)
        for k, p in enumerate(here):
            y = centre + ((len(here) - 1) / 2 - k) * SLOT
            ticks.append(y)
            names.append(p.run)
            c = p.cell
            xerr = None if c.low is None else [[c.ours - c.low], [c.high - c.ours]]
            axes.errorbar(c.ours, y, xerr=xerr, fmt="o", markersize=4, color=colours[p.run], capsize=2,
                          elinewidth=1, zorder=3)
            if c.reference is not None:
                axes.plot(c.reference, y, marker="D", markersize=5, markerfacecolor="none", color="black", zorder=4)
            if c.paper is not None:
                axes.plot(c.paper, y, marker="x", markersize=5, color="black", zorder=4)
            axes.text(_value_x(c, chance, right), y, f"{c.ours:.1f}", fontsize=LABEL_FONT, va="center",
                      color=[0.6 * channel for channel in colours[p.run]])  # darker: tab20's pale ones stay legible
        top -= band_height
    axes.set_ylim(0, height)
    axes.set_yticks(ticks, names, fontsize=LABEL_FONT)
    axes.tick_params(axis="y", length=0)
    axes.tick_params(axis="x", labelsize=FONT)
    axes.set_xlim(-right * 0.01, right)
    axes.grid(True, axis="x", linewidth=0.3)
    metrics = ", ".join(m for m in HEADLINE[kind] if any(p.metric == m for p in points))
    axes.set_title(f"{PANEL_TITLES[kind]}: {metrics}", fontsize=FONT + 1, loc="left")
    axes.set_xlabel("score (0-100 scale; CIDEr can exceed 100)" if kind == "caption" else "score (%)",
                    fontsize=FONT)


def _legend(figure, marks: set[str], left: float, top: float) -> None:
    """What the run panels' marks mean, in one row below ``top`` (inches)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", color="0.3", markersize=4, label="ours, whiskers: 95% interval")]
    handles += [Line2D([], [], color="grey", linestyle=(0, (2, 1.5)), label="chance level")] if "chance" in marks \
        else []
    handles += [Line2D([], [], marker="D", markerfacecolor="none", color="black", linestyle="none",
                       label="reference (toy models)")] if "reference" in marks else []
    handles += [Line2D([], [], marker="x", color="black", linestyle="none", label="the paper")] if "paper" in marks \
        else []
    w, h = figure.get_size_inches()
    figure.legend(handles=handles, loc="upper left", bbox_to_anchor=(left / w, top / h), ncols=len(handles),
                  fontsize=FONT, frameon=False, handlelength=2.2, columnspacing=2.0)


def _colours(runs: list[str]) -> dict[str, tuple[float, float, float]]:
    """A colour per run (tab10, or tab20 past ten runs): a second cue beside the run names."""
    from matplotlib import colormaps

    palette = colormaps["tab10" if len(runs) <= 10 else "tab20"].colors
    return {run: palette[i % len(palette)] for i, run in enumerate(runs)}


def leaderboard_figure(frame: pd.DataFrame, tolerances: Tolerances, references: ToyReferences | None = None):
    """The figure of :mod:`bench.leaderboard_plot` (a matplotlib ``Figure`` with an Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = run_points(frame, references)
    compared = len(_paper_points(frame)) > 0
    kinds = [kind for kind in HEADLINE if any(p.kind == kind for p in points)]
    heights = [_panel_height([p for p in points if p.kind == kind]) for kind in kinds]
    paper_part = PAPER_AXES + 1.05 if compared else 0
    title_part, legend_part = 0.55, 0.4
    total = title_part + paper_part + (legend_part + sum(heights) + PANEL_GAP * len(kinds) if points else 1.0)
    figure = Figure(figsize=(WIDTH, total), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.text(0.1 / WIDTH, 1 - 0.3 / total, "BLIP-2 bench: each run's headline numbers with 95% intervals "
                "(NoCaps domains, VQA answer types and the rest: leaderboard.md)", fontsize=FONT + 3, va="center")
    top = total - title_part
    if compared:
        _draw_paper(figure, frame, tolerances, top - paper_part, paper_part)
        top -= paper_part
    if not points:
        figure.text(0.5, 0.5 / total, "no run yet: `python -m bench run` evaluates the toy models", ha="center",
                    fontsize=FONT + 1)
        return figure
    run_column = max(_text_width(figure, p.run, LABEL_FONT) for p in points) + 0.08  # + the tick label's pad
    band_column = max(_text_width(figure, _band_label(p), FONT) for p in points)
    left = 0.15 + band_column + 0.2 + run_column
    marks = {side for p in points for side in ("chance", "reference", "paper") if p.cell.value(side) is not None}
    _legend(figure, marks, left, top)
    top -= legend_part
    colours = _colours(list(dict.fromkeys(p.run for p in points)))
    for kind, height in zip(kinds, heights, strict=True):
        top -= 0.35  # the panel's title
        _draw_runs(figure, kind, [p for p in points if p.kind == kind], colours,
                   (left, top - height, WIDTH - left - RIGHT, height), run_column)
        top -= height + PANEL_GAP - 0.35
    return figure


def to_png(frame: pd.DataFrame, tolerances: Tolerances, references: ToyReferences | None = None) -> bytes:
    """:func:`leaderboard_figure` as PNG bytes."""
    buffer = io.BytesIO()
    leaderboard_figure(frame, tolerances, references).savefig(buffer, format="png")
    return buffer.getvalue()
