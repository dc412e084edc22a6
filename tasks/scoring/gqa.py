"""GQA accuracy: exact match after the VQA normalisation of both prediction and answer.

The official GQA ``eval.py`` compares raw strings; LAVIS (whose numbers BLIP-2 reports) normalises
the prediction since 2023-05 and the ground truth since 2023-12. We normalise both with the full
prediction normalisation of the VQA script, so "Yes." and "the table" match "yes" and "table".
"""

from __future__ import annotations

from collections.abc import Mapping

from tasks.formats.common import check_same_ids
from tasks.scoring.vqa_normalize import normalize_answer


def gqa_accuracy(predictions: Mapping[str, str], answers: Mapping[str, str]) -> dict:
    """Return ``{"accuracy"}`` on 0-100 rounded to 2; ``predictions`` must cover exactly ``answers``."""
    return gqa_scores(predictions, answers)[0]


def gqa_scores(predictions: Mapping[str, str], answers: Mapping[str, str]) -> tuple[dict, dict[str, float]]:
    """:func:`gqa_accuracy`'s metrics plus each question's score (0 or 100), by question id."""
    if len(answers) == 0:
        raise ValueError("no GQA answers to score")
    check_same_ids(answers, predictions, missing="questions without a prediction",
                   unknown="predictions for unknown question ids")
    per_question: dict[str, float] = {}
    for qid, answer in answers.items():
        pred = predictions[qid]
        if not isinstance(pred, str):
            raise ValueError(f"prediction for GQA question {qid!r} is not a string: {pred!r}")
        per_question[qid] = 100.0 if normalize_answer(pred) == normalize_answer(answer) else 0.0
    correct = sum(value > 0 for value in per_question.values())
    return {"accuracy": round(100 * correct / len(answers), 2)}, per_question
