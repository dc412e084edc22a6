"""(b) Retrieval re-ranking over 100 images x 500 texts, k=16: our runner vs LAVIS's loop on transformers.

Both give the same scores (`test_retrieval_scores_equal_transformers`). Also reports our peak extra memory at
500 and 2000 texts (it should stay flat: the texts add only token ids, features and score matrices, kilobytes
here).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import transformers

import blip2
import tasks
from bench.runner.retrieve import retrieval_scores
from benchmarks.conftest import MEMORY, PeakMemory, record
from benchmarks.hf_paths import HfRetrieval
from benchmarks.synthetic import retrieval_split
from tasks.scoring.retrieval import NON_CANDIDATE_SCORE

NAME = "(b) retrieval re-ranking, 100 images x 500 texts, k=16"
K = 16
BATCH = 32
WORKERS = 1
TEXTS = 500
SCORE_ATOL = 1e-4  # the two paths run the same float32 operations, grouped differently


class OurPixels:
    """Our image transform behind the image-processor call `HfRetrieval` makes: both paths see the same pixels.

    transformers' BlipImageProcessor resizes the same JPEGs to pixels that differ by one level here and there,
    which moves ITM logits by up to about 1e-2 on the benchmark's random model; the timed transformers path
    keeps its own processor.
    """

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, images, return_tensors: str = "pt") -> SimpleNamespace:
        return SimpleNamespace(pixel_values=self.transform.batch(images))


@pytest.fixture(scope="module")
def setup(models, images):
    task = tasks.get("coco_retrieval")
    settings = task.settings().with_overrides({"k_test": K, "image_size": 224})
    ours = blip2.load_model(models["itm"])
    ref = transformers.Blip2ForImageTextRetrieval.from_pretrained(models["itm"]).eval()
    hf = HfRetrieval(ref, transformers.AutoTokenizer.from_pretrained(models["itm"]),
                     transformers.BlipImageProcessor.from_pretrained(models["itm"]))
    return task, settings, ours, hf, {}  # the last: our scores at TEXTS texts, for the comparison


def _ours(setup, split):
    task, settings, ours, _, _ = setup
    return retrieval_scores(ours, task, split, settings, blip2.image_transform(ours), BATCH, WORKERS)


def test_retrieval_ours(benchmark, setup, images):
    split = retrieval_split(images, TEXTS)
    memory = PeakMemory()

    def run():
        with memory:
            return _ours(setup, split)

    scores = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    record(NAME, "ours", benchmark)
    MEMORY["retrieval (ours), 100 images x 500 texts"] = memory.extra_mib
    setup[4]["ours"] = scores


def test_retrieval_transformers(benchmark, setup, images):
    split = retrieval_split(images, TEXTS)
    task, settings, ours, hf, results = setup
    texts = task.texts_for_model(split, settings)
    scores = benchmark.pedantic(lambda: hf.scores(split, texts, K, BATCH, settings.max_text_tokens), rounds=1,
                                iterations=1, warmup_rounds=0)
    record(NAME, "transformers", benchmark)
    # its own image processor: near our ITC (the exact comparison, on our pixels, is the next test)
    np.testing.assert_allclose(scores["itc"], results.get("ours", scores)["itc"], atol=1e-3, rtol=0)


def test_retrieval_scores_equal_transformers(setup, images):
    """Same weights, pixels and texts: the same ITC similarities, candidates and re-ranked scores as LAVIS's loop."""
    task, settings, ours_model, hf, results = setup
    split = retrieval_split(images, TEXTS)
    ours = results.get("ours") or _ours(setup, split)  # computed here when the timing test did not run
    same_pixels = HfRetrieval(hf.model, hf.tokenizer, OurPixels(blip2.image_transform(ours_model)))
    theirs = same_pixels.scores(split, task.texts_for_model(split, settings), K, BATCH, settings.max_text_tokens)
    np.testing.assert_allclose(ours["itc"], theirs["itc"], atol=SCORE_ATOL, rtol=0)
    assert ours["itc"].std() > 100 * SCORE_ATOL  # the similarities spread far wider than the tolerance
    for name in ("i2t", "t2i"):
        assert ours[name].shape == theirs[name].shape
        candidates, theirs_too = ours[name] != NON_CANDIDATE_SCORE, theirs[name] != NON_CANDIDATE_SCORE
        assert (candidates.sum(1) == K).all()  # each image (text) has its own k candidates
        # a pair may be a candidate in one path only where its ITC similarity ties the k-th (within the
        # tolerance): which of the tied pairs makes the cut is not specified (LAVIS's torch.topk)
        itc = ours["itc"] if name == "i2t" else ours["itc"].T
        kth = np.sort(itc, axis=1)[:, -K][:, None]
        differ = candidates != theirs_too
        assert differ.mean() < 1e-3 and (np.abs(itc - kth)[differ] <= SCORE_ATOL).all(), name
        both = candidates & theirs_too
        np.testing.assert_allclose(ours[name][both], theirs[name][both], atol=SCORE_ATOL, rtol=0, err_msg=name)


def test_retrieval_memory_2000_texts(benchmark, setup, images):
    """Reports the peak only: resident memory depends on what the process allocated before."""
    split = retrieval_split(images, 2000)
    memory = PeakMemory()

    def run():
        with memory:
            return _ours(setup, split)

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    MEMORY["retrieval (ours), 100 images x 2000 texts"] = memory.extra_mib
