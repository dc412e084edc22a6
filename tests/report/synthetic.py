"""Small run folders for the report's tests, in the layout ``bench run`` writes, over a small toy data root.

VQA and retrieval runs are scored by the tasks' own scorers (no model: the predictions and score matrices are
made up here); caption records are built here (the real scorer needs a JVM and takes seconds), with the fields
``tasks.stats.caption`` reads back. One question, one VQA answer and one caption hold :data:`XSS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import tasks
from tasks.stats.caption import CaptionStatistic
from tasks.stats.intervals import interval_blocks
from toyworld.data import generate

XSS = "<img src=x onerror=alert(1)>"
RESAMPLES = 200
BIG = 2345  # rows of the big run: three chunks


@dataclass(frozen=True)
class World:
    root: Path  # the data root
    runs: Path  # the runs directory

    def folder(self, run: str, task: str, split: str) -> Path:
        return self.runs / run / f"{task}-{split}"


def _write_run(folder: Path, task: str, split: str, run: str, root: Path, result: dict[str, Any],
               records: list[dict[str, Any]], prompt: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "task": task, "split": split, "model": run, "scorer": result.get("scorer", "synthetic"), "n": len(records),
        "partial": False, "coverage": {"evaluated": len(records), "split_size": len(records),
                                       "official_size": len(records), "against": "toy root", "unit": "samples",
                                       "reason": None},
        "metrics": result["metrics"], "ci95": result.get("ci95"), "ci": result.get("ci"),
        "settings": {"prompt": prompt, "num_beams": 5, "limit": None},
        "provenance": {"checkpoint": {"source": f"/checkpoints/{run}", "files": [
            {"path": f"/checkpoints/{run}/model.safetensors", "sha256": "ab" * 32}]},
            "zoo": None, "versions": {"blip2-bench": "0.1.0", "torch": "2.x"}, "device": "cpu",
            "precision": {"vision": "fp32", "llm": "fp32"}, "git_commit": "0" * 40, "data_root": str(root)},
        "timing": {"wall_s": 1.5, "samples_per_s": len(records) / 1.5, "processes": 1},
    }
    (folder / "metrics.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder


def _plant_question(root: Path) -> None:
    """The first VQAv2 val question becomes :data:`XSS` (in the official file, as a data set could hold it)."""
    path = root / "vqav2" / "v2_OpenEnded_mscoco_val2014_questions.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["questions"][0]["question"] = XSS
    path.write_text(json.dumps(data), encoding="utf-8")


def vqa_run(world: World, run: str, seed: int, xss: bool) -> Path:
    task = tasks.get("vqav2")
    loaded = task.load(world.root, "val")
    rng = np.random.default_rng(seed)
    predictions = {}
    for i, sample in enumerate(loaded.samples):
        answers = [a["answer"] for a in loaded.references[sample.sample_id]["answers"]]
        predictions[sample.sample_id] = answers[0] if rng.random() < 0.5 else "purple"
        if xss and i == 1:
            predictions[sample.sample_id] = XSS
    result, records = task.score_with_samples(predictions, loaded, resamples=RESAMPLES)
    return _write_run(world.folder(run, "vqav2", "val"), "vqav2", "val", run, world.root, result, records,
                      "Question: {} Answer:")


def caption_run(world: World, run: str, seed: int, xss: bool) -> Path:
    task = tasks.get("coco_caption")
    loaded = task.load(world.root, "karpathy-test")
    rng = np.random.default_rng(seed)
    records = []
    for i, sample in enumerate(loaded.samples):
        references = list(loaded.references[sample.sample_id])
        prediction = XSS if xss and i == 0 else references[int(rng.integers(len(references)))].lower()
        words = prediction.split()
        records.append({
            "id": sample.sample_id, "image": str(sample.image_id), "prediction": prediction, "references": references,
            "tokens": {"prediction": " ".join(words), "references": [r.lower() for r in references]},
            "CIDEr": float(rng.choice([0.0, 12.5, 40.0, 80.0, 150.0])), "ROUGE-L": float(rng.uniform(20, 90)),
            "BLEU": {"testlen": len(words), "reflen": len(words), "guess": [max(len(words) - k, 0) for k in range(4)],
                     "correct": [max(len(words) - k - 1, 0) for k in range(4)]},
        })
    statistic = CaptionStatistic.from_records(records)
    metrics = {".".join(path): value for path, value in statistic.point().items()}
    ci95, ci = interval_blocks(statistic, metrics, {}, RESAMPLES)
    result = {"scorer": "pycocoevalcap", "metrics": metrics, "ci95": ci95, "ci": ci}
    return _write_run(world.folder(run, "coco_caption", "karpathy-test"), "coco_caption", "karpathy-test", run,
                      world.root, result, records, "a photo of")


def retrieval_run(world: World, run: str, seed: int) -> Path:
    task = tasks.get("flickr30k")
    loaded = task.load(world.root, "test")
    rng = np.random.default_rng(seed)
    i2t = rng.normal(size=(len(loaded.image_paths), len(loaded.texts))).astype(np.float32)
    for image, texts in enumerate(loaded.img2txt):
        i2t[image, list(texts)] += 1.5  # a model better than chance, so some queries are right and some wrong
    t2i = np.ascontiguousarray(i2t.T) + rng.normal(scale=0.5, size=(len(loaded.texts), len(loaded.image_paths)))
    t2i = t2i.astype(np.float32)
    result, records = task.score_with_samples({"i2t": i2t, "t2i": t2i}, loaded, resamples=RESAMPLES)
    folder = _write_run(world.folder(run, "flickr30k", "test"), "flickr30k", "test", run, world.root, result,
                        records, None)
    np.savez(folder / "scores.npz", i2t=i2t, t2i=t2i, itc=i2t)
    return folder


def big_vqa_run(world: World, run: str, n: int, seed: int) -> Path:
    """``n`` made-up VQAv2 records (more than one chunk of rows), whose recorded data root does not exist: the
    browser shows them without questions or images."""
    rng = np.random.default_rng(seed)
    types = ("yes/no", "number", "other")
    records = []
    for i in range(n):
        accuracy = float(rng.choice([0.0, 0.0, 30.0, 60.0, 100.0]))
        records.append({"id": 7_000_000 + i, "image": 7000 + i // 3, "prediction": f"answer {i}",
                        "accuracy": accuracy, "answer_type": types[i % 3], "question_type": "what is",
                        "answers": [f"answer {i}"] * 3 + ["other"] * 7})
    statistic = tasks.get("vqav2").scorer.statistic(records)
    metrics: dict[str, Any] = {}
    for path, value in statistic.point().items():
        node = metrics
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return _write_run(world.folder(run, "vqav2", "val"), "vqav2", "val", run, world.root.parent / "gone",
                      {"metrics": metrics}, records, "Question: {} Answer:")


def make_world(base: Path) -> World:
    """A toy data root (small) and seven runs: VQAv2 by three models (one named :data:`XSS`, one of 2,345 made-up
    questions), COCO captioning by two, Flickr30k by one."""
    world = World(base / "data", base / "runs")
    generate(world.root, seed=0, size="small")
    _plant_question(world.root)
    vqa_run(world, "model-a", 1, xss=True)
    vqa_run(world, "model-b", 2, xss=False)
    caption_run(world, "model-a", 3, xss=True)
    caption_run(world, "model-b", 4, xss=False)
    retrieval_run(world, "model-a", 5)
    big_vqa_run(world, "model-big", BIG, 6)
    named = world.folder("model-x", "gqa", "test-dev")
    gqa_run(world, "model-x", 7)
    metrics = json.loads((named / "metrics.json").read_text(encoding="utf-8"))
    metrics["model"] = XSS  # a run name is text from a user too
    (named / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return world


def gqa_run(world: World, run: str, seed: int) -> Path:
    task = tasks.get("gqa")
    loaded = task.load(world.root, "test-dev")
    rng = np.random.default_rng(seed)
    predictions = {s.sample_id: loaded.references[s.sample_id] if rng.random() < 0.5 else "purple"
                   for s in loaded.samples}
    result, records = task.score_with_samples(predictions, loaded, resamples=RESAMPLES)
    return _write_run(world.folder(run, "gqa", "test-dev"), "gqa", "test-dev", run, world.root, result, records,
                      "Question: {} Answer:")


def read_records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
