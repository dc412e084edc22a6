"""Benchmark fixtures: one mid-size random BLIP-2 (same weights for both paths), images on disk, a ratio table.

Run with `tox -e bench`, or `pytest -o addopts="" benchmarks --benchmark-only` (the project's addopts skip
benchmarks in the normal test run). Each benchmark times our runner and a plain transformers path on the
same inputs in the same run; the table of ratios is printed at the end of the session.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from blip2.testing import TinyShape, save_tiny_generation_model, save_tiny_retrieval_model
from tasks.splits import GenerationSplit, RetrievalSplit, Sample

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))

# ViT 256 x 4 at 224 px, Q-Former 256 x 4, LLM 256 x 4, 32 queries
MID = TinyShape(image_size=224, patch_size=14, vision_width=256, vision_layers=4, vision_heads=4, vision_mlp=1024,
                qformer_hidden=256, qformer_layers=4, qformer_heads=4, qformer_ffn=1024, cross_every=2,
                num_queries=32, llm_hidden=256, llm_layers=4, llm_heads=4, llm_ffn=1024, embed_dim=128)
WORDS = ("a photo of the red green blue yellow white black circle square triangle star cross left right top "
         "bottom small big dog cat man woman picture image shows on in of and with").split()
QUESTION_STARTS = ["what color is", "how many", "is there a", "what shape is", "where is the"]

RESULTS: dict[str, dict[str, float]] = {}  # benchmark -> {"ours": s, "transformers": s}
MEMORY: dict[str, float] = {}  # label -> peak extra MiB


def record(bench: str, path: str, benchmark) -> None:
    """Keep a timing for the ratio table (mean over the rounds pytest-benchmark ran; none with --benchmark-disable,
    which runs each benchmark once, untimed, for its assertions)."""
    if benchmark.stats is not None:
        RESULTS.setdefault(bench, {})[path] = benchmark.stats.stats.mean


def pytest_terminal_summary(terminalreporter) -> None:
    if not RESULTS:
        return
    write = terminalreporter.write_line
    write("")
    write("| benchmark | ours (s) | transformers (s) | ours / transformers speed-up |")
    write("|---|---|---|---|")
    for name, times in RESULTS.items():
        ours, ref = times.get("ours"), times.get("transformers")
        ratio = f"{ref / ours:.2f}x" if ours and ref else "-"
        write(f"| {name} | {ours or float('nan'):.2f} | {ref or float('nan'):.2f} | {ratio} |")
    for label, mib in MEMORY.items():
        write(f"peak extra memory, {label}: {mib:.0f} MiB")


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mid-models")
    return {"opt": save_tiny_generation_model(root / "opt", "opt", MID, seed=0),
            "itm": save_tiny_retrieval_model(root / "itm", MID, seed=0)}


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> list[Path]:
    """100 JPEGs of a typical aspect ratio, so decoding and resizing cost what they cost."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(100):
        base = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((480, 360), Image.BILINEAR)
        paths.append(folder / f"{i:03d}.jpg")
        image.save(paths[-1], quality=90)
    return paths


def sentence(rng: np.random.Generator, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(low, high + 1))))


@pytest.fixture(scope="session")
def vqa_split(images) -> GenerationSplit:
    """50 images x 5 questions, listed question-major (an image's questions are spread through the split)."""
    rng = np.random.default_rng(1)
    samples = tuple(Sample(sample_id=q * 50 + i, image_id=i, image_path=images[i],
                           question=f"{QUESTION_STARTS[q]} {sentence(rng, 1, 6)}?")
                    for q in range(5) for i in range(50))
    return GenerationSplit(task="vqav2", split="val", kind="vqa", data_root=images[0].parent, files=(),
                           samples=samples, references={}, has_answers=False, total=len(samples))


@pytest.fixture(scope="session")
def caption_split(images) -> GenerationSplit:
    samples = tuple(Sample(sample_id=i, image_id=i, image_path=images[i]) for i in range(48))
    return GenerationSplit(task="coco_caption", split="karpathy-test", kind="caption",
                           data_root=images[0].parent, files=(), samples=samples, references={},
                           has_answers=False, total=len(samples))


def retrieval_split(images: list[Path], n_texts: int) -> RetrievalSplit:
    """100 images, `n_texts` captions of 6-14 words spread evenly over them."""
    rng = np.random.default_rng(2)
    txt2img = tuple(t % len(images) for t in range(n_texts))
    img2txt = tuple(tuple(t for t in range(n_texts) if txt2img[t] == i) for i in range(len(images)))
    return RetrievalSplit(task="coco_retrieval", split="test", data_root=images[0].parent, files=(),
                          image_paths=tuple(images), image_ids=tuple(range(len(images))),
                          texts=tuple(sentence(rng, 6, 14) for _ in range(n_texts)), img2txt=img2txt,
                          txt2img=txt2img, total=len(images))


class PeakMemory:
    """Peak resident memory above the level at entry, sampled every 5 ms from /proc (Linux)."""

    def __enter__(self) -> PeakMemory:
        import threading

        self.base = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def extra_mib(self) -> float:
        return (self.peak - self.base) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
