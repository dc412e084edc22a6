"""Karpathy split files ``dataset_coco.json`` / ``dataset_flickr30k.json``.

Official layout (cs.stanford.edu/people/karpathy/deepimagesent, caption_datasets.zip):
``{dataset, images: [{filepath?, filename, imgid, cocoid?, split, sentids, sentences: [{raw, tokens, imgid,
sentid}]}]}`` with ``split`` one of train / val / test / restval. COCO entries carry ``filepath``
(train2014/val2014) and ``cocoid``; Flickr30k entries carry neither.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.formats.common import JsonFile, write_json

KARPATHY_SPLITS: tuple[str, ...] = ("train", "val", "test", "restval")

LAYOUT = (
    'the Karpathy split format {"images": [{"filename": str, "filepath": str (COCO), "cocoid": int (COCO), '
    '"split": "train"|"val"|"test"|"restval", "sentences": [{"raw": str, ...}], ...}], "dataset": str} as in '
    "caption_datasets.zip from https://cs.stanford.edu/people/karpathy/deepimagesent/"
)


@dataclass(frozen=True)
class KarpathyImage:
    filename: str
    filepath: str | None
    split: str
    imgid: int | None
    cocoid: int | None
    sentences: tuple[str, ...]


def read_karpathy(
    path: str | os.PathLike[str],
    *,
    split: str | None = None,
    coco: bool = False,
    layout: str | None = None,
) -> list[KarpathyImage]:
    """Read and validate a Karpathy file, keeping only ``split`` if given (in file order).

    With ``coco=True`` each kept image must have ``filepath`` and ``cocoid`` (COCO image ids are what
    caption predictions are keyed by).
    """
    file = JsonFile(path, layout or LAYOUT)
    data = file.expect(file.load(), dict, "top level")
    images: list[KarpathyImage] = []
    for index, item in enumerate(file.field(data, "images", list, "")):
        where = f"images[{index}]"
        file.expect(item, dict, where)
        item_split = file.field(item, "split", str, where)
        if item_split not in KARPATHY_SPLITS:
            file.fail(f"{where}.split", f"is {item_split!r}, not one of {', '.join(KARPATHY_SPLITS)}")
        if split is not None and item_split != split:
            continue
        sentences = file.field(item, "sentences", list, where)
        if not sentences:
            file.fail(f"{where}.sentences", "is empty; every image needs its reference captions")
        raws = []
        for sentence_index, sentence in enumerate(sentences):
            sentence_where = f"{where}.sentences[{sentence_index}]"
            file.expect(sentence, dict, sentence_where)
            raws.append(file.field(sentence, "raw", str, sentence_where))
        images.append(
            KarpathyImage(
                filename=file.non_empty_text(item, "filename", where),
                filepath=file.field(item, "filepath", str, where) if coco else item.get("filepath"),
                split=item_split,
                imgid=file.field(item, "imgid", int, where) if "imgid" in item else None,
                cocoid=file.field(item, "cocoid", int, where) if coco else item.get("cocoid"),
                sentences=tuple(raws),
            )
        )
    if split is not None and not images:
        file.fail("images", f"no image has split {split!r}")
    if coco:
        seen: set[int] = set()
        for image in images:
            if image.cocoid in seen:
                file.fail("images", f"duplicate cocoid {image.cocoid} in split {split!r}")
            seen.add(image.cocoid)  # type: ignore[arg-type]
    return images


def _tokens(raw: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", raw.lower())


def write_karpathy(
    path: str | os.PathLike[str], images: Sequence[Mapping[str, Any]], *, dataset: str = "coco"
) -> Path:
    """Write a Karpathy split file.

    Each image needs ``filename``, ``split`` and ``sentences`` (a list of raw strings); COCO images also
    ``filepath`` and ``cocoid``. ``imgid``/``sentids``/``tokens`` are filled in as the original has them.
    """
    records = []
    sentid = 0
    for imgid, image in enumerate(images):
        sentences = []
        for raw in image["sentences"]:
            sentences.append({"tokens": _tokens(raw), "raw": raw, "imgid": imgid, "sentid": sentid})
            sentid += 1
        record: dict[str, Any] = {}
        if "filepath" in image:
            record["filepath"] = image["filepath"]
        record.update(
            {
                "sentids": [s["sentid"] for s in sentences],
                "filename": image["filename"],
                "imgid": imgid,
                "split": image["split"],
                "sentences": sentences,
            }
        )
        if "cocoid" in image:
            record["cocoid"] = image["cocoid"]
        records.append(record)
    return write_json(path, {"images": records, "dataset": dataset})
