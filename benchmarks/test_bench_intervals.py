"""(i) Bootstrap intervals of the caption metrics at COCO Karpathy-test size, next to plain scoring.

Issue #18's budget: 1000 resamples of BLEU-1..4, CIDEr-D (document frequencies recomputed per resample) and
ROUGE-L must add at most about what scoring the run costs. Both are timed on the same synthetic tokenized
captions (5,000 images x 5 references, ~10 words, a 3,000-word Zipf vocabulary) in the same run: plain
pycocoevalcap BLEU + CIDEr + ROUGE-L scoring, and building :class:`CaptionStatistic` from the per-image numbers
that scoring gives (as the runner does from samples.jsonl) plus the 1000-resample intervals.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge

from benchmarks.conftest import record_cost
from benchmarks.synthetic import caption_corpus
from tasks.scoring.caption import bleu_image_stats
from tasks.stats.caption import CaptionStatistic
from tasks.stats.resample import DEFAULT_RESAMPLES, intervals

NAME = "(i) caption intervals, 5,000 images x 5 refs, 1000 resamples"
IMAGES = 5000


@pytest.fixture(scope="module")
def coco_size():
    candidates, references = caption_corpus(IMAGES)
    gts = {i: references[i] for i in range(IMAGES)}
    res = {i: [candidates[i]] for i in range(IMAGES)}
    start = time.perf_counter()
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, _ = Cider().compute_score(gts, res)
    rouge, rouge_each = Rouge().compute_score(gts, res)
    plain = time.perf_counter() - start
    stats = bleu_image_stats(gts, res)  # the scorer's by-product in the runner (same BleuScorer cooking)
    per_image = {"keys": [str(i) for i in range(IMAGES)], "candidates": candidates, "references": references,
                 "rouge": [100 * float(r) for r in rouge_each], "bleu": [stats[i] for i in range(IMAGES)]}
    scores = {"BLEU-4": 100 * bleu[3], "CIDEr": 100 * float(cider), "ROUGE-L": 100 * float(rouge)}
    return per_image, scores, plain


def test_caption_intervals_coco_size(benchmark, coco_size):
    per_image, scores, plain = coco_size

    def run():
        statistic = CaptionStatistic(per_image["keys"], per_image["candidates"], per_image["references"],
                                     per_image["rouge"], bleu=per_image["bleu"])
        return statistic, intervals(statistic, DEFAULT_RESAMPLES, seed=0)

    statistic, found = benchmark.pedantic(run, rounds=2, iterations=1)
    if benchmark.stats is not None:
        record_cost(NAME, benchmark.stats.stats.mean, plain, "plain BLEU + CIDEr + ROUGE-L scoring")
    point = statistic.point()
    for metric, value in scores.items():
        assert point[(metric,)] == pytest.approx(value, rel=1e-9)
        low, high = found[(metric,)]
        assert low <= value <= high and np.isfinite(low) and high - low < 0.1 * value
