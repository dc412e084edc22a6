"""Training data: image-text pairs from Karpathy JSON, and VQA triples (tar shards: `shards.py`).

Augmentation is seeded by (seed, epoch, sample index), so a run's inputs do not depend on how many
processes or workers read them: 2 processes see exactly the images 1 process would.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset

from ..processing import ImageTransform


@dataclass(frozen=True)
class Example:
    """One training example; `question`/`answer` only for VQA."""

    image_path: Path | None
    text: str
    image_id: int | str
    question: str | None = None
    image_bytes: bytes | None = None


def _open(example: Example) -> Image.Image:
    if example.image_bytes is not None:
        return Image.open(io.BytesIO(example.image_bytes))
    return Image.open(example.image_path)


def stable_seed(*parts: object) -> int:
    """A seed from any values, the same in every process (unlike hash() of strings)."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") >> 1


def seeded_transform(transform: ImageTransform, image: Image.Image, seed: int) -> torch.Tensor:
    """Apply a random transform with its own RNG stream, independent of process and worker layout."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return transform(image)


class ExampleDataset(Dataset):
    """A list of examples -> {"pixel_values", "text", "image_id", "question", "index"} items."""

    def __init__(self, examples: Sequence[Example], transform: ImageTransform, seed: int = 0):
        self.examples, self.transform, self.seed, self.epoch = list(examples), transform, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ex = self.examples[index]
        with _open(ex) as image:
            pixels = seeded_transform(self.transform, image, stable_seed(self.seed, self.epoch, index))
        return {"pixel_values": pixels, "text": ex.text, "image_id": ex.image_id, "question": ex.question,
                "index": index}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    batch = {
        "pixel_values": torch.stack([i["pixel_values"] for i in items]),
        "text": [i["text"] for i in items],
        "question": [i["question"] for i in items],
        "image_id": [i["image_id"] for i in items],
        "index": torch.tensor([i["index"] for i in items]),
    }
    if "counts" in items[0]:  # a shard stream's (worker, read, bad) counts, for the trainer's bookkeeping
        batch["counts"] = [i["counts"] for i in items]
    return batch


# The fields of each JSON data source that name a file or folder under the data root (read below).
DATA_PATH_FIELDS = {"karpathy": ("file", "images"), "vqa": ("questions", "annotations", "images")}


def karpathy_examples(data_root: Path, spec: dict[str, Any]) -> list[Example]:
    """Captions of the given Karpathy splits: one example per (image, caption)."""
    file = data_root / spec["file"]
    try:
        images = json.loads(file.read_text())["images"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file}: cannot read a Karpathy split file ({exc})") from exc
    splits = set(spec.get("splits", ["train"]))
    out = []
    for img in images:
        if img.get("split") not in splits:
            continue
        path = data_root / spec["images"] / img.get("filepath", "") / img["filename"]
        image_id = img.get("cocoid", img.get("imgid"))
        for sentence in img["sentences"]:
            out.append(Example(path, sentence["raw"].strip(), image_id))
    if not out:
        raise ValueError(f"{file}: no captions in splits {sorted(splits)}")
    return out


def vqa_examples(data_root: Path, spec: dict[str, Any]) -> list[Example]:
    """VQA triples; the target is each question's most frequent answer (`multiple_choice_answer`)."""
    questions = json.loads((data_root / spec["questions"]).read_text())["questions"]
    answers = {a["question_id"]: a for a in json.loads((data_root / spec["annotations"]).read_text())["annotations"]}
    folder = data_root / spec["images"]
    split = folder.name
    out = []
    for q in questions:
        ann = answers.get(q["question_id"])
        if ann is None:
            raise ValueError(f"{spec['annotations']}: no annotation for question_id {q['question_id']}")
        path = folder / f"COCO_{split}_{q['image_id']:012d}.jpg"
        out.append(Example(path, ann["multiple_choice_answer"], q["image_id"], question=q["question"]))
    return out
