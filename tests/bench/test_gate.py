"""The CI gate with a baseline bundle: a drop fails only when beyond the tolerance *and* significant.

The issue's acceptance cases, with a tolerance of 2 points: a 5-point drop on 40 questions passes (not
significant), the same drop on 3,000 questions fails, a 1-point drop on 3,000 questions passes.
"""

from __future__ import annotations

import pytest

from bench.gate import adjust, is_bundle
from tests.bench.helpers import bench, bench_here, vqa_records, write_sampled_run


def _bundle(tmp_path, records, name="bundle"):
    """A baseline bundle written by ``bench regress --write-baseline DIR`` from a run of ``records``."""
    runs = tmp_path / f"{name}-runs"
    folder = write_sampled_run(runs, "toy", "vqav2", "val", records)
    (folder / "predictions.json").write_text("{}", encoding="utf-8")  # a bundle keeps neither of these
    (folder / "scores.npz").write_bytes(b"\0")
    bundle = tmp_path / name
    result = bench_here("regress", "--write-baseline", str(bundle), "--runs", str(runs))
    assert result.returncode == 0, result.stderr
    return bundle


def _gate(tmp_path, baseline_records, current_records, *extra):
    bundle = _bundle(tmp_path, baseline_records)
    runs = tmp_path / "current"
    write_sampled_run(runs, "toy", "vqav2", "val", current_records)
    return bench_here("regress", "--baseline", str(bundle), "--runs", str(runs), "--tolerance", "default=2", *extra)


def test_five_points_on_40_questions_passes_not_significant(tmp_path):
    result = _gate(tmp_path, vqa_records(40, set()), vqa_records(40, {0, 20}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| toy | vqav2 | val | all | accuracy | 100.00 | 95.00 | -5.00 | 2 | ✅ pass | paired |" in result.stdout
    assert "2 metric(s) tested with the paired rule" in result.stdout and "Holm" in result.stdout


def test_five_points_on_3000_questions_fails(tmp_path):
    result = _gate(tmp_path, vqa_records(3000, set()), vqa_records(3000, set(range(0, 3000, 20))))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "| all | accuracy | 100.00 | 95.00 | -5.00 | 2 | ❌ regression | paired |" in result.stdout
    assert "| <1e-4 |" in result.stdout


def test_one_point_on_3000_questions_passes_though_significant(tmp_path):
    result = _gate(tmp_path, vqa_records(3000, set()), vqa_records(3000, set(range(0, 3000, 100))))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| all | accuracy | 100.00 | 99.00 | -1.00 | 2 | ✅ pass | paired |" in result.stdout
    # a change beyond noise that passes is still shown above the collapsed table, with the verdict saying so
    head = result.stdout.partition("<details>")[0]
    assert "significant change(s) within the tolerance" in head.splitlines()[0]
    assert "| all | accuracy | 100.00 | 99.00 | -1.00 | 2 | ✅ pass | paired |" in head


def test_a_csv_baseline_keeps_the_flat_rule(tmp_path):
    """The 40-question drop that the paired rule forgives is a regression under the flat rule."""
    runs = tmp_path / "good"
    write_sampled_run(runs, "toy", "vqav2", "val", vqa_records(40, set()))
    csv = tmp_path / "baseline.csv"
    assert bench_here("regress", "--write-baseline", str(csv), "--runs", str(runs)).returncode == 0
    current = tmp_path / "current"
    write_sampled_run(current, "toy", "vqav2", "val", vqa_records(40, {0, 20}))
    result = bench("regress", "--baseline", str(csv), "--runs", str(current), "--tolerance", "default=2")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "| all | accuracy | 100.00 | 95.00 | -5.00 | 2 | ❌ regression | flat | — | — |" in result.stdout
    assert "Every metric uses the flat rule" in result.stdout


def test_a_current_run_without_samples_falls_back_to_the_flat_rule_and_says_why(tmp_path):
    bundle = _bundle(tmp_path, vqa_records(40, set()))
    runs = tmp_path / "current"
    folder = write_sampled_run(runs, "toy", "vqav2", "val", vqa_records(40, {0, 20}))
    (folder / "samples.jsonl").unlink()
    result = bench_here("regress", "--baseline", str(bundle), "--runs", str(runs), "--tolerance", "default=2")
    assert result.returncode == 1 and "| ❌ regression | flat |" in result.stdout
    assert "flat rule, because" in result.stdout and "rerun it with this version" in result.stdout


def _answer_type(i):
    return "number" if i < 100 else "other" if i < 550 else "yes/no"


def test_holm_forgives_what_no_correction_fails(tmp_path):
    """5 of 100 "number" questions go wrong: a 5-point drop with p ~ 0.02 on one of 4 metrics tested (overall
    and three answer types). Uncorrected that is a regression; Holm multiplies the smallest p by 4."""
    base = vqa_records(1000, set(), answer_type=_answer_type)
    worse = vqa_records(1000, {0, 20, 40, 60, 80}, answer_type=_answer_type)
    holm = _gate(tmp_path, base, worse)
    assert holm.returncode == 0, holm.stdout
    assert "| number | accuracy | 100.00 | 95.00 | -5.00 | 2 | ✅ pass | paired |" in holm.stdout
    assert "4 metric(s) tested with the paired rule" in holm.stdout and "p (Holm-adjusted)" in holm.stdout
    none = _gate(tmp_path / "none", base, worse, "--correction", "none")
    assert none.returncode == 1, none.stdout
    assert "| number | accuracy | 100.00 | 95.00 | -5.00 | 2 | ❌ regression | paired |" in none.stdout
    assert "no multiple-testing correction" in none.stdout
    strict = _gate(tmp_path / "strict", base, worse, "--correction", "none", "--alpha", "0.01")
    assert strict.returncode == 0, strict.stdout


def test_holm_adjustment():
    assert adjust([0.01, 0.04, 0.03], "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert adjust([0.5, 0.001], "holm") == pytest.approx([0.5, 0.002])
    assert adjust([0.01, 0.04], "none") == [0.01, 0.04]


def test_the_bundle_keeps_metrics_and_samples_only_and_is_replaced_only_as_a_bundle(tmp_path):
    bundle = _bundle(tmp_path, vqa_records(40, set()))
    files = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    assert files == ["toy/vqav2-val/metrics.json", "toy/vqav2-val/samples.jsonl"] and is_bundle(bundle)
    again = _bundle(tmp_path, vqa_records(40, {3}))  # the same folder: an existing bundle is replaced
    assert again == bundle and '"id": 3, "image": 3, "prediction": "no"' in (
        bundle / "toy/vqav2-val/samples.jsonl").read_text(encoding="utf-8")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    other = tmp_path / "notes"
    other.mkdir()
    (other / "readme.txt").write_text("mine", encoding="utf-8")
    result = bench_here("regress", "--write-baseline", str(other), "--runs", str(tmp_path / "bundle-runs"))
    assert result.returncode == 2 and "not a baseline bundle" in result.stderr
    assert (other / "readme.txt").read_text(encoding="utf-8") == "mine"


def test_bad_gate_flags_are_refused_before_reading(tmp_path):
    for extra, name in ((["--alpha", "0"], "--alpha"), (["--alpha", "1.5"], "--alpha")):
        result = bench_here("regress", "--baseline", str(tmp_path / "none.csv"), *extra)
        assert result.returncode == 2 and name in result.stderr, result.stderr
    result = bench("regress", "--baseline", "b.csv", "--correction", "bonferroni")  # argparse exits itself
    assert result.returncode == 2 and "--correction" in result.stderr
    for extra in (["--alpha", "0.05"], ["--correction", "holm"]):  # given at their defaults, still refused
        result = bench_here("regress", "--write-baseline", str(tmp_path / "w"), *extra)
        assert result.returncode == 2 and extra[0] in result.stderr
    result = bench_here("regress", "--write-baseline", str(tmp_path / "bundle.json"))
    assert result.returncode == 2 and "folder" in result.stderr


def test_the_packaged_toy_baseline_is_found_by_name(tmp_path):
    """`--baseline toy` is the bundle in the toyworld package, so an installed wheel can gate itself."""
    import shutil

    from toyworld import BASELINE_DIR

    runs = tmp_path / "runs"
    shutil.copytree(BASELINE_DIR / "toy-qformer-coco", runs / "toy-qformer-coco")
    result = bench_here("regress", "--baseline", "toy", "--runs", str(runs), "--model", "toy-qformer-coco")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Baseline `toy ({BASELINE_DIR})`" in result.stdout
    assert "| toy-qformer-coco | flickr30k | test | all | TR@1 |" in result.stdout


def test_a_toy_path_in_the_current_folder_makes_the_name_ambiguous(tmp_path, monkeypatch):
    """Refused rather than guessed; ``./toy`` then means the folder."""
    import shutil

    from toyworld import BASELINE_DIR

    shutil.copytree(BASELINE_DIR / "toy-qformer-coco", tmp_path / "toy" / "toy-qformer-coco")
    monkeypatch.chdir(tmp_path)
    result = bench_here("regress", "--baseline", "toy", "--runs", "toy")
    assert result.returncode == 2 and "give ./toy for the path" in result.stderr, result.stderr
    result = bench_here("regress", "--baseline", "./toy", "--runs", "toy")
    assert result.returncode == 0 and "Baseline `./toy`" in result.stdout, result.stdout + result.stderr
