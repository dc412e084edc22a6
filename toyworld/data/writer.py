"""Write a complete toy data root: images plus every task's official files, via :mod:`tasks.formats`.

Because the files use the official names and layouts, the real task loaders and scorers run on the
toy root unchanged; that is the point of the toy world. Each image draws from its own RNG, seeded by
``(seed, set, index)``. No two images of a root share a description in words (`language.describe`): a
scene drawn again is redrawn from its RNG, so no evaluation scene is a training scene in other pixels,
and the toy LLMs' corpus holds no evaluation scene's description.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tasks import sources
from tasks.atomic import atomic_write_json
from tasks.coverage import MANIFEST
from tasks.formats import (
    write_gqa_questions,
    write_karpathy,
    write_nocaps,
    write_vqa_annotations,
    write_vqa_questions,
)
from toyworld.data import language
from toyworld.data.config import (
    GENERATOR_VERSION,
    GQA_TRAIN_QUESTIONS,
    SCENES,
    TRAINING_SETS,
    VQAV2_TRAIN_ANNOTATIONS,
    VQAV2_TRAIN_QUESTIONS,
    ToySizes,
    sizes_for,
)
from toyworld.data.gqa_questions import gqa_questions
from toyworld.data.scenes import (
    COLOURS,
    IMAGE_SIZE,
    SHAPES,
    Combo,
    Scene,
    all_combos,
    held_out_combos,
    render,
    sample_scene,
)
from toyworld.errors import ToyError

GENERATOR = "blip2-bench tasks.toy"  # the name it was first written under; existing roots keep matching
TASK_SPLITS: dict[str, list[str]] = {
    "vqav2": ["val", "test-dev"],
    "okvqa": ["test"],
    "gqa": ["test-dev"],
    "nocaps": ["val"],
    "coco_caption": ["karpathy-test", "karpathy-val"],
    "flickr30k": ["test"],
    "coco_retrieval": ["test"],
}
TRAINING_FILES: dict[str, str] = {
    "captions": f"{sources.COCO_KARPATHY} (splits train, restval)",
    "vqa_questions": VQAV2_TRAIN_QUESTIONS,
    "vqa_annotations": VQAV2_TRAIN_ANNOTATIONS,
    "gqa_questions": GQA_TRAIN_QUESTIONS,
    "scenes": f"{SCENES} (every image's objects and background, as labels)",
}


class _Writer:
    """Collects scenes and renders images while the per-task functions write their files."""

    def __init__(self, root: Path, seed: int, sizes: ToySizes) -> None:
        self.root, self.seed, self.sizes = root, seed, sizes
        self.held_out = held_out_combos(seed)
        self.seen = [c for c in all_combos() if c not in set(self.held_out)]
        self.scenes: dict[str, dict[str, Any]] = {}
        self.train_combos: set[Combo] = set()  # combos of the Karpathy train split: "seen" for NoCaps
        self.descriptions: set[str] = set()  # every scene's description so far: each image's is new

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def image(self, relpath: str, group: str, scene: Scene) -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        render(scene).save(path, "JPEG", quality=90)
        self.scenes[relpath] = {"set": group, **scene.to_dict()}

    def scene(self, group: str, index: int, combos: list[Combo] | None = None) -> tuple[Scene, random.Random]:
        rng = self.rng(group, index)
        return self.new_scene(lambda: sample_scene(rng, combos or self.seen)), rng

    def new_scene(self, draw: Callable[[], Scene], tries: int = 10_000) -> Scene:
        """The first scene from `draw` whose description no earlier image of the root has."""
        for _ in range(tries):
            scene = draw()
            words = language.describe(scene)
            if words not in self.descriptions:
                self.descriptions.add(words)
                return scene
        raise ToyError(f"no new scene in {tries} draws: the toy world has too few distinct scenes for this size")


def _vqa_annotation(qa: language.QA, image_id: int, question_id: int) -> dict[str, Any]:
    return {
        "question_id": question_id,
        "image_id": image_id,
        "question_type": qa.question_type,
        "answer_type": qa.answer_type,
        "multiple_choice_answer": qa.answer,
        "answers": list(qa.answers),
    }


def _write_coco(w: _Writer) -> dict[str, int]:
    """Karpathy COCO splits, VQAv2 train/val/test-dev and OK-VQA, all on COCO-named images."""
    s = w.sizes
    groups = [
        ("coco-train", "train", "train2014", s.coco_train),
        ("coco-restval", "restval", "val2014", s.coco_restval),
        ("coco-val", "val", "val2014", s.coco_val),
        ("coco-test", "test", "val2014", s.coco_test),
        ("vqa-val", None, "val2014", s.vqa_val_images),
        ("vqa-test-dev", None, "test2015", s.testdev_images),
    ]
    ids = iter(w.rng("coco-ids").sample(range(1, 600_000), sum(g[3] for g in groups)))
    karpathy: list[dict[str, Any]] = []
    vqa: dict[str, tuple[list[dict], list[dict]]] = {"train": ([], []), "val": ([], []), "test-dev": ([], [])}
    okvqa: tuple[list[dict], list[dict]] = ([], [])
    for group, split, folder, count in groups:
        for index in range(count):
            image_id = next(ids)
            filename = f"COCO_{folder}_{image_id:012d}.jpg"
            scene, rng = w.scene(group, index)
            w.image(f"{sources.COCO_IMAGES}/{folder}/{filename}", group, scene)
            if group == "coco-train":
                w.train_combos |= scene.combos
            if split is not None:
                karpathy.append(
                    {
                        "filepath": folder,
                        "filename": filename,
                        "cocoid": image_id,
                        "split": split,
                        "sentences": language.captions(scene, rng),
                    }
                )
            target = {"coco-train": "train", "vqa-val": "val", "vqa-test-dev": "test-dev"}.get(group)
            if target is None:
                continue
            n = {"train": s.vqa_train_questions, "val": s.vqa_val_questions, "test-dev": s.testdev_questions}[target]
            for k, qa in enumerate(language.vqa_questions(scene, rng, n)):
                qid = image_id * 1000 + k
                vqa[target][0].append({"image_id": image_id, "question": qa.question, "question_id": qid})
                vqa[target][1].append(_vqa_annotation(qa, image_id, qid))
            if group == "vqa-val" and index < s.okvqa_images:
                for k, qa in enumerate(language.okvqa_questions(scene, w.rng("okvqa", index), s.okvqa_questions)):
                    qid = image_id * 10 + k
                    okvqa[0].append({"image_id": image_id, "question": qa.question, "question_id": qid})
                    okvqa[1].append(_vqa_annotation(qa, image_id, qid))
    write_karpathy(w.root / sources.COCO_KARPATHY, karpathy, dataset="coco")
    for target, subtype, questions_file, annotations_file in (
        ("train", "train2014", VQAV2_TRAIN_QUESTIONS, VQAV2_TRAIN_ANNOTATIONS),
        ("val", "val2014", sources.VQAV2_VAL_QUESTIONS, sources.VQAV2_VAL_ANNOTATIONS),
    ):
        write_vqa_questions(w.root / questions_file, vqa[target][0], data_subtype=subtype)
        write_vqa_annotations(w.root / annotations_file, vqa[target][1], data_subtype=subtype)
    write_vqa_questions(w.root / sources.VQAV2_TEST_DEV_QUESTIONS, vqa["test-dev"][0], data_subtype="test-dev2015")
    write_vqa_questions(w.root / sources.OKVQA_QUESTIONS, okvqa[0])
    write_vqa_annotations(w.root / sources.OKVQA_ANNOTATIONS, okvqa[1])
    return {
        "karpathy_images": len(karpathy),
        "vqa_train_questions": len(vqa["train"][0]),
        "vqa_val_questions": len(vqa["val"][0]),
        "vqa_test_dev_questions": len(vqa["test-dev"][0]),
        "okvqa_questions": len(okvqa[0]),
    }


def _write_gqa(w: _Writer) -> dict[str, int]:
    """GQA balanced test-dev (evaluated) and train (for fine-tuning) questions on gqa/images/."""
    s = w.sizes
    sets = [
        ("gqa-test-dev", "testdev", sources.GQA_TEST_DEV_QUESTIONS, s.gqa_testdev_images, s.gqa_testdev_questions),
        ("gqa-train", "train", GQA_TRAIN_QUESTIONS, s.gqa_train_images, s.gqa_train_questions),
    ]
    rng = w.rng("gqa-ids")
    image_ids = iter(rng.sample(range(100_000, 1_000_000), sum(x[3] for x in sets)))
    next_qid = rng.randrange(10_000_000, 20_000_000)
    counts = {}
    for group, prefix, file, n_images, n_questions in sets:
        questions: dict[str, dict[str, Any]] = {}
        for index in range(n_images):
            image_id = f"n{next(image_ids)}"
            scene, scene_rng = w.scene(group, index)
            w.image(f"{sources.GQA_IMAGES}/{image_id}.jpg", group, scene)
            for qa in gqa_questions(scene, scene_rng, n_questions):
                questions[str(next_qid)] = {
                    "question": qa.question,
                    "imageId": image_id,
                    "answer": qa.answer,
                    "fullAnswer": qa.detail,
                    "types": {"detailed": qa.kind, "semantic": "attr", "structural": qa.question_type},
                }
                next_qid += 1
        write_gqa_questions(w.root / file, questions)
        counts[f"gqa_{prefix}_questions"] = len(questions)
    return counts


def _nocaps_scene(w: _Writer, domain: str, index: int) -> tuple[Scene, random.Random]:
    """In-domain: combos of the train split only; near: one of those plus a held-out one; out: held-out only."""
    rng = w.rng("nocaps", domain, index)
    seen = sorted(w.train_combos)
    if domain == "in-domain":
        return w.new_scene(lambda: sample_scene(rng, seen)), rng
    if domain == "out-domain":
        return w.new_scene(lambda: sample_scene(rng, w.held_out)), rng

    def near() -> Scene:
        required = [rng.choice(w.held_out), rng.choice(seen)]
        return sample_scene(rng, all_combos(), n_objects=rng.choice((2, 3)), required=required)

    return w.new_scene(near), rng


def _write_nocaps(w: _Writer) -> dict[str, int]:
    domains = [d for d in ("in-domain", "near-domain", "out-domain") for _ in range(w.sizes.nocaps_per_domain)]
    w.rng("nocaps-order").shuffle(domains)
    seen_per_domain = {d: 0 for d in set(domains)}
    images, captions = [], {}
    for image_id, domain in enumerate(domains):
        scene, rng = _nocaps_scene(w, domain, seen_per_domain[domain])
        seen_per_domain[domain] += 1
        file_name = f"{rng.getrandbits(64):016x}.jpg"
        w.image(f"{sources.NOCAPS_IMAGES}/{file_name}", f"nocaps-{domain}", scene)
        images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "domain": domain,
                "height": IMAGE_SIZE,
                "width": IMAGE_SIZE,
                "coco_url": f"https://s3.amazonaws.com/nocaps/val/{file_name}",
            }
        )
        captions[image_id] = language.captions(scene, rng)
    write_nocaps(w.root / sources.NOCAPS_VAL_CAPTIONS, images, captions)
    return {"nocaps_images": len(images)}


def _write_flickr(w: _Writer) -> dict[str, int]:
    s = w.sizes
    names = iter(w.rng("flickr-ids").sample(range(1_000_000_000, 9_999_999_999), s.flickr_test + s.flickr_val))
    records = []
    for split, count in (("test", s.flickr_test), ("val", s.flickr_val)):
        for index in range(count):
            filename = f"{next(names)}.jpg"
            scene, rng = w.scene(f"flickr-{split}", index)
            w.image(f"{sources.FLICKR_IMAGES}/{filename}", f"flickr-{split}", scene)
            records.append({"filename": filename, "split": split, "sentences": language.captions(scene, rng)})
    write_karpathy(w.root / sources.FLICKR_KARPATHY, records, dataset="flickr30k")
    return {"flickr_images": len(records)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generate(root: str | os.PathLike[str], *, seed: int = 0, size: str = "default") -> dict[str, Any]:
    """Write the toy data root into ``root`` (created; must be empty) and return its manifest.

    Not atomic by itself; :func:`build` wraps it with a temp folder and a rename.
    """
    sizes = sizes_for(size)
    target = Path(root)
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise ToyError(f"{target} is not empty; the toy generator writes into an empty folder")
    w = _Writer(target, seed, sizes)
    counts: dict[str, int] = {}
    for part in (_write_coco, _write_gqa, _write_nocaps, _write_flickr):
        counts.update(part(w))
    counts["images"] = len(w.scenes)
    atomic_write_json(target / SCENES, w.scenes, indent=None)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*.json"))
    manifest = {
        "generator": GENERATOR,
        "version": GENERATOR_VERSION,
        "seed": seed,
        "size": size,
        "sizes": asdict(sizes),
        "image_size": IMAGE_SIZE,
        "shapes": list(SHAPES),
        "colours": list(COLOURS),
        "held_out_combos": [list(c) for c in w.held_out],
        "nocaps_domains": {
            "in-domain": "only shape x colour combos present in the Karpathy train split",
            "near-domain": "at least one train-split combo and at least one held-out combo",
            "out-domain": "only held-out combos",
        },
        "held_out_from": list(TRAINING_SETS)
        + [
            "coco-val",
            "coco-test",
            "vqa-val",
            "vqa-test-dev",
            "gqa-test-dev",
            "flickr-test",
            "flickr-val",
            "nocaps-in-domain",
        ],
        "tasks": TASK_SPLITS,
        "training_files": TRAINING_FILES,
        "counts": counts,
        "sha256": {name: _sha256(target / name) for name in files},
    }
    atomic_write_json(target / MANIFEST, manifest)
    return manifest
