"""The toy ViT's own pre-training data: freshly drawn scenes that keep the toy root's held-out shape-colour
pairs unseen (NoCaps' out-domain stays novel), the same for a given seed; a broken manifest is named."""

from __future__ import annotations

import json

import pytest

from tasks.coverage import MANIFEST
from toyworld.backbones.vision import pretraining_scenes


def test_fresh_scenes_never_use_a_held_out_pair(small_root):
    held_out = {tuple(c) for c in json.loads((small_root / MANIFEST).read_text())["held_out_combos"]}
    scenes = pretraining_scenes(small_root, 400)
    pairs = {(o["shape"], o["colour"]) for s in scenes for o in s["objects"]}
    assert held_out and not pairs & held_out
    assert len(pairs) > 25  # every seen pair turns up (42 pairs in all, 12 held out)
    assert pretraining_scenes(small_root, 50) == scenes[:50]
    assert pretraining_scenes(small_root, 50, seed=1) != scenes[:50]


def test_a_manifest_without_held_out_pairs_is_named(small_root, tmp_path):
    manifest = json.loads((small_root / MANIFEST).read_text())
    del manifest["held_out_combos"]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"manifest\.json.*held_out_combos.*toy-data"):
        pretraining_scenes(tmp_path, 10)
