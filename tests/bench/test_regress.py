"""``bench regress``: the CI gate's exit codes (0 same, 1 drop, 2 missing) and its Markdown report."""

from __future__ import annotations

import json

import pytest

from bench.regress import BaselineError, compare, load_baseline
from bench.run_folders import collect_runs, results_frame
from bench.tolerance import parse_tolerances
from tests.bench.helpers import bench, bench_here, write_run

RETRIEVAL = {
    "TR@1": 85.4,
    "TR@5": 97.0,
    "TR@10": 98.5,
    "IR@1": 68.3,
    "IR@5": 87.7,
    "IR@10": 92.6,
    "TR_mean": 93.63,
    "IR_mean": 82.87,
    "R_mean": 88.25,
}


def _write_runs(root, tr1=85.4, ir1=68.3, vqa=63.13):
    write_run(root, "vitg-qformer-coco", "coco_retrieval", "test", {**RETRIEVAL, "TR@1": tr1, "IR@1": ir1})
    write_run(
        root,
        "vitg-flant5xl",
        "vqav2",
        "val",
        {"accuracy": vqa, "accuracy_by_answer_type": {"yes/no": 84.28, "number": 41.01, "other": 52.9}},
    )
    return root


@pytest.fixture
def baseline(tmp_path):
    """A baseline snapshot written by ``bench regress --write-baseline`` from good runs."""
    runs = _write_runs(tmp_path / "good")
    path = tmp_path / "baseline.csv"
    result = bench_here("regress", "--write-baseline", str(path), "--runs", str(runs))
    assert result.returncode == 0, result.stderr
    return path


def test_identical_rerun_passes(baseline, tmp_path):
    runs = _write_runs(tmp_path / "rerun")
    result = bench("regress", "--baseline", str(baseline), "--runs", str(runs))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✅ no regression" in result.stdout and "❌" not in result.stdout
    assert "| vitg-qformer-coco | coco_retrieval | test | all | TR@1 | 85.40 | 85.40 | +0.00 | 0 | ✅ pass |" in (
        result.stdout
    )
    assert "| vitg-flant5xl | vqav2 | val | yes/no | accuracy | 84.28 | 84.28 |" in result.stdout


def test_injected_drop_fails(baseline, tmp_path):
    runs = _write_runs(tmp_path / "worse", tr1=84.0)
    report = tmp_path / "comment.md"
    result = bench("regress", "--baseline", str(baseline), "--runs", str(runs), "--output", str(report))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "| vitg-qformer-coco | coco_retrieval | test | all | TR@1 | 85.40 | 84.00 | -1.40 | 0 | ❌ regression |" in (
        result.stdout
    )
    head, full = _split(result.stdout)
    assert head.count("❌ regression |") == 1 and full.count("❌ regression |") == 1  # listed, and in the full table
    assert report.read_text(encoding="utf-8") == result.stdout


def _split(report: str) -> tuple[str, str]:
    """The PR comment's visible part and its collapsed full table."""
    head, sep, rest = report.partition("<details>")
    assert sep and rest.rstrip().endswith("</details>"), report
    return head, rest


def test_a_passing_gate_shows_one_verdict_line_and_no_table_outside_details(baseline, tmp_path):
    result = bench_here("regress", "--baseline", str(baseline), "--runs", str(_write_runs(tmp_path / "rerun")))
    assert result.returncode == 0, result.stdout
    head, full = _split(result.stdout)
    assert head.splitlines()[0] == ("### BLIP-2 regression check: ✅ no regression: 13/13 metrics pass (paired rule "
                                    "on 0, flat rule on 13); no significant change")
    assert "|" not in head and head.count("no significant change") == 1  # said once, in the verdict
    assert "<summary>All 13 metrics</summary>" in full and full.count("| ✅ pass |") == 13


def test_a_failing_gate_lists_the_failures_first(baseline, tmp_path):
    runs = _write_runs(tmp_path / "worse", tr1=80.0, vqa=60.0)
    folder = runs / "vitg-qformer-coco" / "coco_retrieval-test" / "metrics.json"
    record = json.loads(folder.read_text(encoding="utf-8"))
    del record["metrics"]["IR@10"]
    folder.write_text(json.dumps(record), encoding="utf-8")
    result = bench_here("regress", "--baseline", str(baseline), "--runs", str(runs))
    assert result.returncode == 2, result.stdout
    head, _ = _split(result.stdout)
    assert head.splitlines()[0] == (
        "### BLIP-2 regression check: ⚠️ 1 metric(s) missing from the runs; 2 regression(s): vitg-qformer-coco "
        "coco_retrieval test TR@1 -5.40, vitg-flant5xl vqav2 val accuracy -3.13, vitg-qformer-coco coco_retrieval "
        "test IR@10")
    listed = [line for line in head.splitlines() if line.startswith("| vitg")]
    # the regressions (the largest drop first, not the baseline's order), then the missing metric; nothing else
    assert [line.split(" | ")[4] for line in listed] == ["TR@1", "accuracy", "IR@10"]
    assert "| ✅ pass |" not in head


def test_json_format_has_the_verdict_and_every_row(baseline, tmp_path):
    runs = _write_runs(tmp_path / "worse", tr1=84.0)
    out = tmp_path / "report.json"
    result = bench_here("regress", "--baseline", str(baseline), "--runs", str(runs), "--format", "json",
                        "--output", str(out))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert json.loads(out.read_text(encoding="utf-8")) == report
    assert report["exit_code"] == 1 and report["verdict"].startswith("❌ 1 regression(s): vitg-qformer-coco")
    assert len(report["rows"]) == 13 and {r["status"] for r in report["rows"]} == {"✅ pass", "❌ regression"}
    tr1 = next(r for r in report["rows"] if r["metric"] == "TR@1")
    assert (tr1["baseline"], tr1["current"], tr1["p_value"]) == (85.4, 84.0, None)


def test_drop_within_tolerance_passes_and_default_applies(baseline, tmp_path):
    runs = _write_runs(tmp_path / "worse", tr1=84.0, ir1=68.0)
    assert (
        bench_here("regress", "--baseline", str(baseline), "--runs", str(runs), "--tolerance", "TR@1=1.5").returncode
        == 1
    )
    ok = bench_here(
        "regress",
        "--baseline",
        str(baseline),
        "--runs",
        str(runs),
        "--tolerance",
        "TR@1=1.5",
        "--tolerance",
        "default=0.3",
    )
    assert ok.returncode == 0, ok.stdout
    assert "| 85.40 | 84.00 | -1.40 | 1.5 | ✅ pass |" in ok.stdout


def test_improvement_is_not_a_regression(baseline, tmp_path):
    runs = _write_runs(tmp_path / "better", tr1=90.0, vqa=70.0)
    assert bench_here("regress", "--baseline", str(baseline), "--runs", str(runs)).returncode == 0


def test_missing_metric_exits_2(baseline, tmp_path):
    runs = _write_runs(tmp_path / "partial")
    folder = runs / "vitg-qformer-coco" / "coco_retrieval-test" / "metrics.json"
    record = json.loads(folder.read_text(encoding="utf-8"))
    del record["metrics"]["IR@10"]
    folder.write_text(json.dumps(record), encoding="utf-8")
    result = bench("regress", "--baseline", str(baseline), "--runs", str(runs))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "| IR@10 | 92.60 | — | — | 0 | ⚠️ missing |" in result.stdout
    assert "run vitg-qformer-coco coco_retrieval-test has no value for IR@10 (all)" in result.stdout


def test_missing_task_split_exits_2_even_with_a_regression(baseline, tmp_path):
    runs = tmp_path / "only-vqa"
    write_run(runs, "vitg-flant5xl", "vqav2", "val", {"accuracy": 50.0})
    result = bench_here("regress", "--baseline", str(baseline), "--runs", str(runs))
    assert result.returncode == 2
    assert "no current run of vitg-qformer-coco on coco_retrieval test" in result.stdout
    assert "❌ regression" in result.stdout


def test_paper_csv_as_baseline_matches_by_zoo_name(tmp_path):
    """The paper's own CSV (``bench paper --format csv``) gates a run whose provenance names the zoo model."""
    paper_csv = tmp_path / "paper.csv"
    paper_csv.write_text(bench_here("paper", "--format", "csv").stdout, encoding="utf-8")
    runs = tmp_path / "runs"
    write_run(runs, "candidate", "coco_retrieval", "test", {**RETRIEVAL, "IR@5": 87.0}, zoo="vitg-qformer-coco")
    result = bench_here("regress", "--baseline", str(paper_csv), "--runs", str(runs), "--model", "vitg-qformer-coco")
    # Tables 5 and 6 both list COCO TR@1 85.4: one baseline row. Flickr30K was not run: exit 2.
    assert result.returncode == 2
    assert result.stdout.count("| TR@1 | 85.40 |") == 1
    row = "| vitg-qformer-coco → candidate | coco_retrieval | test | all | IR@5 | 87.70 | 87.00 | -0.70 |"
    assert row in result.stdout


def test_run_option_gates_a_new_checkpoint_against_another_models_numbers(baseline, tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "new-ckpt", "coco_retrieval", "test", {**RETRIEVAL, "TR@1": 86.0})
    result = bench_here(
        "regress", "--baseline", str(baseline), "--runs", str(runs), "--run", "new-ckpt", "--model", "vitg-qformer-coco"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| vitg-qformer-coco → new-ckpt | coco_retrieval | test | all | TR@1 | 85.40 | 86.00 | +0.60 |" in (
        result.stdout
    )


def test_metrics_json_and_runs_dir_baselines(tmp_path):
    good = _write_runs(tmp_path / "good")
    worse = _write_runs(tmp_path / "worse", vqa=60.0)
    tolerances = parse_tolerances([], 0.0)
    current = results_frame(collect_runs(worse))
    from_dir = compare(load_baseline(good), current, tolerances)
    from_json = compare(load_baseline(good / "vitg-flant5xl" / "vqav2-val" / "metrics.json"), current, tolerances)
    assert from_dir.exit_code == 1 and from_json.exit_code == 1
    assert set(from_json.rows["metric"]) == {"accuracy"} and len(from_json.rows) == 4  # overall + 3 answer types


def test_bad_baseline_csv_names_the_line(tmp_path):
    path = tmp_path / "baseline.csv"
    path.write_text("table,model,task,split,subset,metric,value\n,m,gqa,test-dev,all,accuracy,oops\n", encoding="utf-8")
    with pytest.raises(BaselineError, match=r"baseline.csv line 2: value 'oops' is not a number"):
        load_baseline(path)
    path.write_text("model,task,metric,value\nm,gqa,accuracy,1\n", encoding="utf-8")
    result = bench_here("regress", "--baseline", str(path), "--runs", str(tmp_path))
    assert result.returncode == 2 and "missing column(s) split" in result.stderr


def test_unknown_tolerance_metric_is_a_user_error(baseline, tmp_path):
    runs = _write_runs(tmp_path / "rerun")
    result = bench_here("regress", "--baseline", str(baseline), "--runs", str(runs), "--tolerance", "R@1=1")
    assert result.returncode == 2 and result.stderr.startswith("error: --tolerance 'R@1=1': unknown metric 'R@1'")


def test_a_partial_current_run_fails_unless_allowed(baseline, tmp_path):
    runs = _write_runs(tmp_path / "limited")
    write_run(runs, "vitg-qformer-coco", "coco_retrieval", "test", RETRIEVAL, partial=True, n=3)
    result = bench_here("regress", "--baseline", str(baseline), "--runs", str(runs))
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert result.stdout.startswith("### BLIP-2 regression check: ❌ 9 metric(s) of partial runs not compared "
                                    "(--allow-partial compares them): vitg-qformer-coco coco_retrieval test TR@1")
    assert "| TR@1 | 85.40 | 85.40 | +0.00 | 0 | ❌ partial run |" in result.stdout
    assert "| vitg-flant5xl | vqav2 | val | all | accuracy | 63.13 | 63.13 | +0.00 | 0 | ✅ pass |" in result.stdout
    assert "run vitg-qformer-coco coco_retrieval-test is partial (scored 3 samples of a bigger split)" in result.stdout
    allowed = bench_here("regress", "--baseline", str(baseline), "--runs", str(runs), "--allow-partial")
    assert allowed.returncode == 0, allowed.stdout
    assert "| TR@1 | 85.40 | 85.40 | +0.00 | 0 | ✅ pass (partial run) |" in allowed.stdout


def test_a_metrics_json_without_coverage_is_judged_by_its_n(baseline, tmp_path):
    """Records written before coverage was recorded said "partial": false even for --limit runs."""
    runs = _write_runs(tmp_path / "old")
    path = runs / "vitg-qformer-coco" / "coco_retrieval-test" / "metrics.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    del record["coverage"]
    record["n"] = 3
    path.write_text(json.dumps(record), encoding="utf-8")
    result = bench_here("regress", "--baseline", str(baseline), "--runs", str(runs))
    assert result.returncode == 1 and "n=3, while the paper's split size is 5000" in result.stdout
    record["n"] = 5000  # the paper's 5K test in full
    path.write_text(json.dumps(record), encoding="utf-8")
    assert bench_here("regress", "--baseline", str(baseline), "--runs", str(runs)).returncode == 0
