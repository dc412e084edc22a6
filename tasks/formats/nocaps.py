"""NoCaps ``nocaps_val_4500_captions.json`` (COCO-style captions file with a per-image domain).

Official layout (nocaps.org): ``{info, licenses, images: [{id, file_name, coco_url, open_images_id,
domain, height, width}], annotations: [{image_id, id, caption}]}``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.formats.common import JsonFile, format_ids, write_json

NOCAPS_DOMAINS: tuple[str, ...] = ("in-domain", "near-domain", "out-domain")

LAYOUT = (
    'the NoCaps format {"images": [{"id": int, "file_name": str, "domain": "in-domain"|"near-domain"|'
    '"out-domain", ...}], "annotations": [{"image_id": int, "id": int, "caption": str}]} as in '
    "nocaps_val_4500_captions.json from https://nocaps.org/download"
)


@dataclass(frozen=True)
class NocapsImage:
    image_id: int
    file_name: str
    domain: str


def read_nocaps(
    path: str | os.PathLike[str], layout: str | None = None
) -> tuple[list[NocapsImage], dict[int, list[str]]]:
    """Read and validate a NoCaps captions file; every image must have a domain and >= 1 caption."""
    file = JsonFile(path, layout or LAYOUT)
    data = file.expect(file.load(), dict, "top level")
    images: list[NocapsImage] = []
    seen: set[int] = set()
    for index, item in enumerate(file.field(data, "images", list, "")):
        where = f"images[{index}]"
        file.expect(item, dict, where)
        image_id = file.field(item, "id", int, where)
        domain = file.field(item, "domain", str, where)
        if domain not in NOCAPS_DOMAINS:
            file.fail(f"{where}.domain", f"is {domain!r}, not one of {', '.join(NOCAPS_DOMAINS)}")
        if image_id in seen:
            file.fail(f"{where}.id", f"duplicate image id {image_id}")
        seen.add(image_id)
        images.append(NocapsImage(image_id, file.non_empty_text(item, "file_name", where), domain))
    captions: dict[int, list[str]] = {image.image_id: [] for image in images}
    for index, item in enumerate(file.field(data, "annotations", list, "")):
        where = f"annotations[{index}]"
        file.expect(item, dict, where)
        image_id = file.field(item, "image_id", int, where)
        caption = file.field(item, "caption", str, where)
        if image_id not in captions:
            file.fail(f"{where}.image_id", f"{image_id} is not an id in 'images'")
        captions[image_id].append(caption)
    without = [image_id for image_id, refs in captions.items() if not refs]
    if without:
        file.fail("annotations", f"no caption for image id(s) {format_ids(without)}")
    return images, captions


def write_nocaps(
    path: str | os.PathLike[str],
    images: Sequence[Mapping[str, Any]],
    captions: Mapping[int, Sequence[str]],
) -> Path:
    """Write a NoCaps file; ``images`` need ``id``, ``file_name``, ``domain``.

    ``captions`` maps image id -> reference texts.
    """
    image_records = [
        {
            "id": image["id"],
            "file_name": image["file_name"],
            "coco_url": image.get("coco_url", ""),
            "open_images_id": image.get("open_images_id", Path(image["file_name"]).stem),
            "domain": image["domain"],
            "height": image.get("height", 0),
            "width": image.get("width", 0),
        }
        for image in images
    ]
    annotations = []
    for image_id, texts in captions.items():
        for text in texts:
            annotations.append({"image_id": image_id, "id": len(annotations), "caption": text})
    return write_json(
        path,
        {
            "info": {"description": "written by blip2-bench in the official NoCaps layout"},
            "licenses": [],
            "images": image_records,
            "annotations": annotations,
        },
    )
