"""Benchmark fixtures: one mid-size random BLIP-2 (same weights for both paths), images on disk, a ratio table.

Run with `tox -e bench`, or `pytest -o addopts="" benchmarks --benchmark-only` (the project's addopts skip
benchmarks in the normal test run). Each benchmark times our runner and a plain transformers path on the
same inputs in the same run; the table of ratios is printed at the end of the session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from benchmarks import synthetic
from benchmarks.synthetic import write_images
from blip2.testing import TinyShape, save_tiny_generation_model, save_tiny_retrieval_model
from tasks.splits import GenerationSplit

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))

# ViT 256 x 4 at 224 px, Q-Former 256 x 4, LLM 256 x 4, 32 queries
MID = TinyShape(image_size=224, patch_size=14, vision_width=256, vision_layers=4, vision_heads=4, vision_mlp=1024,
                qformer_hidden=256, qformer_layers=4, qformer_heads=4, qformer_ffn=1024, cross_every=2,
                num_queries=32, llm_hidden=256, llm_layers=4, llm_heads=4, llm_ffn=1024, embed_dim=128)
RESULTS: dict[str, dict[str, float]] = {}  # benchmark -> {"ours": s, "transformers": s}
MEMORY: dict[str, float] = {}  # label -> peak extra MiB
COSTS: dict[str, tuple[float, float, str]] = {}  # benchmark -> (added s, baseline s, what the baseline is)
NOTES: list[str] = []  # measurements that are not a ratio (the report's page times), printed as they are


def record(bench: str, path: str, benchmark) -> None:
    """Keep a timing for the ratio table (mean over the rounds pytest-benchmark ran; none with --benchmark-disable,
    which runs each benchmark once, untimed, for its assertions)."""
    if benchmark.stats is not None:
        RESULTS.setdefault(bench, {})[path] = benchmark.stats.stats.mean


def record_cost(bench: str, added: float, baseline: float, baseline_label: str) -> None:
    """Keep, for the summary, what a feature adds (seconds) next to the work it accompanies, timed in one run."""
    COSTS[bench] = (added, baseline, baseline_label)


def pytest_terminal_summary(terminalreporter) -> None:
    write = terminalreporter.write_line
    for note in NOTES:
        write(note)
    for name, (added, baseline, label) in COSTS.items():
        write("")
        write(f"{name}: adds {added:.2f} s to {baseline:.2f} s of {label} ({added / baseline:.2f}x)")
    if not RESULTS:
        return
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
    return write_images(tmp_path_factory.mktemp("images"), 100)


@pytest.fixture(scope="session")
def vqa_split(images) -> GenerationSplit:
    """50 images x 5 questions, listed question-major (an image's questions are spread through the split)."""
    return synthetic.vqa_split(images[:50], 5)


@pytest.fixture(scope="session")
def caption_split(images) -> GenerationSplit:
    return synthetic.caption_split(images[:48])


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
