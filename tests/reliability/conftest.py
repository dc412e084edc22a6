"""A VQA split big enough to kill a run half-way, images with distinct content, and a retrieval split."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tasks.formats.vqa import write_vqa_annotations, write_vqa_questions
from tests.registry.fixture_data import build_data_root

N_IMAGES, PER_IMAGE = 12, 3
QUESTIONS = ["what color is the circle?", "how many shapes are there?", "is there a star?"]


def coco_path(root, image_id):
    return root / "coco/images/val2014" / f"COCO_val2014_{image_id:012d}.jpg"


@pytest.fixture
def data_root(tmp_path):
    """build_data_root's seven tasks, plus a 36-question VQAv2 val on 12 images."""
    root = build_data_root(tmp_path / "data")
    rng = np.random.default_rng(0)
    questions, annotations = [], []
    for image_id in range(1, N_IMAGES + 1):
        path = coco_path(root, image_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
        for k, question in enumerate(QUESTIONS):
            qid = image_id * 10 + k
            questions.append({"question_id": qid, "image_id": image_id, "question": question})
            annotations.append({"question_id": qid, "image_id": image_id, "answer_type": "other",
                                "answers": ["red"] * 6 + ["blue"] * 4})
    for name in ("100.jpg", "101.jpg"):  # distinct content: no near-tied retrieval scores
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(root / "flickr30k/images" / name)
    write_vqa_questions(root / "vqav2/v2_OpenEnded_mscoco_val2014_questions.json", questions)
    write_vqa_annotations(root / "vqav2/v2_mscoco_val2014_annotations.json", annotations)
    return root
