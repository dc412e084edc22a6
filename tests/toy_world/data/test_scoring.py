"""Oracle predictions scored by the real task scorers give exactly the values the rules predict."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

import tasks


def _expected_lavis(prediction: str, answers: list[str]) -> float:
    """The lavis VQA rule, written out for the toy answers (which only need punctuation handling).

    A unanimous ground truth is compared raw; when annotators disagree each answer only loses its
    '.' (the toy answers have no other punctuation). Each leave-one-out subset scores min(1, m/3).
    """
    gts = answers if len(set(answers)) == 1 else [a.replace(".", "") for a in answers]
    matches = [g == prediction for g in gts]
    return sum(min(1.0, (sum(matches) - m) / 3) for m in matches) / len(gts)


@pytest.mark.parametrize(
    ("name", "annotations"),
    [("vqav2", "vqav2/v2_mscoco_val2014_annotations.json"), ("okvqa", "okvqa/mscoco_val2014_annotations.json")],
)
def test_majority_answer_oracle_scores_the_expected_accuracy(toy_root, name, annotations):
    task = tasks.get(name)
    loaded = task.load(toy_root, None)
    records = json.loads((toy_root / annotations).read_text())["annotations"]
    oracle = {r["question_id"]: Counter(a["answer"] for a in r["answers"]).most_common(1)[0][0] for r in records}
    assert oracle == {r["question_id"]: r["multiple_choice_answer"] for r in records}

    result = task.score(oracle, loaded)

    values = {
        r["question_id"]: _expected_lavis(oracle[r["question_id"]], [a["answer"] for a in r["answers"]])
        for r in records
    }
    assert result["scorer"] == "lavis" and result["n"] == len(records)
    assert result["metrics"]["accuracy"] == round(100 * sum(values.values()) / len(values), 2)
    by_type = {}
    for r in records:
        by_type.setdefault(r["answer_type"], []).append(values[r["question_id"]])
    assert result["metrics"]["accuracy_by_answer_type"] == {
        t: round(100 * sum(v) / len(v), 2) for t, v in by_type.items()
    }
    # Disagreement makes even the majority answer lose points: the data exercises the scorer.
    assert 80 < result["metrics"]["accuracy"] < 100


def test_vqa_scorer_variants_disagree_on_toy_data(toy_root):
    """Synonyms like 'two' and 'a circle' count under 'official' normalisation but not under 'lavis'."""
    task = tasks.get("vqav2")
    loaded = task.load(toy_root, None)
    oracle = {sid: loaded.references[sid]["multiple_choice_answer"] for sid in loaded.ids}
    lavis = task.score(oracle, loaded, vqa_scorer="lavis")["metrics"]["accuracy"]
    official = task.score(oracle, loaded, vqa_scorer="official")["metrics"]["accuracy"]
    assert official > lavis


def test_gqa_oracle_is_exact(toy_root):
    task = tasks.get("gqa")
    loaded = task.load(toy_root, None)
    answers = json.loads((toy_root / "gqa/testdev_balanced_questions.json").read_text())
    assert task.score({qid: q["answer"] for qid, q in answers.items()}, loaded)["metrics"]["accuracy"] == 100.0
    wrong = {qid: "purple" if q["answer"] != "purple" else "red" for qid, q in answers.items()}
    assert task.score(wrong, loaded)["metrics"]["accuracy"] == 0.0


@pytest.mark.parametrize("name", ["flickr30k", "coco_retrieval"])
def test_retrieval_oracle_is_perfect(toy_root, name):
    task = tasks.get(name)
    loaded = task.load(toy_root, None)
    i2t = np.zeros((len(loaded.image_paths), len(loaded.texts)))
    for image, texts in enumerate(loaded.img2txt):
        i2t[image, list(texts)] = 1.0
    metrics = task.score((i2t, i2t.T.copy()), loaded)["metrics"]
    assert metrics["TR@1"] == metrics["IR@1"] == 100.0
