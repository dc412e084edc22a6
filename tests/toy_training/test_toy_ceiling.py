"""The text reference of the toy VQA numbers (`bench.toy_ceiling`): the committed toy LLMs answering from
the scene in words must actually use those words."""

from __future__ import annotations

import json

import pytest

from bench.toy_ceiling import ceiling_metrics, scene_words
from tasks.toy.config import SCENES


@pytest.mark.parametrize("model", ["toy-opt", "toy-t5"])
def test_true_scene_words_beat_another_scenes_words(model, default_root, committed_toy_models):
    words = scene_words(default_root)
    keys = sorted(words)
    rotated = {k: words[keys[(i + 7) % len(keys)]] for i, k in enumerate(keys)}  # every image: another's scene
    true = ceiling_metrics(default_root, model, limit=40, words=words)
    wrong = ceiling_metrics(default_root, model, limit=40, words=rotated)
    assert set(true) == {("vqav2", "val"), ("okvqa", "test"), ("gqa", "test-dev")}
    assert true[("vqav2", "val")]["accuracy"] > wrong[("vqav2", "val")]["accuracy"] + 10


def test_scene_words_are_the_complete_descriptions(default_root):
    scenes = json.loads((default_root / SCENES).read_text())
    key, scene = next(iter(scenes.items()))
    text = scene_words(default_root)[key]
    assert all(o["shape"] in text and o["colour"] in text for o in scene["objects"])


def test_a_root_without_scenes_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"scenes\.json.*bench toy-data"):
        scene_words(tmp_path)
