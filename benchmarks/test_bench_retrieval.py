"""(b) Retrieval re-ranking over 100 images x 500 texts, k=16: our runner vs LAVIS's loop on transformers.

Also reports our peak extra memory at 500 and 2000 texts (it should stay flat: the texts add only token ids,
features and score matrices, kilobytes here).
"""

from __future__ import annotations

import numpy as np
import pytest
import transformers

import blip2
import tasks
from bench.runner.retrieve import retrieval_scores
from benchmarks.conftest import MEMORY, PeakMemory, record
from benchmarks.hf_paths import HfRetrieval
from benchmarks.synthetic import retrieval_split

NAME = "(b) retrieval re-ranking, 100 images x 500 texts, k=16"
K = 16
BATCH = 32
WORKERS = 1


@pytest.fixture(scope="module")
def setup(models, images):
    task = tasks.get("coco_retrieval")
    settings = task.settings().with_overrides({"k_test": K, "image_size": 224})
    ours = blip2.load_model(models["itm"])
    ref = transformers.Blip2ForImageTextRetrieval.from_pretrained(models["itm"]).eval()
    hf = HfRetrieval(ref, transformers.AutoTokenizer.from_pretrained(models["itm"]),
                     transformers.BlipImageProcessor.from_pretrained(models["itm"]))
    return task, settings, ours, hf, {}


def _ours(setup, split):
    task, settings, ours, _, _ = setup
    return retrieval_scores(ours, task, split, settings, blip2.image_transform(ours), BATCH, WORKERS)


def test_retrieval_ours(benchmark, setup, images):
    split = retrieval_split(images, 500)
    memory = PeakMemory()

    def run():
        with memory:
            return _ours(setup, split)

    scores = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    record(NAME, "ours", benchmark)
    MEMORY["retrieval (ours), 100 images x 500 texts"] = memory.extra_mib
    setup[4]["ours"] = scores


def test_retrieval_transformers(benchmark, setup, images):
    task, settings, _, hf, results = setup
    split = retrieval_split(images, 500)
    texts = task.texts_for_model(split, settings)
    scores = benchmark.pedantic(lambda: hf.scores(split, texts, K, BATCH, settings.max_text_tokens), rounds=1,
                                iterations=1, warmup_rounds=0)
    record(NAME, "transformers", benchmark)
    if "ours" in results:  # same weights and inputs; HF's image resize differs by <= 1 level on a few pixels
        np.testing.assert_allclose(results["ours"]["itc"], scores["itc"], atol=1e-3)
        assert np.mean((results["ours"]["i2t"] == -100) != (scores["i2t"] == -100)) < 1e-3  # near-ties only


def test_retrieval_memory_2000_texts(benchmark, setup, images):
    split = retrieval_split(images, 2000)
    memory = PeakMemory()

    def run():
        with memory:
            return _ours(setup, split)

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    MEMORY["retrieval (ours), 100 images x 2000 texts"] = memory.extra_mib
