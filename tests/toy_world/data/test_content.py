"""The toy data says true things about its images, and NoCaps domains honour the held-out combos."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import numpy as np
from PIL import Image

import tasks
from toyworld.analyses.ceiling import retrieval_ceiling
from toyworld.backbones.corpus import Doc, toy_documents
from toyworld.data.config import TRAINING_SETS
from toyworld.data.language import describe
from toyworld.data.scenes import COLOURS, POSITIONS, Scene, render

from .conftest import rel


def _combos(entry: dict) -> set[tuple[str, str]]:
    return {(o["shape"], o["colour"]) for o in entry["objects"]}


def _karpathy_combos(root, scenes, splits) -> set[tuple[str, str]]:
    data = json.loads((root / "coco/annotations/dataset_coco.json").read_text())
    paths = [f"coco/images/{i['filepath']}/{i['filename']}" for i in data["images"] if i["split"] in splits]
    assert paths
    return set().union(*(_combos(scenes[p]) for p in paths))


def test_nocaps_domains_follow_the_train_split(toy_root, scenes, manifest):
    train = _karpathy_combos(toy_root, scenes, {"train"})
    held_out = {tuple(c) for c in manifest["held_out_combos"]}
    assert held_out and not held_out & _karpathy_combos(toy_root, scenes, {"train", "restval", "val", "test"})
    loaded = tasks.get("nocaps").load(toy_root, None)
    domains = Counter(s.domain for s in loaded.samples)
    assert domains == {"in-domain": 6, "near-domain": 6, "out-domain": 6}
    for sample in loaded.samples:
        combos = _combos(scenes[rel(toy_root, sample.image_path)])
        if sample.domain == "in-domain":
            assert combos <= train, combos - train
        elif sample.domain == "out-domain":
            assert combos <= held_out and not combos & train
        else:
            assert combos & held_out and combos & train


def test_every_image_has_five_distinct_captions(toy_root):
    files = ["coco/annotations/dataset_coco.json", "flickr30k/dataset_flickr30k.json"]
    for name in files:
        for image in json.loads((toy_root / name).read_text())["images"]:
            raws = [s["raw"] for s in image["sentences"]]
            assert len(raws) == len(set(raws)) == 5, (name, image["filename"])
    nocaps = json.loads((toy_root / "nocaps/nocaps_val_4500_captions.json").read_text())
    per_image = Counter(a["image_id"] for a in nocaps["annotations"])
    assert set(per_image.values()) == {5} and len(per_image) == len(nocaps["images"])


def test_single_object_captions_name_its_shape_and_colour(toy_root, scenes):
    data = json.loads((toy_root / "coco/annotations/dataset_coco.json").read_text())
    checked = 0
    for image in data["images"]:
        (obj, *rest) = scenes[f"coco/images/{image['filepath']}/{image['filename']}"]["objects"]
        if rest:
            continue
        colour_words = {"gray", "grey"} if obj["colour"] == "gray" else {obj["colour"]}
        for sentence in image["sentences"]:
            words = set(re.findall(r"[a-z]+", sentence["raw"]))
            assert obj["shape"] in words and colour_words & words, sentence["raw"]
        checked += 1
    assert checked >= 5


def test_scene_labels_match_the_pixels(toy_root, scenes):
    """Each object's centre pixel has its colour, and re-rendering the label gives the JPEG back."""
    for path, entry in list(scenes.items())[:40]:
        pixels = np.asarray(Image.open(toy_root / path), dtype=np.float64)
        redrawn = np.asarray(render(Scene.from_dict(entry)), dtype=np.float64)
        blocks = (pixels - redrawn).reshape(16, 4, 16, 4, 3).mean(axis=(1, 3))  # JPEG loses the noise grain
        assert np.abs(blocks).mean() < 3.0, path
        for obj in entry["objects"]:
            x, y = POSITIONS[obj["position"]]
            centre = pixels[y + obj["dy"], x + obj["dx"]]
            assert math.dist(centre, COLOURS[obj["colour"]]) < 60, (path, obj)


def _vqa(root, subtype):
    questions = json.loads((root / f"vqav2/v2_OpenEnded_mscoco_{subtype}_questions.json").read_text())["questions"]
    annotations = json.loads((root / f"vqav2/v2_mscoco_{subtype}_annotations.json").read_text())["annotations"]
    return list(zip(questions, annotations, strict=True))


def test_vqa_answers_are_true_of_the_scene(toy_root, scenes):
    checked = Counter()
    for question, annotation in _vqa(toy_root, "train2014"):
        objects = scenes[f"coco/images/train2014/COCO_train2014_{question['image_id']:012d}.jpg"]["objects"]
        text, answer = question["question"], annotation["multiple_choice_answer"]
        if text in ("how many shapes are there?", "how many shapes are in the picture?"):
            assert answer == str(len(objects))
            checked["count"] += 1
        elif m := re.fullmatch(r"where is the (\w+) (\w+)(?: placed)?\?", text):
            positions = {o["position"] for o in objects if (o["colour"], o["shape"]) == m.groups()}
            assert answer in positions
            checked["position"] += 1
        elif m := re.fullmatch(r"is there an? (\w+) (\w+)\?", text):
            present = any((o["colour"], o["shape"]) == m.groups() for o in objects)
            assert answer == ("yes" if present else "no")
            checked["presence"] += 1
        elif m := re.fullmatch(r"what color is the (\w+)\?", text):
            assert answer in {o["colour"] for o in objects if o["shape"] == m.group(1)}
            checked["colour"] += 1
    assert min(checked.values()) >= 3 and len(checked) == 4, checked


def test_answer_types_and_annotator_variety(toy_root):
    pairs = _vqa(toy_root, "train2014") + _vqa(toy_root, "val2014")
    annotations = [a for _, a in pairs]
    assert {a["answer_type"] for a in annotations} == {"yes/no", "number", "other"}
    assert {"how many", "is there a", "where is the", "what color is the"} <= {a["question_type"] for a in annotations}
    assert all(len(a["answers"]) == 10 for a in annotations)
    answers = Counter(x["answer"] for a in annotations for x in a["answers"])
    unanimous = sum(len({x["answer"] for x in a["answers"]}) == 1 for a in annotations)
    assert 0 < unanimous < len(annotations)
    for variants in (("one", "two", "three"), ("yes.", "Yes", "yeah"), ("left side", "on the left", "right side")):
        assert any(answers[v] for v in variants), variants
    types = {
        a["answer_type"]
        for a in json.loads((toy_root / "okvqa/mscoco_val2014_annotations.json").read_text())["annotations"]
    }
    assert types == {"yes/no", "number", "other"}


def test_llm_corpus_uses_training_scenes_only(toy_root, manifest, scenes):
    """The toy LLMs' text (`toy_documents`) holds no held-out combo and no caption of a val/test image."""
    docs = toy_documents(toy_root)
    qa = [d for d in docs if d.kind == "qa"]
    assert qa and all(d.question and d.text for d in qa)
    held_out = [f"{colour} {shape}" for shape, colour in manifest["held_out_combos"]]
    held_out += [p.replace("gray", "grey") for p in held_out if "gray" in p]
    # the scenes in words and the captions (a question may still ask whether a held-out pair is there)
    texts = [d.context for d in docs] + [d.text for d in docs if d.kind == "caption"]
    assert [t for t in texts if any(re.search(rf"\b{p}\b", t) for p in held_out)] == []
    images = json.loads((toy_root / "coco/annotations/dataset_coco.json").read_text())["images"]
    val_captions = {s["raw"] for i in images if i["split"] in ("val", "test") for s in i["sentences"]}
    train_captions = {s["raw"] for i in images if i["split"] in ("train", "restval") for s in i["sentences"]}
    corpus_captions = {d.text for d in docs if d.kind == "caption"}
    assert train_captions <= corpus_captions
    assert not (val_captions - train_captions) & corpus_captions
    assert "a banana is yellow." in {d.text for d in docs if d.kind == "fact"}


def _evaluation_questions(root) -> list[tuple[str, str]]:
    """(image path under the root, question) of every split of the VQA-kind tasks (all are evaluated)."""
    pairs = []
    for name in ("vqav2", "okvqa", "gqa"):
        task = tasks.get(name)
        for split in task.splits:
            loaded = task.load(root, split.name)
            pairs += [(rel(root, s.image_path), s.question or "") for s in loaded.samples]
    return pairs


def _leaks(docs, evaluation: set[str], asked: set[tuple[str, str]]) -> list:
    """Documents that hold an evaluation scene in words, or pair one with a question asked about it."""
    return [d for d in docs if d.context.rstrip(".") in evaluation or d.text.rstrip(".") in evaluation
            or (d.context, d.question) in asked]


def test_no_two_images_share_a_description(scenes):
    """Each image's scene in words is its own, so no evaluation scene is a training scene in new pixels."""
    words = Counter(describe(Scene.from_dict(s)) for s in scenes.values())
    assert words.most_common(1)[0][1] == 1


def test_llm_corpus_holds_no_evaluation_scene_or_question(toy_root, scenes):
    """No document of the toy LLMs' corpus holds an evaluation scene's description, in its context or its
    text, nor pairs an evaluation scene with a question asked about it."""
    docs = toy_documents(toy_root)
    evaluation = {describe(Scene.from_dict(s)) for s in scenes.values() if s["set"] not in TRAINING_SETS}
    assert len(evaluation) > 50
    pairs = _evaluation_questions(toy_root)
    assert pairs and {p for p, _ in pairs} <= {p for p, s in scenes.items() if s["set"] not in TRAINING_SETS}
    asked = {(describe(Scene.from_dict(scenes[p])) + ".", q) for p, q in pairs}
    assert _leaks(docs, evaluation, asked) == []
    context, question = sorted(asked)[0]  # the check sees a planted document
    planted = Doc(context, "yes", "qa", question)
    assert _leaks([*docs, planted], evaluation, asked) == [planted]


def test_test_captions_rarely_fit_another_test_image(toy_root):
    """A caption true of another image of its split makes a hard negative a positive (ITM learns a wrong
    label) and caps R@1: the share of such texts stays small (`bench toy-ceiling` reports it)."""
    for task in ("coco_retrieval", "flickr30k"):
        assert retrieval_ceiling(toy_root, task)["ambiguous_texts"] <= 2.0
