"""The toy root is a pure function of (seed, size): byte-identical on every run, different per seed."""

from __future__ import annotations

from pathlib import Path

from toyworld.data import generate


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(toy_root, tmp_path):
    again = tmp_path / "again"
    generate(again, seed=0, size="small")
    first, second = _tree(toy_root), _tree(again)
    assert list(first) == list(second)
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []
    assert any(name.endswith(".jpg") for name in first) and "manifest.json" in first


def test_different_seed_gives_different_data(toy_root, tmp_path):
    other = tmp_path / "other"
    manifest = generate(other, seed=1, size="small")
    assert manifest["seed"] == 1
    for name in (
        "coco/annotations/dataset_coco.json",
        "vqav2/v2_mscoco_val2014_annotations.json",
        "gqa/testdev_balanced_questions.json",
        "nocaps/nocaps_val_4500_captions.json",
        "flickr30k/dataset_flickr30k.json",
    ):
        assert (toy_root / name).read_bytes() != (other / name).read_bytes(), name
    images_a = sorted(p.read_bytes() for p in (toy_root / "nocaps/images").iterdir())
    images_b = sorted(p.read_bytes() for p in (other / "nocaps/images").iterdir())
    assert len(images_a) == len(images_b) and not set(images_a) & set(images_b)
