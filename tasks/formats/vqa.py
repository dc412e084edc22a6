"""VQAv2 / OK-VQA question and annotation files, and the ``[{question_id, answer}]`` results file.

Official layout (visualqa.org; OK-VQA uses the same one):
questions   ``{info, task_type, data_type, data_subtype, license,
questions: [{image_id, question, question_id}]}``
annotations ``{info, license, data_subtype, annotations: [{question_id, image_id, question_type, answer_type,
multiple_choice_answer, answers: [{answer, answer_confidence, answer_id} x10]}]}``
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.formats.common import JsonFile, format_ids, write_json

# The official annotations' catch-all question type, for an annotation written without one.
NO_QUESTION_TYPE = "none of the above"

QUESTIONS_LAYOUT = (
    'the VQA questions format {"questions": [{"image_id": int, "question": str, "question_id": int}, ...], '
    "...} as published on visualqa.org / okvqa.allenai.org"
)
ANNOTATIONS_LAYOUT = (
    'the VQA annotations format {"annotations": [{"question_id": int, "image_id": int, "answer_type": str, '
    '"answers": [{"answer": str, ...} x10], ...}, ...], ...} as published on visualqa.org / okvqa.allenai.org'
)


@dataclass(frozen=True)
class VqaQuestion:
    question_id: int
    image_id: int
    question: str


def read_vqa_questions(path: str | os.PathLike[str], layout: str | None = None) -> list[VqaQuestion]:
    """Read and validate a VQA questions file; duplicate question ids are an error."""
    file = JsonFile(path, layout or QUESTIONS_LAYOUT)
    data = file.expect(file.load(), dict, "top level")
    items = file.field(data, "questions", list, "")
    questions: list[VqaQuestion] = []
    for index, item in enumerate(items):
        where = f"questions[{index}]"
        file.expect(item, dict, where)
        questions.append(
            VqaQuestion(
                question_id=file.field(item, "question_id", int, where),
                image_id=file.field(item, "image_id", int, where),
                question=file.non_empty_text(item, "question", where),
            )
        )
    _reject_duplicates(file, (q.question_id for q in questions), "questions")
    return questions


def read_vqa_annotations(
    path: str | os.PathLike[str], layout: str | None = None
) -> dict[int, dict[str, Any]]:
    """Read and validate a VQA annotations file; returns ``{question_id: annotation}`` in file order."""
    file = JsonFile(path, layout or ANNOTATIONS_LAYOUT)
    data = file.expect(file.load(), dict, "top level")
    items = file.field(data, "annotations", list, "")
    annotations: dict[int, dict[str, Any]] = {}
    duplicates: list[int] = []
    for index, item in enumerate(items):
        where = f"annotations[{index}]"
        file.expect(item, dict, where)
        question_id = file.field(item, "question_id", int, where)
        file.field(item, "image_id", int, where)
        file.field(item, "answer_type", str, where)
        answers = file.field(item, "answers", list, where)
        if not answers:
            file.fail(f"{where}.answers", f"is empty (question_id {question_id}); VQA needs 10 answers")
        for answer_index, answer in enumerate(answers):
            answer_where = f"{where}.answers[{answer_index}]"
            file.expect(answer, dict, answer_where)
            file.field(answer, "answer", str, answer_where)
        if question_id in annotations:
            duplicates.append(question_id)
        annotations[question_id] = item
    if duplicates:
        file.fail("annotations", f"duplicate question_id(s) {format_ids(duplicates)}")
    return annotations


def _reject_duplicates(file: JsonFile, ids: Iterable[Any], where: str) -> None:
    counts = Counter(ids)
    duplicates = [i for i, n in counts.items() if n > 1]
    if duplicates:
        file.fail(where, f"duplicate question_id(s) {format_ids(duplicates)}")


def write_vqa_questions(
    path: str | os.PathLike[str],
    questions: Iterable[Mapping[str, Any] | VqaQuestion],
    *,
    data_subtype: str = "val2014",
) -> Path:
    """Write a questions file in the official layout (``data_subtype`` e.g. val2014, test-dev2015)."""
    records = [
        {"image_id": q.image_id, "question": q.question, "question_id": q.question_id}
        if isinstance(q, VqaQuestion)
        else {"image_id": q["image_id"], "question": q["question"], "question_id": q["question_id"]}
        for q in questions
    ]
    return write_json(
        path,
        {
            "info": {"description": "written by blip2-bench in the official VQA layout"},
            "task_type": "Open-Ended",
            "data_type": "mscoco",
            "license": {"url": "http://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"},
            "data_subtype": data_subtype,
            "questions": records,
        },
    )


def write_vqa_annotations(
    path: str | os.PathLike[str],
    annotations: Iterable[Mapping[str, Any]],
    *,
    data_subtype: str = "val2014",
) -> Path:
    """Write an annotations file in the official layout.

    Each annotation needs ``question_id``, ``image_id``, ``answer_type`` and ``answers``; answers may be
    plain strings (expanded to ``{answer, answer_confidence, answer_id}``). ``multiple_choice_answer``
    defaults to the most common answer and ``question_type`` to "none of the above".
    """
    records = []
    for ann in annotations:
        answers = [
            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1} if isinstance(a, str) else dict(a)
            for i, a in enumerate(ann["answers"])
        ]
        most_common = Counter(a["answer"] for a in answers).most_common(1)[0][0] if answers else ""
        records.append(
            {
                "question_type": ann.get("question_type", NO_QUESTION_TYPE),
                "multiple_choice_answer": ann.get("multiple_choice_answer", most_common),
                "answers": answers,
                "image_id": ann["image_id"],
                "answer_type": ann["answer_type"],
                "question_id": ann["question_id"],
            }
        )
    return write_json(
        path,
        {
            "info": {"description": "written by blip2-bench in the official VQA layout"},
            "license": {"url": "http://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"},
            "data_subtype": data_subtype,
            "annotations": records,
        },
    )


def write_vqa_results(
    path: str | os.PathLike[str], answers: Mapping[int, str] | Sequence[tuple[int, str]]
) -> Path:
    """Write the official VQA results / EvalAI submission file ``[{"question_id", "answer"}]``."""
    pairs = answers.items() if isinstance(answers, Mapping) else answers
    return write_json(path, [{"question_id": qid, "answer": answer} for qid, answer in pairs])
