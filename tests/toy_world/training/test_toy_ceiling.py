"""The text reference of the toy VQA numbers (`toyworld.analyses.ceiling`): the committed toy LLMs answering from
the scene in words must actually use those words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tasks
from toyworld.analyses.ceiling import caption_pool, ceiling_metrics, retrieval_ceiling, scene_words
from toyworld.data.config import SCENES
from toyworld.data.scenes import Scene
from toyworld.errors import ToyError


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
    with pytest.raises(ToyError, match=r"scenes\.json.*bench toy-data"):
        scene_words(tmp_path)


def test_caption_pool_regenerates_every_test_caption(default_root):
    """The retrieval ceiling is only right if the pool covers what the generator wrote."""
    loaded = tasks.get("coco_retrieval").load(default_root, limit=20)
    scenes = json.loads((default_root / SCENES).read_text())
    for i, path in enumerate(loaded.image_paths):
        scene = Scene.from_dict(scenes[Path(path).relative_to(default_root.absolute()).as_posix()])
        pool = caption_pool(scene)
        for t in loaded.img2txt[i]:
            assert " ".join(loaded.texts[t].lower().split()) in pool


def test_retrieval_ceiling_counts_captions_true_of_several_images(default_root, tmp_path):
    """Version-2 captions are specific: almost none is true of another test image. A copy of the root in which
    one test image shows another's scene makes their captions true of both, and the ceiling drops."""
    ceiling = retrieval_ceiling(default_root, "coco_retrieval")
    assert ceiling["ambiguous_texts"] <= 2.0 and ceiling["IR@1"] >= 98
    copy = tmp_path / "root"
    copy.mkdir()
    for entry in default_root.iterdir():
        (copy / entry.name).symlink_to(entry.absolute())
    (copy / SCENES).unlink()
    scenes = json.loads((default_root / SCENES).read_text())
    loaded = tasks.get("coco_retrieval").load(default_root)
    first, second = (Path(p).relative_to(default_root.absolute()).as_posix() for p in loaded.image_paths[:2])
    scenes[second] = scenes[first]
    (copy / SCENES).write_text(json.dumps(scenes))
    twin = retrieval_ceiling(copy, "coco_retrieval")
    assert twin["ambiguous_texts"] >= ceiling["ambiguous_texts"] + 100 * 5 / len(loaded.texts)  # the first's 5
    assert twin["IR@1"] < ceiling["IR@1"]  # each of those 5 texts has two images to choose from


def test_the_committed_text_references_agree():
    """The backbone build records each LLM's text reference; the leaderboard reads the same numbers from
    bench/data/toy_references.json (measured through the BLIP-2 models that hold those LLMs frozen)."""
    from toyworld.backbones import WEIGHTS_DIR

    build = json.loads((WEIGHTS_DIR / "backbones_build.json").read_text())["backbones"]
    references = json.loads(Path("bench/data/toy_references.json").read_text())["reference"]
    by_model = {(r["llm"], f"{r['task']} {r['split']}"): r["value"] for r in references
                if r.get("llm") in ("toy-opt", "toy-t5") and r["subset"] == "all" and r["metric"] == "accuracy"}
    for family in ("opt", "t5"):
        for task_split, value in build[family]["text_reference"].items():
            assert by_model[(f"toy-{family}", task_split)] == pytest.approx(value, abs=0.01)


def test_own_captions_describe_their_image_and_carry_answers(default_root, committed_toy_models):
    """`--scene captions`: the zero-shot model's captions of each VQA image name that image's objects, and
    answering from them beats answering from another image's captions."""
    from blip2 import api
    from toyworld.analyses.ceiling import own_captions, read_scenes

    captions = own_captions(default_root, api.load_model("toy-opt"), limit=24)
    scenes = read_scenes(default_root)
    keys = sorted(captions)
    assert len(keys) > 15 and all(c.endswith(".") and len(c) > 10 for c in captions.values())

    def named(key: str, caption: str) -> int:
        return sum(o["colour"] in caption.replace("grey", "gray") for o in scenes[key]["objects"])

    own = sum(named(k, captions[k]) for k in keys)
    other = sum(named(k, captions[keys[(i + 7) % len(keys)]]) for i, k in enumerate(keys))
    assert own > 1.5 * other
    rotated = {k: captions[keys[(i + 7) % len(keys)]] for i, k in enumerate(keys)}
    from_own = ceiling_metrics(default_root, "toy-opt", limit=24, from_captions=True)
    from_other = ceiling_metrics(default_root, "toy-opt", limit=24, words=rotated)
    assert from_own[("vqav2", "val")]["accuracy"] > from_other[("vqav2", "val")]["accuracy"] + 5


def test_captions_as_the_scene_are_not_written_as_the_references(tmp_path, capsys):
    from bench.cli import main

    assert main(["toy-ceiling", "--scene", "captions", "--write", str(tmp_path / "refs.json")]) == 2
    assert "--write records the text references" in capsys.readouterr().err
    assert not (tmp_path / "refs.json").exists()
