"""Scoring in-process: coverage checks, result shape, partial scoring, submissions, retrieval matrices."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tasks
from tasks import PredictionError, TaskError
from tasks.formats import read_vqa_predictions

PERFECT_VQA = {101: "yes", 102: "2", 103: "red"}


def test_vqa_result_shape_and_values(data_root):
    task = tasks.get("vqav2")
    loaded = task.load(data_root)
    result = task.score({101: "yes", 102: "3", 103: "blue"}, loaded)
    ci95, ci = result.pop("ci95"), result.pop("ci")
    # every number has its interval, in the metrics' own nesting; the three questions sit on three images
    assert set(ci95) == {"accuracy", "accuracy_by_answer_type", "accuracy_by_question_type"}
    assert set(ci95["accuracy_by_answer_type"]) == {"yes/no", "number", "other"}
    assert ci["resamples"] == 1000 and ci["seed"] == 0 and ci["n_units"] == {"image": 3}
    low, high = ci95["accuracy"]
    assert 0 <= low < 63.33 < high <= 100
    assert result == {
        "task": "vqav2",
        "split": "val",
        "scorer": "lavis",
        "n": 3,
        # "3" matches 3 of 10 answers: 7 of the 10 leave-one-out subsets keep 3 matches (1.0), 3 keep 2
        # (2/3), so 0.9; overall (100 + 90 + 0) / 3.
        "metrics": {
            "accuracy": 63.33,
            "accuracy_by_answer_type": {"yes/no": 100.0, "number": 90.0, "other": 0.0},
            "accuracy_by_question_type": {"none of the above": 63.33},  # the fixture's files give no types
        },
        # every question of the files is scored, but 3 questions are not the paper's VQAv2 val: partial
        "partial": True,
        "n_expected": 3,
        "coverage": {"evaluated": 3, "split_size": 3, "official_size": 214_354, "against": "paper",
                     "unit": "questions", "reason": result["notes"]["partial"]},
        "notes": {"partial": result["notes"]["partial"]},
        "scorer_options": {"lemmatize": False},
    }
    assert "the data files hold 3 questions but the paper's vqav2 val has 214354" in result["notes"]["partial"]
    json.dumps(result)


def test_vqa_scorer_variant_is_recorded_and_matters(data_root):
    task = tasks.get("vqav2")
    loaded = task.load(data_root)
    lavis = task.score({101: "Yes", 102: "2", 103: "red"}, loaded)
    official = task.score({101: "Yes", 102: "2", 103: "red"}, loaded, vqa_scorer="official")
    assert (lavis["scorer"], official["scorer"]) == ("lavis", "official")
    assert lavis["metrics"]["accuracy_by_answer_type"]["yes/no"] == 100.0
    assert official["metrics"]["accuracy_by_answer_type"]["yes/no"] == 0.0
    with pytest.raises(TaskError, match="unknown VQA scorer 'vqa2'; choose one of lavis, official"):
        task.score(PERFECT_VQA, loaded, vqa_scorer="vqa2")


def test_official_records_are_accepted_in_memory(data_root):
    task = tasks.get("okvqa")
    loaded = task.load(data_root)
    records = [{"question_id": 301, "answer": "poodle"}, {"question_id": 302, "answer": "fish"}]
    assert task.score(records, loaded)["metrics"]["accuracy"] == 100.0


def test_unknown_id_is_named(data_root):
    task = tasks.get("vqav2")
    with pytest.raises(PredictionError, match=r"1 prediction id\(s\) are not in vqav2 val: 999"):
        task.score({**PERFECT_VQA, 999: "no"}, task.load(data_root))


def test_missing_id_is_an_error_unless_partial(data_root):
    task = tasks.get("vqav2")
    loaded = task.load(data_root)
    with pytest.raises(
        PredictionError, match=r"missing for 1 of 3 ids of vqav2 val: 103 \(pass --allow-partial"
    ):
        task.score({101: "yes", 102: "2"}, loaded)
    result = task.score({101: "yes", 102: "2"}, loaded, allow_partial=True)
    assert (result["n"], result["partial"], result["n_expected"]) == (2, True, 3)
    assert result["metrics"]["accuracy"] == 100.0
    assert "scored 2 of 3" in result["notes"]["partial"]


def test_empty_answers_and_wrong_types_are_named(data_root):
    task = tasks.get("vqav2")
    loaded = task.load(data_root)
    with pytest.raises(PredictionError, match=r"empty prediction\(s\) for id\(s\) 102, 103"):
        task.score({101: "yes", 102: "", 103: "  "}, loaded)
    with pytest.raises(PredictionError, match=r"prediction\(s\) for id\(s\) 103 are not strings"):
        task.score({101: "yes", 102: "2", 103: 5}, loaded)
    with pytest.raises(PredictionError, match=r"prediction id '101' must be int"):
        task.score({"101": "yes"}, loaded)
    with pytest.raises(PredictionError, match=r"duplicate prediction id\(s\) 101"):
        task.score([{"question_id": 101, "answer": "a"}, {"question_id": 101, "answer": "b"}], loaded)


def test_allow_empty_scores_a_models_empty_answers_as_wrong_and_says_so(data_root):
    task = tasks.get("vqav2")
    loaded = task.load(data_root)
    result = task.score({101: "yes", 102: "", 103: "red"}, loaded, allow_empty=True)
    assert result["metrics"]["accuracy"] == round(200 / 3, 2)
    assert result["metrics"]["accuracy_by_answer_type"]["number"] == 0.0
    assert result["empty_predictions"] == 1 and "102" in result["notes"]["empty_predictions"]
    assert "empty_predictions" not in task.score(PERFECT_VQA, loaded, allow_empty=True)


def test_limited_split_rejects_ids_beyond_the_limit(data_root):
    task = tasks.get("vqav2")
    loaded = task.load(data_root, limit=2)
    assert task.score({101: "yes", 102: "2"}, loaded)["limit"] == 2
    with pytest.raises(PredictionError, match=r"not in vqav2 val \(first 2 samples\): 103"):
        task.score(PERFECT_VQA, loaded)


def test_gqa_accepts_both_prediction_forms(data_root):
    task = tasks.get("gqa")
    loaded = task.load(data_root)
    result = task.score(
        [{"questionId": "g1", "prediction": "Left"}, {"question_id": "g2", "answer": "yes"}], loaded
    )
    assert result["metrics"] == {"accuracy": 50.0}
    assert result["scorer"] == "gqa-exact-match-after-vqa-normalisation"
    with pytest.raises(TaskError, match="lemmatizing answers applies to the VQA-accuracy tasks"):
        task.score({"g1": "left", "g2": "no"}, loaded, lemmatize=True)


def test_lemmatize_reports_a_missing_spacy_model_clearly(data_root, monkeypatch):
    import tasks.scoring.vqa as vqa_scoring

    def no_spacy(answers):
        raise RuntimeError("spaCy model en_core_web_sm is not installed")

    monkeypatch.setattr(vqa_scoring, "lemmatize_answers", no_spacy)
    task = tasks.get("okvqa")
    with pytest.raises(
        TaskError, match="cannot lemmatize answers: spaCy model en_core_web_sm is not installed"
    ):
        task.score({301: "poodles", 302: "fish"}, task.load(data_root), lemmatize=True)


def test_lemmatize_option_is_applied_and_recorded(data_root, monkeypatch):
    import tasks.scoring.vqa as vqa_scoring

    monkeypatch.setattr(
        vqa_scoring, "lemmatize_answers", lambda answers: {k: v.rstrip("s") for k, v in answers.items()}
    )
    task = tasks.get("okvqa")
    result = task.score({301: "poodles", 302: "fish"}, task.load(data_root), lemmatize=True)
    assert result["metrics"]["accuracy"] == 100.0
    assert result["scorer_options"] == {"lemmatize": True}


def test_test_dev_cannot_be_scored_but_writes_a_checked_submission(data_root, tmp_path):
    task = tasks.get("vqav2")
    loaded = task.load(data_root, "test-dev")
    with pytest.raises(TaskError, match="test-dev has no public answers, so it cannot be scored locally"):
        task.score({201: "a", 202: "yes"}, loaded)
    path = task.write_submission({202: "yes", 201: "a dog"}, loaded, tmp_path / "sub" / "submission.json")
    assert json.loads(path.read_text()) == [
        {"question_id": 201, "answer": "a dog"},
        {"question_id": 202, "answer": "yes"},
    ]
    assert read_vqa_predictions(path) == {201: "a dog", 202: "yes"}
    assert task.validate_submission(path, loaded) == 2
    with pytest.raises(PredictionError, match=r"missing for 1 of 2 ids of vqav2 test-dev: 202"):
        task.write_submission({201: "a"}, loaded, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()
    with pytest.raises(TaskError, match="must cover every question"):
        task.write_submission({201: "a"}, task.load(data_root, "test-dev", limit=1), tmp_path / "x.json")


def perfect_scores(loaded):
    i2t = np.zeros((len(loaded.image_paths), len(loaded.texts)))
    for image, texts in enumerate(loaded.img2txt):
        i2t[image, list(texts)] = 1.0
    return i2t, i2t.T.copy()


def test_retrieval_scores_and_shape_checks(data_root):
    task = tasks.get("coco_retrieval")
    loaded = task.load(data_root)
    i2t, t2i = perfect_scores(loaded)
    result = task.score((i2t, t2i), loaded)
    assert (result["task"], result["split"], result["scorer"], result["n"], result["n_texts"]) == (
        "coco_retrieval",
        "test",
        "recall-at-k",
        2,
        4,
    )
    assert set(result["metrics"]) == set(tasks.get("coco_retrieval").metrics)
    assert result["metrics"]["TR@1"] == 100.0 and result["metrics"]["IR@1"] == 100.0
    # Swap the images' rows: every top-1 is wrong.
    swapped = task.score({"i2t": i2t[::-1], "t2i": t2i[:, ::-1]}, loaded)
    assert swapped["metrics"]["TR@1"] == 0.0 and swapped["metrics"]["IR@1"] == 0.0
    with pytest.raises(
        PredictionError, match=r"'i2t' has shape \(4, 2\), but coco_retrieval test needs \(2, 4\)"
    ):
        task.score((t2i, t2i), loaded)
    t2i_nan = t2i.copy()
    t2i_nan[3, 0] = np.nan
    with pytest.raises(PredictionError, match=r"'t2i' holds 1 NaN score\(s\), first at \[3, 0\]"):
        task.score((i2t, t2i_nan), loaded)


def test_result_names_the_lavis_fallback_file(data_root):
    from tasks.formats import write_lavis_captions

    (data_root / "flickr30k/dataset_flickr30k.json").unlink()
    write_lavis_captions(
        data_root / "flickr30k/flickr30k_test.json",
        [{"image": "flickr30k-images/100.jpg", "caption": ["a", "b"]}],
    )
    task = tasks.get("flickr30k")
    loaded = task.load(data_root)
    result = task.score(perfect_scores(loaded), loaded)
    assert "flickr30k_test.json" in result["notes"]["data.0"]
