"""What the 1000-resample intervals add to scoring, at the size of the paper's largest splits.

Budgets: captions at COCO Karpathy-test size add at most what scoring costs; VQAv2 val and 5K x 25K retrieval
add at most 30 s. Each is timed next to the plain scoring of the same synthetic data, in the same run:

(i) captions: 5,000 images x 5 tokenized references (~10 words, a 3,000-word Zipf vocabulary). The baseline is
    pycocoevalcap BLEU + CIDEr + ROUGE-L only (PTB tokenization and the METEOR jar, the slow part of real
    scoring, are left out, so the ratio errs high). The intervals build :class:`CaptionStatistic` from the
    per-image numbers (BLEU statistics, ROUGE-L and 23 METEOR statistics per image) and resample BLEU-1..4,
    CIDEr-D with its document frequencies, ROUGE-L and METEOR.
(ii) VQA: 214,354 questions on 40,504 images with 3 answer types and 65 question types (VQAv2 val's counts),
    scored by the official rules; the intervals resample images for all 69 accuracies.
(iii) retrieval: 5,000 images x 25,000 texts of random scores; scoring ranks every row; the intervals resample
    images (TR) and texts (IR).
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
from tasks.scoring.retrieval import retrieval_scores
from tasks.scoring.vqa import vqa_scores
from tasks.stats.caption import CaptionStatistic
from tasks.stats.means import vqa_statistic
from tasks.stats.ranks import RankStatistic
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
    meteor = np.random.default_rng(0).integers(0, 12, size=(IMAGES, 23)).astype(float)  # cost, not values
    per_image = {"keys": [str(i) for i in range(IMAGES)], "candidates": candidates, "references": references,
                 "rouge": [100 * float(r) for r in rouge_each], "bleu": [stats[i] for i in range(IMAGES)],
                 "meteor": meteor}
    scores = {"BLEU-4": 100 * bleu[3], "CIDEr": 100 * float(cider), "ROUGE-L": 100 * float(rouge)}
    return per_image, scores, plain


def test_caption_intervals_coco_size(benchmark, coco_size):
    per_image, scores, plain = coco_size

    def run():
        statistic = CaptionStatistic(per_image["keys"], per_image["candidates"], per_image["references"],
                                     per_image["rouge"], bleu=per_image["bleu"], meteor=per_image["meteor"])
        return statistic, intervals(statistic, DEFAULT_RESAMPLES, seed=0)

    statistic, found = benchmark.pedantic(run, rounds=2, iterations=1)
    if benchmark.stats is not None:
        record_cost(NAME, benchmark.stats.stats.mean, plain, "plain BLEU + CIDEr + ROUGE-L scoring")
    point = statistic.point()
    for metric, value in scores.items():
        assert point[(metric,)] == pytest.approx(value, rel=1e-9)
        low, high = found[(metric,)]
        assert low <= value <= high and np.isfinite(low) and high - low < 0.1 * value


VQA_NAME = "(ii) VQA intervals, 214,354 questions on 40,504 images, 1000 resamples"
RETRIEVAL_NAME = "(iii) retrieval intervals, 5,000 images x 25,000 texts, 1000 resamples"


def test_vqa_intervals_vqav2_val_size(benchmark):
    rng = np.random.default_rng(0)
    questions, images = 214_354, 40_504
    answers = ["yes", "no", "2", "3", "red", "blue", "dog", "table"]
    annotations = [{"question_id": q, "answer_type": ("yes/no", "number", "other")[q % 3],
                    "question_type": f"type {q % 65}",
                    "answers": [{"answer": answers[a]} for a in rng.integers(0, len(answers), 10)]}
                   for q in range(questions)]
    predictions = {q: answers[int(a)] for q, a in zip(range(questions), rng.integers(0, len(answers), questions),
                                                       strict=True)}
    image_of = rng.integers(0, images, questions)
    start = time.perf_counter()
    metrics, per_question = vqa_scores(predictions, annotations)
    plain = time.perf_counter() - start
    records = [{"image": int(image_of[q]), "accuracy": per_question[q], "answer_type": ann["answer_type"],
                "question_type": ann["question_type"]} for q, ann in enumerate(annotations)]

    def run():
        return intervals(vqa_statistic(records), DEFAULT_RESAMPLES, seed=0)

    found = benchmark.pedantic(run, rounds=1, iterations=1)
    if benchmark.stats is not None:
        record_cost(VQA_NAME, benchmark.stats.stats.mean, plain, "official VQA accuracy scoring")
    assert len(found) == 1 + 3 + 65
    low, high = found[("accuracy",)]
    assert low < metrics["accuracy"] < high and high - low < 1.0


def test_retrieval_intervals_5k_by_25k(benchmark):
    rng = np.random.default_rng(0)
    n_images, n_texts = 5000, 25000
    i2t = rng.standard_normal((n_images, n_texts), dtype=np.float32)
    img2txt = [list(range(5 * i, 5 * i + 5)) for i in range(n_images)]
    txt2img = [t // 5 for t in range(n_texts)]
    i2t[np.repeat(np.arange(n_images), 5), np.arange(n_texts)] += 3.0  # true pairs score higher, not always first
    start = time.perf_counter()
    metrics, tr_ranks, ir_ranks = retrieval_scores(i2t, np.ascontiguousarray(i2t.T), img2txt, txt2img)
    plain = time.perf_counter() - start

    def run():
        statistic = RankStatistic(range(n_images), tr_ranks + 1, range(n_texts), ir_ranks + 1)
        return statistic, intervals(statistic, DEFAULT_RESAMPLES, seed=0)

    statistic, found = benchmark.pedantic(run, rounds=2, iterations=1)
    if benchmark.stats is not None:
        record_cost(RETRIEVAL_NAME, benchmark.stats.stats.mean, plain, "recall@K scoring (ranking every row)")
    for metric in ("TR@1", "IR@1", "R_mean"):
        assert statistic.point()[(metric,)] == pytest.approx(metrics[metric])
        low, high = found[(metric,)]
        assert low <= metrics[metric] <= high
