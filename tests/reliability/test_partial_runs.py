"""No result is mislabelled: a run over less than the split's full size says so, with the reason and the counts,
and the leaderboard and the CI gate never judge it as if it were complete.

"Full size" is the paper's split size on an ordinary data root, and a toy root's own size on a toy root (whose
runs are complete for the toy world, never comparable with the paper)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

import tasks
from bench.cli import main

PAPER_MODEL = "vitg-qformer-coco"  # a zoo name with Flickr30K rows in the paper


def _bench(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _run(capsys, model: str, root, out, *extra: str) -> dict:
    code, _, err = _bench(capsys, "run", "--task", "flickr30k", "--model", str(model), "--data-root", str(root),
                          "--output-dir", str(out), "--quiet", "--batch-size", "4", *extra)
    assert code == 0, err
    [path] = out.glob("*/flickr30k-test/metrics.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy") / "root"
    assert main(["toy-data", "--out", str(root), "--size", "small"]) == 0
    return root


def test_a_limit_run_is_partial_with_the_reason_and_the_counts(toy_root, tmp_path, capsys):
    record = _run(capsys, "toy-qformer-coco", toy_root, tmp_path / "runs", "--limit", "3")
    size = tasks.get("flickr30k").load(toy_root).total
    assert size > 3
    assert record["partial"] is True and record["n"] == 3
    coverage = record["coverage"]
    assert (coverage["evaluated"], coverage["split_size"], coverage["official_size"]) == (3, size, size)
    assert coverage["against"] == "toy root" and coverage["unit"] == "images"
    assert f"scored 3 of {size} images in the data files (--limit 3)" in coverage["reason"]
    assert record["notes"]["partial"] == coverage["reason"]


def test_a_full_toy_root_run_is_complete_and_passes_the_gate(toy_root, tmp_path, capsys):
    """What CI does: full runs of the toy root, gated against a baseline of such runs without --allow-partial."""
    runs = tmp_path / "runs"
    record = _run(capsys, "toy-qformer-coco", toy_root, runs)
    assert record["partial"] is False and record["coverage"]["against"] == "toy root"
    assert record["coverage"]["reason"] is None and "partial" not in record.get("notes", {})
    baseline = tmp_path / "baseline.csv"
    assert _bench(capsys, "regress", "--write-baseline", str(baseline), "--runs", str(runs))[0] == 0
    code, out, _ = _bench(capsys, "regress", "--baseline", str(baseline), "--runs", str(runs))
    assert code == 0 and "✅ no regression" in out and "partial" not in out


def test_a_zoo_model_on_the_toy_root_is_never_judged_against_the_paper(toy_root, tiny_dir, tmp_path, capsys):
    """A run named after a paper model (a run name that is a zoo name is matched to the paper's rows)."""
    runs = tmp_path / "runs"
    record = _run(capsys, tiny_dir("itm"), toy_root, runs, "--name", PAPER_MODEL)
    assert record["partial"] is False and record["coverage"]["against"] == "toy root"
    code, _, err = _bench(capsys, "leaderboard", "--runs", str(runs), "--out", str(tmp_path / "board"))
    assert code == 0, err
    board = pd.read_csv(tmp_path / "board" / "leaderboard.csv")
    ours = board[(board["run"] == PAPER_MODEL) & board["paper"].notna()]
    assert len(ours) and set(ours["status"]) == {"partial run"}
    assert not board["status"].isin(["reproduced", "differs"]).any()


def test_an_edited_toy_root_file_makes_the_run_partial(toy_root, tmp_path, capsys):
    root = tmp_path / "edited"
    shutil.copytree(toy_root, root)
    annotations = root / "flickr30k" / "dataset_flickr30k.json"
    data = json.loads(annotations.read_text(encoding="utf-8"))
    test_images = [i for i, image in enumerate(data["images"]) if image["split"] == "test"]
    del data["images"][test_images[-1]]  # one test image fewer: the split no longer has the toy root's size
    annotations.write_text(json.dumps(data), encoding="utf-8")
    record = _run(capsys, "toy-qformer-coco", root, tmp_path / "runs")
    assert record["partial"] is True and record["coverage"]["official_size"] is None
    reason = record["coverage"]["reason"]
    assert "flickr30k/dataset_flickr30k.json differ(s) from the toy root's manifest.json" in reason


def test_trimmed_annotation_files_are_partial_against_the_paper(tiny_dir, data_root, tmp_path, capsys):
    """A zoo-named run on small annotation files: partial in metrics.json, on the leaderboard and at the gate."""
    runs = tmp_path / "runs"
    record = _run(capsys, tiny_dir("itm"), data_root, runs, "--name", PAPER_MODEL)
    official = tasks.get("flickr30k").split("test").official_size
    size = record["coverage"]["split_size"]
    assert record["partial"] is True and record["n"] == size < official
    assert record["coverage"]["against"] == "paper" and record["coverage"]["official_size"] == official
    assert f"the data files hold {size} images but the paper's flickr30k test has {official}" in (
        record["coverage"]["reason"]
    )

    code, _, err = _bench(capsys, "leaderboard", "--runs", str(runs), "--out", str(tmp_path / "board"))
    assert code == 0, err
    board = pd.read_csv(tmp_path / "board" / "leaderboard.csv")
    ours = board[(board["run"] == PAPER_MODEL) & board["paper"].notna()]
    assert len(ours) and set(ours["status"]) == {"partial run"} and set(ours["n"]) == {size}
    assert not board["status"].isin(["reproduced", "differs"]).any()
    assert "| vitg-qformer-coco | vitg-qformer-coco | flickr30k | test | all | TR@1 |" in (
        (tmp_path / "board" / "leaderboard.md").read_text(encoding="utf-8")
    )

    baseline = tmp_path / "baseline.csv"
    assert _bench(capsys, "regress", "--write-baseline", str(baseline), "--runs", str(runs))[0] == 0
    code, out, _ = _bench(capsys, "regress", "--baseline", str(baseline), "--runs", str(runs))
    assert code == 1
    assert "❌ partial run" in out and "✅ pass" not in out and "--allow-partial" in out
    assert f"the paper's flickr30k test has {official}" in out
    code, out, _ = _bench(capsys, "regress", "--baseline", str(baseline), "--runs", str(runs), "--allow-partial")
    assert code == 0 and "✅ pass (partial run)" in out and "compared anyway (--allow-partial)" in out
