"""``bench compare``: paired Δ, interval and p-value on the shared samples, and the samples that changed."""

from __future__ import annotations

import json

from tests.bench.helpers import bench, bench_here, vqa_records, write_sampled_run

RIGHT_TO_WRONG = set(range(0, 40, 20))  # 2 of 40 questions: a 5-point drop


def _compare(a, b, *extra):
    result = bench_here("compare", str(a), str(b), "--format", "json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _drop(tmp_path, n, flipped, already_wrong=frozenset()):
    """Run A, and run B equal to it except the questions in ``flipped`` went from right to wrong."""
    a = write_sampled_run(tmp_path / "runs", "old", "vqav2", "val", vqa_records(n, set(already_wrong)))
    b = write_sampled_run(tmp_path / "runs", "new", "vqav2", "val", vqa_records(n, set(already_wrong) | flipped))
    return a, b


def test_a_run_against_itself_is_zero_with_p_one(tmp_path):
    a, _ = _drop(tmp_path, 300, set(), already_wrong=set(range(0, 300, 3)))
    report = _compare(a, a)
    leaves = [report["metrics"]["accuracy"], *report["metrics"]["accuracy_by_answer_type"].values(),
              *report["metrics"]["accuracy_by_question_type"].values()]
    assert len(leaves) == 3
    for leaf in leaves:
        assert leaf["delta"] == 0 and leaf["ci95"] == [0, 0] and leaf["p_value"] == 1 and leaf["a"] == leaf["b"]
    assert report["shared"] == {"shared": 300, "only_a": 0, "only_b": 0}
    assert report["changed"]["right_to_wrong"]["count"] == 0 == report["changed"]["wrong_to_right"]["count"]
    assert "bootstrap" in report["method"] and report["resamples"] == 1000 and report["seed"] == 0


def test_five_points_on_40_questions_is_not_significant(tmp_path):
    a, b = _drop(tmp_path, 40, RIGHT_TO_WRONG, already_wrong={1, 3, 5})
    leaf = _compare(a, b)["metrics"]["accuracy"]
    assert abs(leaf["delta"] + 5) < 1e-9 and abs(leaf["a"] - 92.5) < 1e-9
    assert leaf["ci95"][0] < -5 < leaf["ci95"][1] and leaf["ci95"][1] >= 0
    assert leaf["p_value"] > 0.05


def test_five_points_on_3000_questions_is_significant_and_one_point_is_small(tmp_path):
    flipped = set(range(0, 3000, 20))  # 150 questions
    a, b = _drop(tmp_path, 3000, flipped)
    leaf = _compare(a, b)["metrics"]["accuracy"]
    assert abs(leaf["delta"] + 5) < 1e-9 and leaf["ci95"][1] < 0 and leaf["p_value"] < 1e-4
    a, b = _drop(tmp_path / "one", 3000, set(range(0, 3000, 100)))  # 30 questions: 1 point
    leaf = _compare(a, b)["metrics"]["accuracy"]
    assert abs(leaf["delta"] + 1) < 1e-9 and -2 < leaf["ci95"][0] < leaf["ci95"][1] < 0


def test_the_changed_samples_are_the_flipped_ones_with_both_predictions(tmp_path):
    a_records = vqa_records(40, {7})
    b_records = vqa_records(40, RIGHT_TO_WRONG)  # 0 and 20 went wrong, 7 went right
    a = write_sampled_run(tmp_path / "runs", "old", "vqav2", "val", a_records)
    b = write_sampled_run(tmp_path / "runs", "new", "vqav2", "val", b_records)
    changed = _compare(a, b, "--top", "1")["changed"]
    assert changed["right_to_wrong"]["count"] == 2 and len(changed["right_to_wrong"]["top"]) == 1
    top = changed["right_to_wrong"]["top"][0]
    assert top["id"] in RIGHT_TO_WRONG and top["a"] == {"prediction": "yes", "accuracy": 100.0}
    assert top["b"] == {"prediction": "no", "accuracy": 0.0} and top["delta"] == -100
    assert changed["wrong_to_right"]["count"] == 1 and changed["wrong_to_right"]["top"][0]["id"] == 7


def test_only_the_shared_samples_are_compared(tmp_path):
    a = write_sampled_run(tmp_path / "runs", "old", "vqav2", "val", vqa_records(40, set(range(20, 40))))
    b = write_sampled_run(tmp_path / "runs", "new", "vqav2", "val", vqa_records(40, set())[:20])
    report = _compare(a, b)
    assert report["shared"] == {"shared": 20, "only_a": 20, "only_b": 0}
    leaf = report["metrics"]["accuracy"]  # A is 50 over all 40 questions but 100 on the 20 it shares with B
    assert leaf["a"] == 100 and leaf["b"] == 100 and leaf["delta"] == 0


def test_markdown_names_the_method_the_counts_and_the_changed_ids(tmp_path):
    a, b = _drop(tmp_path, 40, RIGHT_TO_WRONG)
    out = tmp_path / "compare.md"
    result = bench("compare", str(a), str(b), "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert out.read_text(encoding="utf-8") == text
    assert "| metric | A | B | Δ | 95% CI | p |" in text and "| accuracy | 100.00 | 95.00 | -5.00 |" in text
    assert "40 shared, 0 only in A, 0 only in B" in text and "paired bootstrap" in text
    assert "right to wrong (accuracy fell): 2 sample(s)" in text and "| 20 | 20 | yes | 100.00 | no | 0.00 |" in text


def test_another_task_or_split_is_refused_naming_both(tmp_path):
    a, _ = _drop(tmp_path, 40, set())
    other = write_sampled_run(tmp_path / "runs", "new", "okvqa", "test", vqa_records(40, set()))
    result = bench_here("compare", str(a), str(other))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "vqav2 val" in result.stderr and "okvqa test" in result.stderr and str(other) in result.stderr


def test_a_run_without_samples_is_refused(tmp_path):
    a, b = _drop(tmp_path, 40, set())
    (b / "samples.jsonl").unlink()
    result = bench_here("compare", str(a), str(b))
    assert result.returncode == 2 and "samples.jsonl" in result.stderr and "rerun" in result.stderr
    result = bench_here("compare", str(a), str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "no metrics.json" in result.stderr


def test_bad_flags_are_refused_before_reading(tmp_path):
    for flags, name in ((["--bootstrap-iters", "0"], "--bootstrap-iters"), (["--top", "-1"], "--top"),
                        (["--bootstrap-seed", "-2"], "--bootstrap-seed"), (["--output", str(tmp_path)], "--output")):
        result = bench_here("compare", "a", "b", *flags)
        assert result.returncode == 2 and name in result.stderr, result.stderr


def _retrieval(n_images, ranks, texts=None):
    texts = texts or [f"a photo {i}" for i in range(n_images)]
    return ([{"query": "image", "id": f"img{i}", "index": i, "rank": rank} for i, rank in enumerate(ranks)]
            + [{"query": "text", "id": t, "image": f"img{t}", "text": texts[t], "rank": 1} for t in range(n_images)])


def test_retrieval_ranks_that_moved_and_galleries_that_differ(tmp_path):
    a = write_sampled_run(tmp_path / "runs", "old", "flickr30k", "test", _retrieval(5, [1, 1, 1, 1, 1]))
    b = write_sampled_run(tmp_path / "runs", "new", "flickr30k", "test", _retrieval(5, [1, 7, 1, 2, 1]))
    report = _compare(a, b)
    assert report["metrics"]["TR@1"]["delta"] == -40 and report["metrics"]["IR@1"]["delta"] == 0
    moved = report["changed"]["image_queries"]
    assert moved["count"] == 2 and [(m["id"], m["a_rank"], m["b_rank"]) for m in moved["top"]] == [
        ("img1", 1, 7), ("img3", 1, 2)]
    other = write_sampled_run(tmp_path / "runs", "texts", "flickr30k", "test",
                              _retrieval(5, [1] * 5, texts=["x", "a photo 1", "a photo 2", "a photo 3", "a photo 4"]))
    result = bench_here("compare", str(a), str(other))
    assert result.returncode == 2 and "different galleries" in result.stderr


def test_a_task_without_a_statistic_gives_whole_run_values_and_the_reason(tmp_path, monkeypatch):
    """Caption scorers get their statistic in parallel work; a task without one is still compared, unpaired."""
    import bench.compare_report as report_module
    from tests.bench.helpers import write_run

    monkeypatch.setattr(report_module, "statistic_of", lambda task: None)
    a = write_run(tmp_path / "runs", "old", "coco_caption", "karpathy-test", {"CIDEr": 100.0, "METEOR": 30.0}).parent
    b = write_run(tmp_path / "runs", "new", "coco_caption", "karpathy-test", {"CIDEr": 90.0, "METEOR": 31.0}).parent
    report = _compare(a, b)
    assert report["metrics"] == {} and report["shared"] is None
    assert report["not_compared"]["CIDEr"]["delta"] == -10 and report["not_compared"]["METEOR"]["b"] == 31
    assert "no per-sample statistic" in report["not_compared"]["CIDEr"]["reason"]
