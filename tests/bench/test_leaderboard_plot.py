"""``leaderboard.png``: every text of the figure is drawn inside it and no two overlap, with many runs, with the
paper panel and without it; the value labels keep clear of the marks they could be read as."""

from __future__ import annotations

import itertools

import pytest

from bench.leaderboard import build_leaderboard
from bench.leaderboard_pivot import Cell
from bench.leaderboard_plot import _value_x, leaderboard_figure, run_points
from bench.paper import load_paper_results
from bench.run_folders import collect_runs, results_frame
from bench.tolerance import parse_tolerances
from bench.toy_references import ToyReferences
from tests.bench.helpers import write_run

TOLERANCES = parse_tolerances(None, 0.5)
RECALLS = ("TR@1", "TR@5", "TR@10", "IR@1", "IR@5", "IR@10")


def _with_ci(metrics: dict, half: float) -> dict:
    return {k: [v - half, v + half] for k, v in metrics.items() if isinstance(v, float)}


def _paper_runs(root, count: int) -> None:
    """Runs of every BLIP-2 paper row's model and split, their numbers 0.1-2 points off the paper's."""
    paper = load_paper_results()
    blip2 = paper[paper["model"].str.startswith(("vitg-", "vitl-"))]
    groups = list(blip2.groupby(["model", "task", "split"]))[:count]
    for i, ((model, task, split), rows) in enumerate(groups):
        metrics: dict = {}
        for r in rows.itertuples():
            value = round(r.value - 2 + (i * 7 % 20) / 10, 2)
            if r.subset == "all":
                metrics[r.metric] = value
            else:
                metrics.setdefault("by_domain", {}).setdefault(r.subset, {})[r.metric] = value
        if "TR@1" in metrics:
            metrics["R_mean"] = sum(metrics.get(m, 90.0) for m in RECALLS) / 6
        write_run(root, model, task, split, metrics, n={"vqav2": 214_354, "okvqa": 5_046, "gqa": 12_578,
                  "nocaps": 4_500, "coco_caption": 5_000, "flickr30k": 1_000, "coco_retrieval": 5_000}[task],
                  ci95=_with_ci(metrics, 0.4))


def _toy_runs(root) -> ToyReferences:
    """Toy-root runs of the toy models, and chance levels and references for them."""
    for model in ("toy-opt", "toy-t5", "toy-opt-coco"):
        for task, split in (("vqav2", "val"), ("okvqa", "test"), ("gqa", "test-dev")):
            accuracy = {"toy-opt": 54.4, "toy-t5": 0.5, "toy-opt-coco": 61.0}[model]
            write_run(root, model, task, split, {"accuracy": accuracy}, against="toy root",
                      ci95={"accuracy": [max(0.0, accuracy - 5), accuracy + 5]})
        for task, split in (("nocaps", "val"), ("coco_caption", "karpathy-test")):
            caption = {"CIDEr": 120.0, "BLEU-4": 55.0, "SPICE": None}
            write_run(root, model, task, split, caption, against="toy root",
                      ci95={"CIDEr": [100.0, 140.0], "BLEU-4": [50.0, 60.0]})
    for task in ("flickr30k", "coco_retrieval"):
        recalls = {m: 80.0 for m in RECALLS} | {"R_mean": 80.0}
        write_run(root, "toy-qformer-coco", task, "test", recalls, against="toy root", ci95=_with_ci(recalls, 4))
    row = {"split": "val", "subset": "all", "metric": "accuracy"}
    chance = ({**row, "task": "vqav2", "value": 37.5}, {**row, "task": "okvqa", "split": "test", "value": 0.0},
              {**row, "task": "nocaps", "metric": "CIDEr", "value": 34.0})
    reference = ({**row, "task": "vqav2", "llm": "toy-opt", "value": 64.2},
                 {**row, "task": "vqav2", "llm": "toy-t5", "value": 61.0},
                 {**row, "task": "coco_retrieval", "split": "test", "metric": "TR@1", "llm": None, "value": 100.0})
    return ToyReferences(chance, reference, {"seed": 0, "size": "default"})


def _drawn_texts(figure) -> list:
    """Every non-empty text the figure draws: titles, axis and tick labels in view, annotations, legends."""
    from matplotlib.text import Text

    figure.canvas.draw()
    texts, ticks = [], set()
    for axes in figure.axes:
        for axis, (low, high), along in ((axes.xaxis, sorted(axes.get_xlim()), 0),
                                         (axes.yaxis, sorted(axes.get_ylim()), 1)):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks |= {tick.label1, tick.label2}
                if tick.label1.get_visible() and low <= tick.label1.get_position()[along] <= high:
                    texts.append(tick.label1)
    texts += [t for t in figure.findobj(Text) if t not in ticks]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _overlaps(figure) -> tuple[list[tuple[str, str]], list[str]]:
    """Pairs of texts whose boxes overlap (more than half a pixel each way), and texts drawn past the figure."""
    from matplotlib.text import Text

    renderer = figure.canvas.get_renderer()
    # Text's own extent: an annotation's would include its leader line, which is meant to reach its point
    boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in _drawn_texts(figure)]
    assert len(boxes) > 10
    width, height = figure.bbox.width, figure.bbox.height
    outside = [text for text, b in boxes if b.x0 < 0 or b.y0 < 0 or b.x1 > width or b.y1 > height]
    pairs = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
             if min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0) > 0.5
             and min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0) > 0.5]
    return pairs, outside


def _frame(root):
    return build_leaderboard(load_paper_results(), results_frame(collect_runs(root)), TOLERANCES)


@pytest.mark.parametrize("paper_runs", [0, 3, 60])
def test_no_two_labels_overlap(tmp_path, paper_runs):
    references = _toy_runs(tmp_path / "runs")
    _paper_runs(tmp_path / "runs", paper_runs)
    frame = _frame(tmp_path / "runs")
    figure = leaderboard_figure(frame, TOLERANCES, references)
    pairs, outside = _overlaps(figure)
    assert not pairs, pairs[:5]
    assert not outside, outside[:5]
    titles = {t.get_text() for t in _drawn_texts(figure)}
    assert any(t.startswith("Ours vs the paper") for t in titles) == (paper_runs > 0)
    assert {"VQA: accuracy", "Retrieval: TR@1, IR@1, R_mean"} <= titles
    assert any(t.startswith("Captioning: CIDEr, BLEU-4") for t in titles)  # SPICE too where a paper run scored it
    assert {"toy-opt", "toy-qformer-coco", "vqav2 val\naccuracy"} <= titles  # run names and band labels
    if paper_runs == 60:  # more compared numbers than the label column holds: the rest are counted, not drawn
        assert any(t.startswith("... and ") and t.endswith(" more in leaderboard.md") for t in titles)


def test_the_overlap_check_catches_overlapping_labels(tmp_path):
    """The check is not vacuous: two texts drawn at the same place are reported."""
    references = _toy_runs(tmp_path / "runs")
    figure = leaderboard_figure(_frame(tmp_path / "runs"), TOLERANCES, references)
    figure.text(0.5, 0.5, "first")
    figure.text(0.5, 0.5, "second")
    figure.text(1.0, 0.5, "cut off at the right edge")
    pairs, outside = _overlaps(figure)
    assert ("first", "second") in pairs and outside == ["cut off at the right edge"]


def test_the_panels_show_intervals_chance_reference_and_paper(tmp_path):
    references = _toy_runs(tmp_path / "runs")
    _paper_runs(tmp_path / "runs", 3)
    points = {(p.run, p.band, p.metric): p.cell for p in run_points(_frame(tmp_path / "runs"), references)}
    toy = points[("toy-opt", "vqav2 val", "accuracy")]
    assert (toy.ours, toy.low, toy.high, toy.chance, toy.reference) == (54.4, 49.4, 59.4, 37.5, 64.2)
    assert points[("toy-t5", "vqav2 val", "accuracy")].reference == 61.0  # its own LLM's reference
    assert points[("toy-opt-coco", "vqav2 val", "accuracy")].reference == 64.2  # toy-opt's LLM, frozen
    assert points[("toy-qformer-coco", "coco_retrieval test", "TR@1")].reference == 100.0
    assert ("toy-opt", "nocaps val", "SPICE") not in points  # not scored: nothing to draw
    paper = [cell for (run, _, _), cell in points.items() if not run.startswith("toy-")]
    assert paper and all(cell.paper is not None for cell in paper)


@pytest.mark.parametrize("cell,chance", [
    (Cell(ours=50.0, low=45.0, high=55.0, reference=57.0), None),  # a mark just right of the whisker
    (Cell(ours=50.0, low=45.0, high=55.0, paper=56.0), 40.0),  # the paper's cross there, chance to the left
    (Cell(ours=2.0, low=0.0, high=4.0, reference=5.0), 0.0),  # no room on the left either
])
def test_a_value_label_never_sits_on_a_mark(cell, chance):
    right = 100.0
    start = _value_x(cell, chance, right)
    end = start + right * 0.055
    marks = [x for x in (cell.reference, cell.paper, chance) if x is not None]
    assert not any(start <= x <= end for x in marks)
    assert start >= cell.high or end <= cell.low  # and never on its own whisker
