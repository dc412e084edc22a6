"""``bench leaderboard``: synthetic run folders -> CSV/MD/PNG with the right statuses and deltas."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench.leaderboard import build_leaderboard, to_markdown
from bench.paper import load_paper_results
from bench.run_folders import RunFolderError, collect_runs, results_frame
from bench.tolerance import ToleranceError, parse_tolerances
from tests.bench.helpers import bench, bench_here, write_run

CAPTION = {
    "BLEU-1": 80.0,
    "BLEU-2": 65.0,
    "BLEU-3": 52.0,
    "BLEU-4": 43.8,
    "METEOR": 31.7,
    "ROUGE-L": 62.0,
    "CIDEr": 146.1,
    "SPICE": None,
}


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    # Paper 63.1 -> +0.03, within 0.5.
    write_run(
        root,
        "vitg-flant5xl",
        "vqav2",
        "val",
        {
            "accuracy": 63.13,
            "accuracy_by_answer_type": {"yes/no": 84.28, "number": 41.01, "other": 52.9},
            "accuracy_by_question_type": {"how many": 41.0, "what color is the": 70.2},
        },
    )
    # Paper 44.2 -> -1.2: differs at the default tolerance.
    write_run(root, "vitg-flant5xl", "gqa", "test-dev", {"accuracy": 43.0})
    # COCO: BLEU-4 43.7 -> +0.1, CIDEr 145.8 -> +0.3; SPICE null is not in Table 3 for COCO.
    write_run(root, "vitg-opt2.7b-coco", "coco_caption", "karpathy-test", CAPTION)
    domains = {
        d: {**CAPTION, "CIDEr": c, "SPICE": 15.0, "n": 10}
        for d, c in (("in-domain", 123.0), ("near-domain", 117.0), ("out-domain", 110.0))
    }
    write_run(root, "vitg-opt2.7b-coco", "nocaps", "val", {**CAPTION, "CIDEr": 119.5, "by_domain": domains})
    # A user's fine-tune, not in the zoo, and a partial rerun of a zoo model under another name.
    write_run(root, "my-finetune", "okvqa", "test", {"accuracy": 40.0})
    write_run(root, "smoke", "gqa", "test-dev", {"accuracy": 30.0}, zoo="vitg-flant5xl", partial=True, n=5)
    return root


def _row(frame, model, task, split, metric, subset="all", run=None):
    hit = frame[
        (frame["model"] == model)
        & (frame["task"] == task)
        & (frame["split"] == split)
        & (frame["metric"] == metric)
        & (frame["subset"] == subset)
    ]
    if run is not None:
        hit = hit[hit["run"] == run]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_statuses_and_deltas(runs):
    frame = build_leaderboard(load_paper_results(), results_frame(collect_runs(runs)), parse_tolerances([], 0.5))
    vqa = _row(frame, "vitg-flant5xl", "vqav2", "val", "accuracy")
    assert (vqa["table"], vqa["paper"], vqa["ours"], vqa["status"]) == (2, 63.1, 63.13, "reproduced")
    assert vqa["delta"] == pytest.approx(0.03)
    gqa = _row(frame, "vitg-flant5xl", "gqa", "test-dev", "accuracy", run="vitg-flant5xl")
    assert gqa["status"] == "differs" and gqa["delta"] == pytest.approx(-1.2)
    assert _row(frame, "vitg-flant5xl", "gqa", "test-dev", "accuracy", run="smoke")["status"] == "partial run"
    assert _row(frame, "vitg-opt2.7b-coco", "nocaps", "val", "CIDEr", "out-domain")["delta"] == pytest.approx(-13.4)
    assert _row(frame, "vitg-opt2.7b-coco", "nocaps", "val", "SPICE", "near-domain")["status"] == "reproduced"
    assert _row(frame, "vitg-opt2.7b-coco", "nocaps", "val", "SPICE")["status"] == "not scored"
    # Unrun paper rows: released weights -> "not run"; never released (or the ablation) -> "no released checkpoint".
    assert _row(frame, "vitg-flant5xxl", "vqav2", "test-dev", "accuracy")["status"] == "not run"
    assert _row(frame, "vitl-opt2.7b", "gqa", "test-dev", "accuracy")["status"] == "no released checkpoint"
    assert _row(frame, "vitg-opt6.7b-vqa", "vqav2", "test-std", "accuracy")["status"] == "no released checkpoint"
    ablation = _row(frame, "vitg-qformer-coco-no-itg", "coco_retrieval", "test", "TR@1")
    assert ablation["status"] == "no released checkpoint"
    # Runs of models not in the paper, and numbers the paper does not report, are extra rows without a paper value.
    extra = _row(frame, "my-finetune", "okvqa", "test", "accuracy")
    assert pd.isna(extra["paper"]) and pd.isna(extra["table"]) and extra["status"] == "not in paper"
    assert _row(frame, "vitg-flant5xl", "vqav2", "val", "accuracy", "yes/no")["ours"] == 84.28
    # Per question type stays in the run's metrics.json: no leaderboard rows.
    vqa_rows = frame[(frame["task"] == "vqav2") & (frame["run"] == "vitg-flant5xl")]
    assert set(vqa_rows["subset"]) == {"all", "yes/no", "number", "other"}
    # Every BLIP-2 paper row is there exactly once when at most one run matches it; compared systems are not.
    paper_rows = frame[frame["table"].notna() & (frame["run"] != "smoke")]
    assert len(paper_rows) == 92
    assert not frame["model"].isin(["Flamingo80B", "BLIP"]).any()


def test_tolerance_override_changes_status(runs):
    tolerances = parse_tolerances(["accuracy=1.5", "default=0.2"], 0.5)
    frame = build_leaderboard(load_paper_results(), results_frame(collect_runs(runs)), tolerances)
    assert _row(frame, "vitg-flant5xl", "gqa", "test-dev", "accuracy", run="vitg-flant5xl")["status"] == "reproduced"
    # CIDEr now falls under default=0.2: +0.3 on COCO differs, exactly -0.2 on NoCaps overall is within.
    assert _row(frame, "vitg-opt2.7b-coco", "coco_caption", "karpathy-test", "CIDEr")["status"] == "differs"
    assert _row(frame, "vitg-opt2.7b-coco", "nocaps", "val", "CIDEr")["status"] == "reproduced"


def test_command_writes_csv_md_png(runs, tmp_path):
    out = tmp_path / "out"
    result = bench("leaderboard", "--runs", str(runs), "--out", str(out), "--tolerance", "CIDEr=1")
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out / "leaderboard.csv")
    assert list(frame.columns) == [
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
    ]
    coco = _row(frame, "vitg-opt2.7b-coco", "coco_caption", "karpathy-test", "CIDEr")
    assert (coco["paper"], coco["ours"], coco["tolerance"], coco["status"]) == (145.8, 146.1, 1.0, "reproduced")
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "≤ 0.5 points (CIDEr: 1)" in md
    assert "| vitg-flant5xl | vitg-flant5xl | vqav2 | val | all | accuracy | 63.10 | 63.13 | +0.03 | reproduced |" in md
    assert "<summary>Measured by our runs, not reported in the paper: " in md
    assert "| my-finetune | my-finetune | okvqa" in md
    # the pivots come first: the paper table with runs, open; the one no run reached, collapsed; then every row
    assert md.index("### Table 2: zero-shot VQA") < md.index("<summary>Table 4: fine-tuned VQAv2: 6 rows, none run")
    assert md.index("<summary>Table 4: fine-tuned VQAv2: 6 rows, none run") < md.index("## Every number, one per row")
    assert "| vqav2 | val | vitg-flant5xl | vitg-flant5xl | 63.13 | 63.10 | +0.03 | reproduced |" in md
    assert "| gqa | test-dev | vitg-flant5xl | smoke | 30.00 | 44.20 | -14.20 | partial run |" in md
    assert (out / "leaderboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


def test_empty_runs_dir_lists_the_paper(tmp_path):
    (tmp_path / "runs").mkdir()
    result = bench_here("leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert len(frame) == 92 and set(frame["status"]) == {"not run", "no released checkpoint"}


def test_malformed_metrics_json_names_the_file(runs, tmp_path):
    bad = runs / "broken" / "gqa-test-dev" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"task": "gqa", "split": ', encoding="utf-8")
    with pytest.raises(RunFolderError, match="broken/gqa-test-dev/metrics.json"):
        collect_runs(runs)
    result = bench_here("leaderboard", "--runs", str(runs), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and str(bad) in result.stderr
    assert not (tmp_path / "out").exists()


def test_metrics_json_without_metrics_names_the_file(tmp_path):
    path = write_run(tmp_path / "runs", "x", "gqa", "test-dev", {"accuracy": 1.0})
    path.write_text('{"task": "gqa", "split": "test-dev", "model": "x"}', encoding="utf-8")
    with pytest.raises(RunFolderError, match=r"metrics.json: missing key\(s\) metrics"):
        collect_runs(tmp_path / "runs")


def test_missing_runs_dir_is_a_user_error(tmp_path):
    result = bench_here("leaderboard", "--runs", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "does not exist" in result.stderr


@pytest.mark.parametrize("spec", ["CIDer=1", "CIDEr", "CIDEr=abc", "CIDEr=-1"])
def test_bad_tolerance_is_rejected(spec):
    with pytest.raises(ToleranceError):
        parse_tolerances([spec], 0.5)


def test_unknown_tolerance_metric_on_the_command_line(runs, tmp_path):
    result = bench_here("leaderboard", "--runs", str(runs), "--out", str(tmp_path / "out"), "--tolerance", "CIDer=1")
    assert result.returncode == 2
    assert "unknown metric 'CIDer'" in result.stderr and "CIDEr" in result.stderr


def test_only_complete_runs_of_the_papers_split_are_judged(tmp_path):
    """A toy-root run or an old record without coverage is shown as partial beside the paper, never judged."""
    root = tmp_path / "runs"
    write_run(root, "vitg-flant5xl", "gqa", "test-dev", {"accuracy": 44.2}, against="toy root")
    old = write_run(root, "vitg-opt2.7b", "gqa", "test-dev", {"accuracy": 34.6}, n=3)
    record = json.loads(old.read_text(encoding="utf-8"))
    del record["coverage"]  # written before runs recorded their coverage, by a --limit 3 run
    old.write_text(json.dumps(record), encoding="utf-8")
    full = write_run(root, "vitg-opt6.7b", "gqa", "test-dev", {"accuracy": 36.4}, n=12_578)
    record = json.loads(full.read_text(encoding="utf-8"))
    del record["coverage"]  # an old record of the whole split is still judged
    full.write_text(json.dumps(record), encoding="utf-8")
    frame = build_leaderboard(load_paper_results(), results_frame(collect_runs(root)), parse_tolerances([], 0.5))
    assert _row(frame, "vitg-flant5xl", "gqa", "test-dev", "accuracy")["status"] == "partial run"
    assert _row(frame, "vitg-opt2.7b", "gqa", "test-dev", "accuracy")["status"] == "partial run"
    assert _row(frame, "vitg-opt6.7b", "gqa", "test-dev", "accuracy")["status"] == "reproduced"


def test_intervals_show_as_half_widths_and_too_wide_ones_cannot_judge(tmp_path):
    root = tmp_path / "runs"
    # Paper 63.1: ours 63.13 within 0.5, with an interval narrower than the tolerance -> reproduced
    write_run(root, "vitg-flant5xl", "vqav2", "val", {"accuracy": 63.13, "accuracy_by_answer_type": {"other": 52.9}},
              ci95={"accuracy": [62.9, 63.3], "accuracy_by_answer_type": {"other": [50.0, 55.8]}})
    # Paper 44.2: ours 43.0 would differ, but +-3 points of noise cannot tell -> too few samples to judge
    write_run(root, "vitg-flant5xl", "gqa", "test-dev", {"accuracy": 43.0}, ci95={"accuracy": [40.0, 46.0]})
    frame = build_leaderboard(load_paper_results(), results_frame(collect_runs(root)), parse_tolerances(None, 0.5))
    vqa = _row(frame, "vitg-flant5xl", "vqav2", "val", "accuracy", run="vitg-flant5xl")
    assert (vqa["low"], vqa["high"], vqa["status"]) == (62.9, 63.3, "reproduced")
    gqa = _row(frame, "vitg-flant5xl", "gqa", "test-dev", "accuracy", run="vitg-flant5xl")
    assert gqa["status"] == "too few samples to judge"
    # the interval never widens the rule: with a 4-point tolerance the same run is judged again
    wide = build_leaderboard(load_paper_results(), results_frame(collect_runs(root)), parse_tolerances(None, 4))
    assert _row(wide, "vitg-flant5xl", "gqa", "test-dev", "accuracy", run="vitg-flant5xl")["status"] == "reproduced"
    text = to_markdown(frame, parse_tolerances(None, 0.5))
    assert "| 63.13 ± 0.20 |" in text and "| 43.00 ± 3.00 |" in text
