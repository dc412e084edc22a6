"""Retrieval recall: the rank of each query's true match, resampled query by query with the gallery fixed.

TR@K resamples images, each with the rank of its best true text among *all* texts; IR@K resamples texts, each
with the rank of its image among all images. The ranks are computed once against the real gallery, so no rank
is ever recomputed against a gallery that holds duplicates. R_mean, the mean of TR_mean and IR_mean, pairs the
b-th image resample with the b-th text resample (drawn independently).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tasks.stats.resample import MetricPath

KS: tuple[int, ...] = (1, 5, 10)
UNIT_LABELS = {
    "image": "image, with the rank of its best-ranked true text among all texts (TR@K)",
    "text": "text, with the rank of its image among all images (IR@K)",
}


class RankStatistic:
    """Recall@K in both directions from 1-based ranks (1 = the true match ranked first)."""

    unit_label = UNIT_LABELS

    def __init__(self, image_keys: Sequence[str], image_ranks: Sequence[int], text_keys: Sequence[str],
                 text_ranks: Sequence[int]):
        self.units = {"image": tuple(str(k) for k in image_keys), "text": tuple(str(k) for k in text_keys)}
        # one 0/100 column per K: was the true match within the top K?
        self._hits = {
            "image": 100.0 * (np.asarray(image_ranks)[:, None] <= np.asarray(KS)[None, :]),
            "text": 100.0 * (np.asarray(text_ranks)[:, None] <= np.asarray(KS)[None, :]),
        }

    def _recalls(self, weights: Mapping[str, np.ndarray]) -> dict[MetricPath, np.ndarray]:
        out: dict[MetricPath, np.ndarray] = {}
        for direction, unit in (("TR", "image"), ("IR", "text")):
            w = weights[unit]
            recall = (w @ self._hits[unit]) / w.sum(axis=1, keepdims=True)
            for column, k in enumerate(KS):
                out[(f"{direction}@{k}",)] = recall[:, column]
            out[(f"{direction}_mean",)] = recall.mean(axis=1)
        out[("R_mean",)] = (out[("TR_mean",)] + out[("IR_mean",)]) / 2
        return out

    def point(self) -> dict[MetricPath, float]:
        ones = {unit: np.ones((1, len(keys))) for unit, keys in self.units.items()}
        return {path: float(values[0]) for path, values in self._recalls(ones).items()}

    def values(self, weights: Mapping[str, np.ndarray]) -> dict[MetricPath, np.ndarray]:
        return self._recalls(weights)


def rank_statistic(records: Sequence[Mapping[str, Any]]) -> RankStatistic:
    """From ``samples.jsonl`` records: ``{"query": "image", "id", "rank"}`` and ``{"query": "text", "id", "rank"}``."""
    images = [r for r in records if r["query"] == "image"]
    texts = [r for r in records if r["query"] == "text"]
    return RankStatistic([r["id"] for r in images], [r["rank"] for r in images],
                         [r["id"] for r in texts], [r["rank"] for r in texts])
