"""Readers accept what the writers write, and reject each kind of malformed file with a precise message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tasks import DataError, PredictionError
from tasks.formats import (
    read_caption_predictions,
    read_gqa_predictions,
    read_gqa_questions,
    read_karpathy,
    read_lavis_captions,
    read_nocaps,
    read_retrieval_scores,
    read_vqa_annotations,
    read_vqa_predictions,
    read_vqa_questions,
    write_gqa_questions,
    write_gqa_results,
    write_karpathy,
    write_lavis_captions,
    write_nocaps,
    write_retrieval_scores,
    write_vqa_annotations,
    write_vqa_questions,
    write_vqa_results,
)
from tests.registry.fixture_data import COCO_KARPATHY, GQA, NOCAPS_CAPTIONS, NOCAPS_IMAGES, VQA_VAL


def dump(path, obj):
    path.write_text(json.dumps(obj))
    return path


def test_vqa_round_trip_in_the_official_layout(tmp_path):
    q_path = write_vqa_questions(tmp_path / "q.json", VQA_VAL, data_subtype="val2014")
    a_path = write_vqa_annotations(tmp_path / "a.json", VQA_VAL)
    raw_q, raw_a = json.loads(q_path.read_text()), json.loads(a_path.read_text())
    assert set(raw_q) == {"info", "task_type", "data_type", "data_subtype", "license", "questions"}
    assert set(raw_q["questions"][0]) == {"image_id", "question", "question_id"}
    first = raw_a["annotations"][0]
    assert set(first) == {
        "question_type",
        "multiple_choice_answer",
        "answers",
        "image_id",
        "answer_type",
        "question_id",
    }
    assert first["answers"][0] == {"answer": "yes", "answer_confidence": "yes", "answer_id": 1}
    assert len(first["answers"]) == 10
    assert raw_a["annotations"][1]["multiple_choice_answer"] == "2"
    questions = read_vqa_questions(q_path)
    assert [(q.question_id, q.image_id) for q in questions] == [(101, 1), (102, 2), (103, 3)]
    assert list(read_vqa_annotations(a_path)) == [101, 102, 103]


def test_missing_file_names_the_file_and_the_expected_layout(tmp_path):
    with pytest.raises(DataError) as err:
        read_vqa_questions(tmp_path / "nope.json")
    assert f"missing file {tmp_path / 'nope.json'}" in str(err.value)
    assert '"questions": [{"image_id": int' in str(err.value)


def test_invalid_json_names_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"questions": [\n  {"image_id": 1,,}]}')
    with pytest.raises(DataError, match=r"bad.json: not valid JSON \(.* at line 2, column"):
        read_vqa_questions(path)


@pytest.mark.parametrize(
    ("questions", "message"),
    [
        ({"question": []}, "field 'questions' is missing"),
        ({"questions": {}}, "questions: must be a list, got an object"),
        (
            {"questions": [{"image_id": 1, "question": "q?"}]},
            r"questions\[0\]: field 'question_id' is missing",
        ),
        (
            {"questions": [{"image_id": "1", "question": "q?", "question_id": 5}]},
            r"questions\[0\].image_id: must be an integer, got a string \('1'\)",
        ),
        (
            {"questions": [{"image_id": True, "question": "q?", "question_id": 5}]},
            r"questions\[0\].image_id: must be an integer, got a boolean",
        ),
        (
            {"questions": [{"image_id": 1, "question": " ", "question_id": 5}]},
            r"questions\[0\].question: is empty",
        ),
        (
            {"questions": [{"image_id": 1, "question": "a?", "question_id": 5}] * 2},
            r"duplicate question_id\(s\) 5",
        ),
    ],
)
def test_vqa_questions_malformed(tmp_path, questions, message):
    path = dump(tmp_path / "questions.json", questions)
    with pytest.raises(DataError, match=message) as err:
        read_vqa_questions(path)
    assert str(path) in str(err.value)


def test_vqa_annotations_malformed(tmp_path):
    good = {"question_id": 1, "image_id": 1, "answer_type": "other", "answers": [{"answer": "x"}]}
    cases = [
        ({**good, "answers": []}, r"annotations\[0\].answers: is empty \(question_id 1\)"),
        ({**good, "answers": [{"answer": 3}]}, r"annotations\[0\].answers\[0\].answer: must be a string"),
        ({k: v for k, v in good.items() if k != "answer_type"}, r"field 'answer_type' is missing"),
    ]
    for annotation, message in cases:
        path = dump(tmp_path / "annotations.json", {"annotations": [annotation]})
        with pytest.raises(DataError, match=message):
            read_vqa_annotations(path)
    path = dump(tmp_path / "annotations.json", {"annotations": [good, good]})
    with pytest.raises(DataError, match=r"duplicate question_id\(s\) 1"):
        read_vqa_annotations(path)


def test_gqa_round_trip_and_errors(tmp_path):
    path = write_gqa_questions(tmp_path / "testdev_balanced_questions.json", GQA)
    raw = json.loads(path.read_text())
    assert (
        raw["g1"]["imageId"] == "n1" and raw["g1"]["fullAnswer"] == "left" and raw["g1"]["isBalanced"] is True
    )
    questions = read_gqa_questions(path)
    assert [(q.question_id, q.image_id, q.answer) for q in questions.values()] == [
        ("g1", "n1", "left"),
        ("g2", "n2", "no"),
    ]
    dump(path, {"g1": {"question": "q?", "imageId": 7, "answer": "a"}})
    with pytest.raises(DataError, match=r"\['g1'\].imageId: must be a string, got an integer"):
        read_gqa_questions(path)
    dump(path, {"g1": {"question": "q?", "imageId": "7"}})
    with pytest.raises(DataError, match=r"\['g1'\]: field 'answer' is missing"):
        read_gqa_questions(path)


def test_nocaps_round_trip_and_errors(tmp_path):
    path = write_nocaps(tmp_path / "nocaps.json", NOCAPS_IMAGES, NOCAPS_CAPTIONS)
    raw = json.loads(path.read_text())
    assert set(raw["images"][0]) == {
        "id",
        "file_name",
        "coco_url",
        "open_images_id",
        "domain",
        "height",
        "width",
    }
    assert set(raw["annotations"][0]) == {"image_id", "id", "caption"}
    images, captions = read_nocaps(path)
    assert [i.domain for i in images][::2] == ["in-domain", "near-domain", "out-domain"]
    assert captions[5] == NOCAPS_CAPTIONS[5]
    raw["images"][1]["domain"] = "far-domain"
    dump(path, raw)
    with pytest.raises(DataError, match=r"images\[1\].domain: is 'far-domain', not one of in-domain"):
        read_nocaps(path)
    write_nocaps(path, NOCAPS_IMAGES, {0: ["a"], 1: ["b"]})
    with pytest.raises(DataError, match=r"no caption for image id\(s\) 2, 3, 4, 5"):
        read_nocaps(path)


def test_karpathy_round_trip_and_errors(tmp_path):
    path = write_karpathy(tmp_path / "dataset_coco.json", COCO_KARPATHY)
    raw = json.loads(path.read_text())
    assert raw["dataset"] == "coco"
    first = raw["images"][0]
    assert set(first) == {"filepath", "sentids", "filename", "imgid", "split", "sentences", "cocoid"}
    assert first["sentences"][0] == {
        "tokens": ["a", "dog", "sitting", "on", "a", "couch"],
        "raw": "A dog sitting on a couch.",
        "imgid": 0,
        "sentid": 0,
    }
    test_images = read_karpathy(path, split="test", coco=True)
    assert [i.cocoid for i in test_images] == [1, 2]
    with pytest.raises(DataError, match="no image has split 'restval'"):
        read_karpathy(path, split="restval")
    del raw["images"][0]["cocoid"]
    dump(path, raw)
    with pytest.raises(DataError, match=r"images\[0\]: field 'cocoid' is missing"):
        read_karpathy(path, split="test", coco=True)


def test_lavis_round_trip_and_errors(tmp_path):
    path = write_lavis_captions(
        tmp_path / "coco_karpathy_test.json",
        [{"image": "val2014/COCO_val2014_000000000042.jpg", "caption": ["a", "b"]}],
    )
    entries = read_lavis_captions(path)
    assert entries[0].coco_id == 42 and entries[0].captions == ("a", "b")
    dump(path, [{"image": "x.jpg", "caption": ["ok", 3]}])
    with pytest.raises(DataError, match=r"\[0\].caption\[1\]: must be a string"):
        read_lavis_captions(path)


def test_prediction_files_round_trip(tmp_path):
    assert read_vqa_predictions(write_vqa_results(tmp_path / "v.json", {1: "yes", 2: "two"})) == {
        1: "yes",
        2: "two",
    }
    assert read_gqa_predictions(write_gqa_results(tmp_path / "g.json", {"g1": "left"})) == {"g1": "left"}
    path = dump(tmp_path / "g2.json", [{"question_id": 5, "answer": "no"}])
    assert read_gqa_predictions(path) == {"5": "no"}


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"question_id": 1}, "top level: must be a list, got an object"),
        ([{"question_id": 1}], r"entry 0 \(question_id=1\): field 'answer' is missing"),
        (
            [{"qid": 1, "answer": "x"}],
            r"entry 0: has no id field 'question_id' \(fields present: qid, answer\)",
        ),
        ([{"question_id": "1", "answer": "x"}], r"entry 0.question_id: must be an integer"),
        (
            [{"question_id": 1, "answer": None}],
            r"entry 0 \(question_id=1\).answer: must be a string, got null",
        ),
        (
            [{"question_id": 7, "answer": "a"}, {"question_id": 7, "answer": "b"}],
            r"duplicate prediction id\(s\) 7",
        ),
    ],
)
def test_malformed_vqa_predictions(tmp_path, records, message):
    path = dump(tmp_path / "preds.json", records)
    with pytest.raises(PredictionError, match=message) as err:
        read_vqa_predictions(path)
    assert str(path) in str(err.value)


def test_caption_predictions_need_image_id_and_caption(tmp_path):
    path = dump(tmp_path / "caps.json", [{"image_id": 1, "text": "a dog"}])
    with pytest.raises(PredictionError, match=r"entry 0 \(image_id=1\): field 'caption' is missing"):
        read_caption_predictions(path)


def test_retrieval_scores_round_trip_and_errors(tmp_path):
    i2t = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = write_retrieval_scores(tmp_path / "scores.npz", i2t, i2t.T)
    loaded_i2t, loaded_t2i = read_retrieval_scores(path)
    assert np.array_equal(loaded_i2t, i2t) and np.array_equal(loaded_t2i, i2t.T)

    bad = i2t.copy()
    bad[1, 2] = np.nan
    write_retrieval_scores(path, bad, i2t.T)
    with pytest.raises(
        PredictionError, match=r"array 'i2t' holds 1 NaN score\(s\), first at \[1, 2\]"
    ) as err:
        read_retrieval_scores(path)
    assert str(path) in str(err.value)

    np.savez(tmp_path / "only.npz", i2t=i2t)
    with pytest.raises(PredictionError, match=r"array 't2i' is missing \(arrays present: i2t\)"):
        read_retrieval_scores(tmp_path / "only.npz")
    np.savez(tmp_path / "flat.npz", i2t=np.zeros(3), t2i=i2t.T)
    with pytest.raises(PredictionError, match=r"array 'i2t' must be 2-D, got shape \(3,\)"):
        read_retrieval_scores(tmp_path / "flat.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(PredictionError, match="not a readable .npz"):
        read_retrieval_scores(tmp_path / "junk.npz")
    with pytest.raises(PredictionError, match="missing file"):
        read_retrieval_scores(tmp_path / "absent.npz")
