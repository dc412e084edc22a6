"""Chance levels of the toy tasks, scored by the tasks' own scorers, to set beside the toy models' numbers.

- VQA / OK-VQA / GQA: a *blind* answerer, the language prior: each question gets the most frequent
  training answer among training questions that start with the same three words (no image is used).
- Captioning: each image gets a caption of a random training image.
- Retrieval: random similarity scores.
All are seeded, so the numbers are the same on every machine.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

import tasks
from tasks import sources
from tasks.formats import read_gqa_questions, read_karpathy, read_vqa_annotations, read_vqa_questions
from tasks.splits import RetrievalSplit
from toyworld.data.config import GQA_TRAIN_QUESTIONS, VQAV2_TRAIN_ANNOTATIONS, VQAV2_TRAIN_QUESTIONS


def _key(question: str) -> str:
    return " ".join(question.lower().split()[:3])


def answer_prior(root: Path) -> tuple[dict[str, str], str]:
    """Most frequent training answer per question opening, and overall."""
    by_key: dict[str, Counter] = defaultdict(Counter)
    questions = read_vqa_questions(root / VQAV2_TRAIN_QUESTIONS)
    answers = read_vqa_annotations(root / VQAV2_TRAIN_ANNOTATIONS)
    for q in questions:
        by_key[_key(q.question)][answers[q.question_id]["multiple_choice_answer"]] += 1
    for g in read_gqa_questions(root / GQA_TRAIN_QUESTIONS).values():
        by_key[_key(g.question)][g.answer] += 1
    overall = sum(by_key.values(), Counter()).most_common(1)[0][0]
    return {k: c.most_common(1)[0][0] for k, c in by_key.items()}, overall


def train_captions(root: Path) -> list[str]:
    images = read_karpathy(root / sources.COCO_KARPATHY, split="train", coco=True)
    return [s for image in images for s in image.sentences]


def chance_metrics(root: str | Path, seed: int = 0) -> dict[tuple[str, str], dict]:
    """{(task, split): metrics} of the chance answerers on each task's default split."""
    root = Path(root)
    prior, overall = answer_prior(root)
    captions = train_captions(root)
    out = {}
    for name in tasks.names():
        task = tasks.get(name)
        loaded = task.load(root, None)
        rng = random.Random(seed)
        if isinstance(loaded, RetrievalSplit):
            gen = np.random.default_rng(seed)
            i2t = gen.random((len(loaded.image_paths), len(loaded.texts)))
            predictions = (i2t, gen.random((len(loaded.texts), len(loaded.image_paths))))
        elif task.kind == "caption":
            predictions = {s.sample_id: rng.choice(captions) for s in loaded.samples}
        else:
            predictions = {s.sample_id: prior.get(_key(s.question or ""), overall) for s in loaded.samples}
        if loaded.has_answers:
            out[(name, loaded.split)] = task.score(predictions, loaded)["metrics"]
    return out
