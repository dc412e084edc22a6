"""Every task loads the toy root through its real loader, with every image present and 64x64."""

from __future__ import annotations

import pytest
from PIL import Image

import tasks
from tasks.splits import RetrievalSplit

EXPECTED_DEFAULT = {
    "vqav2": ("val", 12 * 3),
    "okvqa": ("test", 8 * 2),
    "gqa": ("test-dev", 10 * 2),
    "nocaps": ("val", 3 * 6),
    "coco_caption": ("karpathy-test", 12),
    "flickr30k": ("test", 10),
    "coco_retrieval": ("test", 12),
}


def test_every_registered_task_is_covered():
    assert sorted(tasks.names()) == sorted(EXPECTED_DEFAULT)


@pytest.mark.parametrize("name", sorted(EXPECTED_DEFAULT))
def test_default_split_loads_with_images(toy_root, name):
    task = tasks.get(name)
    loaded = task.load(toy_root, None)
    split, count = EXPECTED_DEFAULT[name]
    assert loaded.split == split
    assert len(loaded) == count
    paths = loaded.image_paths if isinstance(loaded, RetrievalSplit) else [s.image_path for s in loaded.samples]
    assert paths and all(p.is_relative_to(toy_root) for p in paths)
    for path in set(paths):
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (64, 64))
    if isinstance(loaded, RetrievalSplit):
        assert len(loaded.texts) == 5 * len(paths)


@pytest.mark.parametrize(
    ("name", "split", "count"), [("vqav2", "test-dev", 6 * 2), ("coco_caption", "karpathy-val", 10)]
)
def test_other_splits_load(toy_root, name, split, count):
    loaded = tasks.get(name).load(toy_root, split)
    assert len(loaded) == count
    assert all(s.image_path.is_file() for s in loaded.samples)
    assert loaded.has_answers == (split != "test-dev")
