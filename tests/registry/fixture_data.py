"""A tiny data root in every official format, written with the format writers.

Contents (ids chosen so every test can state its expectations by hand):

* COCO images val2014 ids 1, 2, 3; test2015 ids 11, 12 (train id 4 has no image: not needed).
* vqav2 val: questions 101 (image 1, yes/no), 102 (image 2, number), 103 (image 3, other);
  test-dev: 201 (image 11), 202 (image 12).
* okvqa test: 301 (image 1), 302 (image 2).
* gqa test-dev: "g1" (image n1, answer "left"), "g2" (image n2, answer "no").
* nocaps val: images 0, 1 (in-domain), 2, 3 (near-domain), 4, 5 (out-domain).
* dataset_coco.json: test cocoids 1, 2; val cocoid 3; train cocoid 4.
* dataset_flickr30k.json: test 100.jpg, 101.jpg; train 102.jpg.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tasks.formats import (
    write_gqa_questions,
    write_karpathy,
    write_nocaps,
    write_vqa_annotations,
    write_vqa_questions,
)

VQA_VAL = [
    {
        "question_id": 101,
        "image_id": 1,
        "question": "Is there a dog?",
        "answer_type": "yes/no",
        "answers": ["yes"] * 10,
    },
    {
        "question_id": 102,
        "image_id": 2,
        "question": "How many cats are there?",
        "answer_type": "number",
        "answers": ["2"] * 7 + ["3"] * 3,
    },
    {
        "question_id": 103,
        "image_id": 3,
        "question": "What color is the car?",
        "answer_type": "other",
        "answers": ["red"] * 10,
    },
]
VQA_TEST_DEV = [
    {"question_id": 201, "image_id": 11, "question": "What is this?"},
    {"question_id": 202, "image_id": 12, "question": "Is it sunny?"},
]
OKVQA = [
    {
        "question_id": 301,
        "image_id": 1,
        "question": "What breed is this dog?",
        "answer_type": "other",
        "answers": ["poodle"] * 10,
    },
    {
        "question_id": 302,
        "image_id": 2,
        "question": "What do cats eat?",
        "answer_type": "other",
        "answers": ["fish"] * 6 + ["mice"] * 4,
    },
]
GQA = {
    "g1": {"question": "Is the cup on the left or right?", "imageId": "n1", "answer": "left"},
    "g2": {"question": "Are there any dogs?", "imageId": "n2", "answer": "no"},
}
NOCAPS_IMAGES = [
    {"id": 0, "file_name": "0001.jpg", "domain": "in-domain"},
    {"id": 1, "file_name": "0002.jpg", "domain": "in-domain"},
    {"id": 2, "file_name": "0003.jpg", "domain": "near-domain"},
    {"id": 3, "file_name": "0004.jpg", "domain": "near-domain"},
    {"id": 4, "file_name": "0005.jpg", "domain": "out-domain"},
    {"id": 5, "file_name": "0006.jpg", "domain": "out-domain"},
]
NOCAPS_CAPTIONS = {
    0: ["a dog runs on the grass", "a brown dog running in a field"],
    1: ["a cat sleeps on a sofa", "a grey cat lying on a couch"],
    2: ["a red car parked on a street", "a car next to the road"],
    3: ["a bus driving down a city street", "a yellow bus on the road"],
    4: ["a jellyfish in blue water", "a pink jellyfish swimming"],
    5: ["a lobster on the sand", "a red lobster on a beach"],
}
COCO_KARPATHY = [
    {
        "filepath": "val2014",
        "filename": "COCO_val2014_000000000001.jpg",
        "cocoid": 1,
        "split": "test",
        "sentences": ["A dog sitting on a couch.", "A brown dog on a sofa."],
    },
    {
        "filepath": "val2014",
        "filename": "COCO_val2014_000000000002.jpg",
        "cocoid": 2,
        "split": "test",
        "sentences": ["Two cats sleeping on a bed.", "Cats lying together on a blanket."],
    },
    {
        "filepath": "val2014",
        "filename": "COCO_val2014_000000000003.jpg",
        "cocoid": 3,
        "split": "val",
        "sentences": ["A red car on the road."],
    },
    {
        "filepath": "train2014",
        "filename": "COCO_train2014_000000000004.jpg",
        "cocoid": 4,
        "split": "train",
        "sentences": ["A man riding a horse."],
    },
]
FLICKR_KARPATHY = [
    {
        "filename": "100.jpg",
        "split": "test",
        "sentences": ["A child plays in the sand.", "A kid at the beach."],
    },
    {"filename": "101.jpg", "split": "test", "sentences": ["Two men climb a rock.", "Climbers on a cliff."]},
    {"filename": "102.jpg", "split": "train", "sentences": ["A woman reads a book."]},
]


def write_image(path: Path, shade: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (shade, 255 - shade, shade // 2)).save(path)


def coco_image(root: Path, folder: str, image_id: int) -> Path:
    return root / "coco" / "images" / folder / f"COCO_{folder}_{image_id:012d}.jpg"


def build_data_root(root: Path) -> Path:
    """Write the whole tiny data root under ``root`` and return it."""
    for image_id in (1, 2, 3):
        write_image(coco_image(root, "val2014", image_id), image_id * 40)
    for image_id in (11, 12):
        write_image(coco_image(root, "test2015", image_id), image_id * 10)
    questions = [{k: q[k] for k in ("question_id", "image_id", "question")} for q in VQA_VAL]
    write_vqa_questions(root / "vqav2/v2_OpenEnded_mscoco_val2014_questions.json", questions)
    write_vqa_annotations(root / "vqav2/v2_mscoco_val2014_annotations.json", VQA_VAL)
    write_vqa_questions(
        root / "vqav2/v2_OpenEnded_mscoco_test-dev2015_questions.json",
        VQA_TEST_DEV,
        data_subtype="test-dev2015",
    )
    write_vqa_questions(
        root / "okvqa/OpenEnded_mscoco_val2014_questions.json",
        [{k: q[k] for k in ("question_id", "image_id", "question")} for q in OKVQA],
    )
    write_vqa_annotations(root / "okvqa/mscoco_val2014_annotations.json", OKVQA)
    write_gqa_questions(root / "gqa/testdev_balanced_questions.json", GQA)
    for question in GQA.values():
        write_image(root / "gqa/images" / f"{question['imageId']}.jpg")
    write_nocaps(root / "nocaps/nocaps_val_4500_captions.json", NOCAPS_IMAGES, NOCAPS_CAPTIONS)
    for image in NOCAPS_IMAGES:
        write_image(root / "nocaps/images" / image["file_name"])
    write_karpathy(root / "coco/annotations/dataset_coco.json", COCO_KARPATHY, dataset="coco")
    write_karpathy(root / "flickr30k/dataset_flickr30k.json", FLICKR_KARPATHY, dataset="flickr30k")
    for image in FLICKR_KARPATHY[:2]:
        write_image(root / "flickr30k/images" / image["filename"])
    return root
