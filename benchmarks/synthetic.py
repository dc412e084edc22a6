"""Synthetic benchmark inputs: JPEGs of a typical size and random sentences over a fixed word list.

Plain functions (no pytest), so both the pytest benchmarks and the one-call GPU script
(`benchmarks/gpu_full_scale.py`) build their splits from the same code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tasks.splits import GenerationSplit, RetrievalSplit, Sample

WORDS = ("a photo of the red green blue yellow white black circle square triangle star cross left right top "
         "bottom small big dog cat man woman picture image shows on in of and with").split()
QUESTION_STARTS = ["what color is", "how many", "is there a", "what shape is", "where is the"]


def write_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """`n` JPEGs of 480 x 360 (a typical photo's aspect), so decoding and resizing cost what they cost."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        base = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((480, 360), Image.BILINEAR)
        paths.append(folder / f"{i:03d}.jpg")
        image.save(paths[-1], quality=90)
    return paths


def sentence(rng: np.random.Generator, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(low, high + 1))))


def vqa_split(images: list[Path], questions_per_image: int = 5) -> GenerationSplit:
    """Every image asked `questions_per_image` questions, listed question-major (an image's questions are
    spread through the split, as in VQAv2's question files)."""
    rng = np.random.default_rng(1)
    n = len(images)
    samples = tuple(Sample(sample_id=q * n + i, image_id=i, image_path=images[i],
                           question=f"{QUESTION_STARTS[q % len(QUESTION_STARTS)]} {sentence(rng, 1, 6)}?")
                    for q in range(questions_per_image) for i in range(n))
    return GenerationSplit(task="vqav2", split="val", kind="vqa", data_root=images[0].parent, files=(),
                           samples=samples, references={}, has_answers=False, total=len(samples))


def caption_split(images: list[Path]) -> GenerationSplit:
    """One caption to write per image."""
    samples = tuple(Sample(sample_id=i, image_id=i, image_path=path) for i, path in enumerate(images))
    return GenerationSplit(task="coco_caption", split="karpathy-test", kind="caption",
                           data_root=images[0].parent, files=(), samples=samples, references={},
                           has_answers=False, total=len(samples))


def retrieval_split(images: list[Path], n_texts: int) -> RetrievalSplit:
    """All `images`, `n_texts` captions of 6-14 words spread evenly over them."""
    rng = np.random.default_rng(2)
    txt2img = tuple(t % len(images) for t in range(n_texts))
    img2txt = tuple(tuple(t for t in range(n_texts) if txt2img[t] == i) for i in range(len(images)))
    return RetrievalSplit(task="coco_retrieval", split="test", data_root=images[0].parent, files=(),
                          image_paths=tuple(images), image_ids=tuple(range(len(images))),
                          texts=tuple(sentence(rng, 6, 14) for _ in range(n_texts)), img2txt=img2txt,
                          txt2img=txt2img, total=len(images))


FUNCTION_WORDS = ("a", "the", "on", "of", "with", "in", "and", "is", "an", "at", "next", "to", "two", "some")


def caption_corpus(n_images: int, n_references: int = 5, vocabulary: int = 3000, seed: int = 0
                   ) -> tuple[list[str], list[list[str]]]:
    """Tokenized captions shaped like COCO's: per image a candidate and `n_references` references of ~10 words.

    Each image has a base sentence (content words drawn Zipf-like from a `vocabulary`-word list, mixed with
    common function words); each of its captions rewrites about a third of the base's words and may drop its
    tail, so an image's captions share n-grams up to 4-grams (as real ones do: BLEU-4 in the tens) and
    frequent words recur across images (document frequencies span the whole range).
    """
    rng = np.random.default_rng(seed)
    words = np.asarray([f"w{i}" for i in range(vocabulary)])
    zipf = 1 / np.arange(1, vocabulary + 1)
    zipf /= zipf.sum()
    function = np.asarray(FUNCTION_WORDS)

    def draw(size: int) -> np.ndarray:
        return np.where(rng.random(size) < 0.5, rng.choice(words, size=size, p=zipf), rng.choice(function, size=size))

    def rewrite(base: np.ndarray) -> str:
        caption = np.where(rng.random(len(base)) < 0.3, draw(len(base)), base)
        return " ".join(caption[:len(base) - int(rng.integers(0, 4))])

    candidates, references = [], []
    for _ in range(n_images):
        base = draw(int(rng.integers(10, 15)))
        candidates.append(rewrite(base))
        references.append([rewrite(base) for _ in range(n_references)])
    return candidates, references
