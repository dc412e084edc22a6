"""Bad input stops the run with an error naming the file and the sample, or is skipped and reported."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.cli import main
from tests.reliability.conftest import coco_path
from tests.reliability.test_resume_and_processes import folder, run_args


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [truncate, empty], ids=["truncated-jpeg", "zero-byte"])
def test_unreadable_image_stops_the_run_naming_file_and_sample(tiny_dir, data_root, tmp_path, capsys, damage):
    bad = coco_path(data_root, 5)
    damage(bad)
    code = main(run_args(tiny_dir("opt", "base"), data_root, tmp_path))
    err = capsys.readouterr().err
    assert code == 2
    assert str(bad) in err and "sample 50" in err  # question 50 is the first on image 5
    assert not (folder(tmp_path, tiny_dir("opt", "base"), "vqav2-val") / "metrics.json").exists()


@pytest.mark.parametrize("damage", [truncate, empty], ids=["truncated-jpeg", "zero-byte"])
def test_skip_bad_reports_count_and_ids_and_marks_partial(tiny_dir, data_root, tmp_path, damage):
    damage(coco_path(data_root, 5))
    assert main(run_args(tiny_dir("opt", "base"), data_root, tmp_path, "vqav2", "--skip-bad")) == 0
    record = json.loads((folder(tmp_path, tiny_dir("opt", "base"), "vqav2-val") / "metrics.json").read_text())
    assert record["partial"] is True
    assert record["skipped"]["count"] == 3 and sorted(record["skipped"]["ids"]) == [50, 51, 52]
    assert record["n"] == 33 and "skipped" in record["notes"]


def test_missing_image_is_reported_before_any_compute(tiny_dir, data_root, tmp_path, capsys):
    coco_path(data_root, 7).unlink()
    assert main(run_args(tiny_dir("opt", "base"), data_root, tmp_path)) == 2
    err = capsys.readouterr().err
    assert str(coco_path(data_root, 7)) in err
    assert not (tmp_path / tiny_dir("opt", "base").name).exists()  # nothing ran, nothing written


def test_annotation_with_a_missing_field_names_file_and_field(tiny_dir, data_root, tmp_path, capsys):
    file = data_root / "vqav2/v2_mscoco_val2014_annotations.json"
    data = json.loads(file.read_text())
    del data["annotations"][4]["answers"]
    file.write_text(json.dumps(data))
    assert main(run_args(tiny_dir("opt", "base"), data_root, tmp_path)) == 2
    err = capsys.readouterr().err
    assert str(file) in err and "answers" in err


def test_predictions_with_an_unknown_id_are_an_error(data_root, tmp_path, capsys):
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"question_id": 101, "answer": "yes"}, {"question_id": 999999, "answer": "no"}]))
    code = main(["score", "--task", "vqav2", "--split", "val", "--predictions", str(preds), "--data-root",
                 str(data_root), "--allow-partial"])
    assert code == 2
    assert "999999" in capsys.readouterr().err


def test_nan_scores_are_an_error(data_root, tmp_path, capsys):
    scores = tmp_path / "scores.npz"
    i2t = np.zeros((2, 4))
    i2t[1, 2] = np.nan
    np.savez(scores, i2t=i2t, t2i=np.zeros((4, 2)))
    assert main(["score", "--task", "flickr30k", "--predictions", str(scores), "--data-root", str(data_root)]) == 2
    err = capsys.readouterr().err
    assert "NaN" in err or "nan" in err
