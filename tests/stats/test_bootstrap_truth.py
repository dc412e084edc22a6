"""The bootstrap checked against truth: analytic half-widths, coverage over simulated data sets, determinism."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from tasks.stats.means import MeanStatistic, vqa_statistic
from tasks.stats.ranks import RankStatistic
from tasks.stats.resample import bootstrap, intervals, paired, weight_chunks

Z = 1.959964  # the normal 97.5% quantile


def bernoulli(n: int, p: float, seed: int) -> np.ndarray:
    return 100.0 * (np.random.default_rng(seed).random(n) < p)


def clustered(images: int, per_image: int, a: float, b: float, seed: int) -> tuple[list[str], np.ndarray]:
    """Questions grouped by image: each image has its own success rate p_i ~ Beta(a, b)."""
    rng = np.random.default_rng(seed)
    rates = rng.beta(a, b, size=images)
    scores = 100.0 * (rng.random((images, per_image)) < rates[:, None])
    keys = [f"img{i}" for i in range(images) for _ in range(per_image)]
    return keys, scores.ravel()


def half_width(statistic) -> float:
    low, high = intervals(statistic, 1000, 0)[("accuracy",)]
    return (high - low) / 2


def accuracy(keys, scores) -> MeanStatistic:
    return MeanStatistic(keys, scores, {("accuracy",): range(len(scores))})


def test_independent_questions_match_the_binomial_half_width():
    n, p = 4000, 0.6
    scores = bernoulli(n, p, seed=1)
    analytic = Z * 100 * math.sqrt(p * (1 - p) / n)
    assert half_width(accuracy([f"q{i}" for i in range(n)], scores)) == pytest.approx(analytic, rel=0.10)


def test_questions_clustered_by_image_match_the_clustered_half_width():
    images, per_image, a, b = 2000, 5, 2.0, 2.0
    keys, scores = clustered(images, per_image, a, b, seed=2)
    # Var(mean of an image's questions) = Var(p_i) + E[p_i (1 - p_i)] / m, for p_i ~ Beta(a, b)
    mean = a / (a + b)
    var_rate = a * b / ((a + b) ** 2 * (a + b + 1))
    within = mean - (var_rate + mean**2)  # E[p(1-p)] = E[p] - E[p^2]
    analytic = Z * 100 * math.sqrt((var_rate + within / per_image) / images)
    assert half_width(accuracy(keys, scores)) == pytest.approx(analytic, rel=0.10)
    # resampling questions one by one would ignore the clustering and be far too narrow
    naive = half_width(accuracy([f"q{i}" for i in range(len(scores))], scores))
    assert naive < 0.8 * analytic


def test_coverage_over_200_simulated_data_sets():
    images, per_image, a, b = 150, 3, 3.0, 2.0
    truth = 100 * a / (a + b)
    hits = 0
    for seed in range(200):
        keys, scores = clustered(images, per_image, a, b, seed=1000 + seed)
        low, high = intervals(accuracy(keys, scores), 1000, seed)[("accuracy",)]
        hits += low <= truth <= high
    assert 0.92 <= hits / 200 <= 0.98, hits


def test_deterministic_for_a_seed_and_independent_of_sample_order():
    records = [{"id": i, "image": f"img{i % 37}", "accuracy": float(100 * ((i * 7) % 3 == 0)),
                "answer_type": ("yes/no", "number", "other")[i % 3], "question_type": f"qt{i % 5}"}
               for i in range(300)]
    shuffled = records[:]
    random.Random(4).shuffle(shuffled)
    first, again, reordered = (intervals(vqa_statistic(r), 500, 9) for r in (records, records, shuffled))
    assert first == again == reordered
    assert intervals(vqa_statistic(records), 500, 10) != first  # another seed, other draws
    assert set(first) == {("accuracy",), *{("accuracy_by_answer_type", t) for t in ("yes/no", "number", "other")},
                          *{("accuracy_by_question_type", f"qt{k}") for k in range(5)}}


def test_weights_redraw_whole_units():
    keys = {"image": ["b", "a", "c", "d"]}
    for weights in weight_chunks(keys, 120, 0):
        w = weights["image"]
        assert np.all(w.sum(axis=1) == 4) and np.all(w == np.round(w))
    values = bootstrap(accuracy(["a", "a", "b"], np.array([100.0, 100.0, 0.0])), 200, 0)[("accuracy",)]
    # "a" carries two right answers, "b" one wrong: only these three mixtures can come out
    assert set(np.round(values, 6)) <= {0.0, round(200 / 3, 6), 80.0, 100.0}


def test_retrieval_resamples_images_and_texts_apart_with_ranks_fixed():
    stat = RankStatistic([f"i{k}" for k in range(50)], [1] * 25 + [7] * 25, [f"t{k}" for k in range(250)],
                         [1] * 50 + [20] * 200)
    point = stat.point()
    assert point[("TR@1",)] == 50.0 and point[("TR@10",)] == 100.0 and point[("IR@1",)] == 20.0
    found = intervals(stat, 1000, 0)
    assert found[("TR@10",)] == (100.0, 100.0)  # every image's match is in its top 10, in every resample
    # TR@1 over 50 images is far less certain than IR@1 over 250 texts
    assert found[("TR@1",)][1] - found[("TR@1",)][0] > 1.8 * (found[("IR@1",)][1] - found[("IR@1",)][0])


def test_paired_comparison_of_a_run_with_itself_is_exactly_zero():
    keys, scores = clustered(100, 3, 2.0, 2.0, seed=5)
    same = paired(accuracy(keys, scores), accuracy(keys, scores), 1000, 0)[("accuracy",)]
    assert (same.delta, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
