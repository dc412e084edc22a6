"""Splits where several questions share an image, and a fine-tuned-VQA-style model (question in the Q-Former)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

import blip2
from blip2.models.build import build_model
from blip2.testing import bert_tokenizer, randomize_
from tasks.splits import GenerationSplit, RetrievalSplit, Sample
from tests.conftest import random_images

# image of each sample, interleaved on purpose: a result must find its way back to its own slot
SHARED_IMAGES = [0, 1, 0, 2, 1, 0, 3, 2, 0, 1]
QUESTIONS = ["what color is it?", "how many?", "is there a dog on the left of the big white square?",
             "what shape?", "is it red?", "what is this?", "how many circles are there in the picture?",
             "which one?", "is the cat on the right?", "what?"]


def write_images(folder: Path, n: int, seed: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(random_images(n, seed=seed, size=(40, 52))):
        paths.append(folder / f"{i}.png")
        image.save(paths[-1])
    return paths


@pytest.fixture(scope="session")
def vqa_split(tmp_path_factory) -> GenerationSplit:
    """10 questions on 4 images, the images interleaved in split order."""
    root = tmp_path_factory.mktemp("perf-vqa")
    paths = write_images(root / "images", 4, seed=11)
    samples = tuple(Sample(sample_id=100 + n, image_id=img, image_path=paths[img], question=q)
                    for n, (img, q) in enumerate(zip(SHARED_IMAGES, QUESTIONS, strict=True)))
    return GenerationSplit(task="vqav2", split="val", kind="vqa", data_root=root, files=(), samples=samples,
                           references={}, has_answers=False, total=len(samples))


@pytest.fixture(scope="session")
def caption_split(vqa_split) -> GenerationSplit:
    """One caption per image (captioning: nothing to share, batching and order only)."""
    firsts = {}
    for s in vqa_split.samples:
        firsts.setdefault(s.image_id, s)
    samples = tuple(dataclasses.replace(s, sample_id=s.image_id, question=None) for s in firsts.values())
    return dataclasses.replace(vqa_split, task="coco_caption", kind="caption", samples=samples, total=len(samples))


@pytest.fixture(scope="session")
def retrieval_split(tmp_path_factory) -> RetrievalSplit:
    """6 images x 12 texts (2 per image) of different lengths."""
    root = tmp_path_factory.mktemp("perf-retrieval")
    paths = write_images(root / "images", 6, seed=12)
    words = "a dog cat man woman red green blue circle square on the left of big small picture".split()
    texts = tuple(" ".join(words[(3 * t + j) % len(words)] for j in range(2 + (5 * t) % 11)) for t in range(12))
    return RetrievalSplit(task="flickr30k", split="test", data_root=root, files=(), image_paths=tuple(paths),
                          image_ids=tuple(range(6)), texts=texts,
                          img2txt=tuple((2 * i, 2 * i + 1) for i in range(6)), txt2img=tuple(t // 2 for t in range(12)),
                          total=6)


@pytest.fixture(scope="session")
def finetuned_vqa_model(tiny_dir):
    """The tiny OPT model rebuilt with a text branch and `qformer_text_input` (paper Fig. 7), random weights."""
    base = blip2.load_model(tiny_dir("opt", "base"))
    qtok = bert_tokenizer()
    cfg = dataclasses.replace(base.cfg, qformer_text_input=True,
                              qformer=dataclasses.replace(base.cfg.qformer, with_text=True, vocab_size=len(qtok)))
    torch.manual_seed(3)
    model = randomize_(build_model(cfg), seed=3).eval()
    model.tokenizer, model.qformer_tokenizer = base.tokenizer, qtok
    return model
