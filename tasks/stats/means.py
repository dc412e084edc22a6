"""Accuracy-style metrics: means of per-sample scores over the whole split and over labelled subsets.

VQA accuracy (overall, per answer type, per question type) and GQA accuracy are plain means of per-question
scores, so a resample's value is ``sum(weights x unit sums) / sum(weights x unit counts)`` for each subset:
two matrix products per chunk of resamples, with every question of an image kept together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tasks.stats.resample import MetricPath

IMAGE_UNIT = "image, with all its questions"


class MeanStatistic:
    """Means of per-sample scores (0-100) over subsets of samples, resampled by unit.

    ``groups`` maps each metric path to the samples it averages, e.g. ``("accuracy",)`` to all of them and
    ``("accuracy_by_answer_type", "yes/no")`` to the yes/no questions.
    """

    unit_label = IMAGE_UNIT

    def __init__(self, unit_keys: Sequence[str], scores: Sequence[float], groups: Mapping[MetricPath, Sequence[int]]):
        if len(unit_keys) != len(scores):
            raise ValueError(f"{len(unit_keys)} unit keys for {len(scores)} scores")
        keys = [str(key) for key in unit_keys]
        units = list(dict.fromkeys(keys))
        self.units = {"image": tuple(units)}
        index = {key: i for i, key in enumerate(units)}
        sample_unit = np.fromiter((index[key] for key in keys), dtype=np.int64, count=len(keys))
        values = np.asarray(scores, dtype=np.float64)
        self._paths = list(groups)
        self._sums = np.zeros((len(units), len(self._paths)))
        self._counts = np.zeros((len(units), len(self._paths)))
        for column, path in enumerate(self._paths):
            members = np.asarray(groups[path], dtype=np.int64)
            np.add.at(self._sums[:, column], sample_unit[members], values[members])
            np.add.at(self._counts[:, column], sample_unit[members], 1.0)

    def point(self) -> dict[MetricPath, float]:
        means = self._sums.sum(axis=0) / self._counts.sum(axis=0)
        return {path: float(value) for path, value in zip(self._paths, means, strict=True)}

    def values(self, weights: Mapping[str, np.ndarray]) -> dict[MetricPath, np.ndarray]:
        w = weights["image"]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (w @ self._sums) / (w @ self._counts)  # NaN where a subset was drawn empty
        return {path: means[:, column] for column, path in enumerate(self._paths)}


def vqa_statistic(records: Sequence[Mapping[str, Any]]) -> MeanStatistic:
    """VQA accuracy overall, per answer type and per question type, from ``samples.jsonl`` records
    (``{"id", "image", "accuracy", "answer_type", "question_type", ...}``)."""
    groups: dict[MetricPath, list[int]] = {("accuracy",): list(range(len(records)))}
    for i, record in enumerate(records):
        groups.setdefault(("accuracy_by_answer_type", record["answer_type"]), []).append(i)
    for i, record in enumerate(records):
        groups.setdefault(("accuracy_by_question_type", record["question_type"]), []).append(i)
    return MeanStatistic([r["image"] for r in records], [r["accuracy"] for r in records], groups)


def accuracy_statistic(records: Sequence[Mapping[str, Any]]) -> MeanStatistic:
    """Plain accuracy (GQA) from ``samples.jsonl`` records ``{"id", "image", "accuracy", ...}``."""
    return MeanStatistic([r["image"] for r in records], [r["accuracy"] for r in records],
                         {("accuracy",): list(range(len(records)))})
