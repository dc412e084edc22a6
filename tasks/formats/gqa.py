"""GQA balanced question files (``testdev_balanced_questions.json``) and the GQA results file.

Official layout (cs.stanford.edu/people/dorarad/gqa): a JSON object keyed by question id (a string),
each value ``{question, imageId, answer, fullAnswer, isBalanced, types, semantic, ...}``. Results are
``[{"questionId", "prediction"}]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.formats.common import JsonFile, write_json

QUESTIONS_LAYOUT = (
    'the GQA questions format {"<questionId>": {"question": str, "imageId": str, "answer": str, ...}, ...} '
    "as in testdev_balanced_questions.json from https://cs.stanford.edu/people/dorarad/gqa/download.html"
)


@dataclass(frozen=True)
class GqaQuestion:
    question_id: str
    image_id: str
    question: str
    answer: str | None


def read_gqa_questions(
    path: str | os.PathLike[str], *, require_answers: bool = True, layout: str | None = None
) -> dict[str, GqaQuestion]:
    """Read and validate a GQA questions file; returns ``{questionId: GqaQuestion}`` in file order."""
    file = JsonFile(path, layout or QUESTIONS_LAYOUT)
    data = file.expect(file.load(), dict, "top level")
    if not data:
        file.fail("top level", "holds no questions")
    questions: dict[str, GqaQuestion] = {}
    for question_id, item in data.items():
        where = f"[{question_id!r}]"
        file.expect(item, dict, where)
        answer = file.field(item, "answer", str, where) if require_answers or "answer" in item else None
        questions[question_id] = GqaQuestion(
            question_id=question_id,
            image_id=file.field(item, "imageId", str, where),
            question=file.non_empty_text(item, "question", where),
            answer=answer,
        )
    return questions


def write_gqa_questions(path: str | os.PathLike[str], questions: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write a GQA questions file; each value needs ``question``, ``imageId`` and ``answer``.

    The other official fields get neutral defaults (``fullAnswer`` = answer, ``isBalanced`` = true, ...)
    unless given.
    """
    records: dict[str, dict[str, Any]] = {}
    for question_id, item in questions.items():
        record = {
            "semantic": [],
            "entailed": [],
            "equivalent": [str(question_id)],
            "question": item["question"],
            "imageId": str(item["imageId"]),
            "isBalanced": True,
            "groups": {"global": None, "local": None},
            "answer": item["answer"],
            "semanticStr": "",
            "annotations": {"answer": {}, "question": {}, "fullAnswer": {}},
            "types": {"detailed": "", "semantic": "", "structural": ""},
            "fullAnswer": item.get("fullAnswer", item["answer"]),
        }
        record.update(item)
        record["imageId"] = str(item["imageId"])
        records[str(question_id)] = record
    return write_json(path, records)


def write_gqa_results(path: str | os.PathLike[str], predictions: Mapping[str, str]) -> Path:
    """Write the official GQA results file ``[{"questionId", "prediction"}]``."""
    return write_json(path, [{"questionId": str(qid), "prediction": p} for qid, p in predictions.items()])
