"""LAVIS annotation JSONs (``coco_karpathy_test.json``, ``coco_karpathy_val.json``, ``flickr30k_test.json``).

Layout (storage.googleapis.com/sfr-vision-language-research/datasets/): ``[{"image": "val2014/COCO_val2014_
000000391895.jpg", "caption": [str, ...]}, ...]``; the image path is relative to the image folder. They hold
the same images and captions as the Karpathy test/val splits, reshaped by LAVIS.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.formats.common import JsonFile, write_json

LAYOUT = (
    'the LAVIS annotation format [{"image": "<relative image path>", "caption": [str, ...]}, ...] as in '
    "https://storage.googleapis.com/sfr-vision-language-research/datasets/coco_karpathy_test.json"
)

_TRAILING_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class LavisCaptionEntry:
    image: str
    captions: tuple[str, ...]

    @property
    def coco_id(self) -> int | None:
        """COCO image id from ``COCO_val2014_000000391895.jpg`` (how LAVIS keys COCO captions)."""
        match = _TRAILING_NUMBER.search(Path(self.image).stem)
        return int(match.group(1)) if match else None


def read_lavis_captions(path: str | os.PathLike[str], layout: str | None = None) -> list[LavisCaptionEntry]:
    """Read and validate a LAVIS caption JSON; a single-string ``caption`` counts as one caption."""
    file = JsonFile(path, layout or LAYOUT)
    data = file.expect(file.load(), list, "top level")
    if not data:
        file.fail("top level", "holds no images")
    entries = []
    for index, item in enumerate(data):
        where = f"[{index}]"
        file.expect(item, dict, where)
        image = file.non_empty_text(item, "image", where)
        caption = file.field(item, "caption", (list, str), where)
        captions = [caption] if isinstance(caption, str) else caption
        if not captions:
            file.fail(f"{where}.caption", "is empty; every image needs its reference captions")
        for caption_index, text in enumerate(captions):
            file.expect(text, str, f"{where}.caption[{caption_index}]")
        entries.append(LavisCaptionEntry(image, tuple(captions)))
    return entries


def write_lavis_captions(path: str | os.PathLike[str], entries: Sequence[Mapping[str, Any]]) -> Path:
    """Write a LAVIS caption JSON from ``[{"image": relpath, "caption": [..]}]``."""
    return write_json(path, [{"image": e["image"], "caption": list(e["caption"])} for e in entries])
