"""Check predictions against a loaded split, hand them to the task's scorer, and write EvalAI submissions.

This module checks that predictions match the split exactly (unknown, missing, duplicate and empty
ids are errors naming the ids) and then calls the task's own scorer (``task.scorer``, see
:mod:`tasks.scorers`) on the checked subset. It knows a task only by the few attributes it reads
(:class:`ScoredTask`), so it does not import :mod:`tasks.task`, which imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from tasks.coverage import coverage
from tasks.errors import PredictionError, TaskError
from tasks.formats.common import format_ids, id_differences
from tasks.formats.predictions import (
    CAPTION_LAYOUT,
    GQA_LAYOUT,
    VQA_LAYOUT,
    check_score_matrices,
    parse_prediction_records,
    read_vqa_predictions,
)
from tasks.formats.vqa import write_vqa_results
from tasks.scorers import DEFAULT_VQA_SCORER, LEMMATIZE_OPTION, VQA_SCORERS, Scored, ScoreInput, Scorer
from tasks.splits import GenerationSplit, LoadedSplit, RetrievalSplit
from tasks.stats.intervals import interval_blocks, switched_off
from tasks.stats.resample import DEFAULT_RESAMPLES, DEFAULT_SEED


class ScoredTask(Protocol):
    """What scoring reads of a task (:class:`tasks.task.Task` has it)."""

    @property
    def name(self) -> str: ...

    @property
    def scorer(self) -> Scorer: ...

    @property
    def prediction_format(self) -> str: ...


_RECORD_FORMS = {
    "vqa": ([("question_id", "answer")], (int,), VQA_LAYOUT),
    "gqa": ([("questionId", "prediction"), ("question_id", "answer")], (str, int), GQA_LAYOUT),
    "caption": ([("image_id", "caption")], (int,), CAPTION_LAYOUT),
}


def score(task: ScoredTask, predictions: Any, loaded: LoadedSplit, **options: Any) -> dict[str, Any]:
    """Score ``predictions`` on ``loaded``; returns ``{"task", "split", "scorer", "n", "metrics", "ci95", "ci",
    ...}``. The options are :func:`score_with_samples`'s."""
    return score_with_samples(task, predictions, loaded, **options)[0]


def score_with_samples(
    task: ScoredTask,
    predictions: Any,
    loaded: LoadedSplit,
    *,
    vqa_scorer: str = DEFAULT_VQA_SCORER,
    lemmatize: bool = False,
    allow_partial: bool = False,
    allow_empty: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score ``predictions`` on ``loaded``: the result and the per-sample records (each sample's own score next
    to its prediction).

    ``allow_empty`` scores empty predictions (a model that generated nothing) as wrong answers and
    reports them (``empty_predictions``); without it they are rejected as a broken predictions file.
    ``resamples`` bootstrap resamples (seeded by ``seed``) give each metric its 95% interval (``ci95``, and how
    in ``ci``); 0 switches intervals off."""
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 0:
        raise TaskError(f"resamples must be a whole number >= 0 (0 switches intervals off), got {resamples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TaskError(f"the bootstrap seed must be a whole number >= 0, got {seed!r}")
    if loaded.task != task.name:
        raise TaskError(f"the loaded split belongs to task {loaded.task!r}, not {task.name!r}")
    if vqa_scorer not in VQA_SCORERS:
        raise TaskError(f"unknown VQA scorer {vqa_scorer!r}; choose one of {', '.join(VQA_SCORERS)}")
    if lemmatize and not task.scorer.takes(LEMMATIZE_OPTION):
        raise TaskError(
            f"lemmatizing answers applies to the VQA-accuracy tasks (vqav2, okvqa), not {task.name}"
        )
    if not loaded.has_answers:
        raise TaskError(
            f"{task.name} {loaded.split} has no public answers, so it cannot be scored locally. "
            "Write the EvalAI submission file instead (Task.write_submission, which checks that it covers "
            "every question) and upload it to the VQA Challenge on EvalAI (https://visualqa.org/challenge.html)"
        )
    if isinstance(loaded, RetrievalSplit):
        result, answer = _score_retrieval(task, predictions, loaded)
    else:
        result, answer = _score_generation(task, predictions, loaded, vqa_scorer, lemmatize, allow_partial,
                                           allow_empty)
    _add_intervals(result, task.scorer, answer, resamples, seed)
    return result, answer.samples


def _add_intervals(result: dict[str, Any], scorer: Scorer, answer: Scored, resamples: int, seed: int) -> None:
    """Give the result its ``ci95`` and ``ci`` blocks (see :mod:`tasks.stats.intervals`)."""
    if resamples == 0:
        result["ci"] = switched_off("intervals were switched off (0 resamples)")
    elif scorer.statistic is None or not answer.samples:
        result["ci"] = switched_off(f"the {scorer.name} scorer keeps no per-sample scores to resample")
    else:
        result["ci95"], result["ci"] = interval_blocks(scorer.statistic(answer.samples), result["metrics"],
                                                       answer.not_covered, resamples, seed)


def coerce_predictions(task: ScoredTask, predictions: Any, source: str = "predictions") -> dict[Any, str]:
    """Accept ``{id: text}`` or the official ``[{id_key: id, text_key: text}]`` records; check types."""
    forms, id_types, layout = _RECORD_FORMS[task.prediction_format]
    if isinstance(predictions, Mapping):
        parsed: dict[Any, Any] = {}
        for key, text in predictions.items():
            if isinstance(key, bool) or not isinstance(key, id_types):
                raise PredictionError(
                    f"{source}: prediction id {key!r} must be {'/'.join(t.__name__ for t in id_types)}"
                )
            parsed[str(key) if id_types[0] is str else key] = text
        bad = [key for key, text in parsed.items() if not isinstance(text, str)]
        if bad:
            raise PredictionError(f"{source}: prediction(s) for id(s) {format_ids(bad)} are not strings")
        return parsed
    if isinstance(predictions, Sequence) and not isinstance(predictions, str | bytes):
        return parse_prediction_records(
            list(predictions), forms=forms, id_types=id_types, layout=layout, source=source
        )
    raise PredictionError(f"{source}: expected a mapping id -> text or a list of records ({layout})")


def check_coverage(
    task: ScoredTask, predictions: Mapping[Any, str], loaded: GenerationSplit, *, allow_partial: bool,
    allow_empty: bool = False,
) -> list[Any]:
    """Return the split's ids that have predictions, in split order, after rejecting every mismatch.

    An empty prediction is rejected (in a file it is a mistake) unless ``allow_empty``: a model that
    generated nothing gave a wrong answer, which the runner scores as such and reports."""
    where = f"{task.name} {loaded.split}" + (
        f" (first {loaded.limit} samples)" if loaded.limit is not None else ""
    )
    expected = loaded.ids
    missing, unknown = id_differences(expected, predictions)
    if unknown:
        raise PredictionError(f"{len(unknown)} prediction id(s) are not in {where}: {format_ids(unknown)}")
    empty = [key for key, text in predictions.items() if not text.strip()]
    if empty and not allow_empty:
        raise PredictionError(f"empty prediction(s) for id(s) {format_ids(empty)} in {where} (pass --allow-empty / "
                              "allow_empty=True to score them as wrong answers)")
    if missing and not allow_partial:
        raise PredictionError(
            f"predictions are missing for {len(missing)} of {len(expected)} ids of {where}: "
            f"{format_ids(missing)} (pass --allow-partial / allow_partial=True to score only the "
            "predicted ids)"
        )
    scored = [key for key in expected if key in predictions]
    if not scored:
        raise PredictionError(f"no predictions to score for {where}")
    return scored


def _score_generation(
    task: ScoredTask,
    predictions: Any,
    loaded: GenerationSplit,
    vqa_scorer: str,
    lemmatize: bool,
    allow_partial: bool,
    allow_empty: bool = False,
) -> tuple[dict[str, Any], Scored]:
    preds = coerce_predictions(task, predictions)
    scored = check_coverage(task, preds, loaded, allow_partial=allow_partial, allow_empty=allow_empty)
    candidates = {key: preds[key] for key in scored}
    notes: dict[str, str] = {}
    extra: dict[str, Any] = {}
    empty = [key for key in scored if not candidates[key].strip()]
    if empty:
        notes["empty_predictions"] = (f"{len(empty)} empty prediction(s) (the model generated no text), scored "
                                      f"as wrong: {format_ids(empty)}")
        extra["empty_predictions"] = len(empty)
    answer = task.scorer(
        ScoreInput(task.name, loaded, tuple(scored), candidates, vqa_scorer=vqa_scorer, lemmatize=lemmatize)
    )
    notes.update(answer.notes)
    extra.update(answer.extra)
    result = _result(task, loaded, answer.scorer, len(scored), answer.metrics, len(loaded.samples), notes, extra)
    return result, answer


def _score_retrieval(task: ScoredTask, predictions: Any, loaded: RetrievalSplit) -> tuple[dict[str, Any], Scored]:
    if isinstance(predictions, Mapping):
        i2t, t2i = predictions.get("i2t"), predictions.get("t2i")
    elif isinstance(predictions, Sequence) and len(predictions) == 2:
        i2t, t2i = predictions
    else:
        raise PredictionError(
            "retrieval predictions must be (i2t, t2i) or a mapping with keys 'i2t' and 't2i'"
        )
    i2t, t2i = check_score_matrices(i2t, t2i)
    n_images, n_texts = len(loaded.image_paths), len(loaded.texts)
    for key, matrix, shape in (("i2t", i2t, (n_images, n_texts)), ("t2i", t2i, (n_texts, n_images))):
        if matrix.shape != shape:
            raise PredictionError(
                f"score matrix '{key}' has shape {matrix.shape}, but {task.name} {loaded.split} needs "
                f"{shape} "
                f"({n_images} images x {n_texts} texts, in the split's order)"
            )
    answer = task.scorer(ScoreInput(task.name, loaded, i2t=i2t, t2i=t2i))
    result = _result(task, loaded, answer.scorer, n_images, answer.metrics, n_images, dict(answer.notes),
                     {"n_texts": n_texts, **answer.extra})
    return result, answer


def _result(
    task: ScoredTask,
    loaded: LoadedSplit,
    scorer: str,
    n: int,
    metrics: dict[str, Any],
    n_expected: int,
    notes: dict[str, str],
    extra: dict[str, Any],
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "task": task.name,
        "split": loaded.split,
        "scorer": scorer,
        "n": n,
        "metrics": metrics,
    }
    covered = coverage(task, loaded, n)
    result["partial"] = covered.partial
    result["n_expected"] = n_expected
    result["coverage"] = covered.to_dict()
    if loaded.limit is not None:
        result["limit"] = loaded.limit
        result["split_size"] = loaded.total
    result.update(extra)
    all_notes = {**{f"data.{i}": note for i, note in enumerate(loaded.notes)}, **notes}
    if covered.partial:
        all_notes["partial"] = covered.reason
    if all_notes:
        result["notes"] = all_notes
    return result


def write_submission(task: ScoredTask, predictions: Any, loaded: LoadedSplit, path: str | os.PathLike[str]) -> Path:
    """Write the EvalAI file ``[{"question_id", "answer"}]`` after checking it covers every question."""
    answers = _submission_answers(task, predictions, loaded, source="predictions")
    return write_vqa_results(path, answers)


def validate_submission(task: ScoredTask, path: str | os.PathLike[str], loaded: LoadedSplit) -> int:
    """Check an existing submission file covers every question exactly once; returns the count."""
    return len(_submission_answers(task, read_vqa_predictions(path), loaded, source=str(path)))


def _submission_answers(
    task: ScoredTask, predictions: Any, loaded: LoadedSplit, source: str
) -> list[tuple[int, str]]:
    if task.prediction_format != "vqa" or not isinstance(loaded, GenerationSplit):
        raise TaskError(f"{task.name} has no EvalAI submission file; only the VQA-format tasks do")
    if loaded.limit is not None:
        raise TaskError(
            f"a submission must cover every question of {task.name} {loaded.split}; "
            f"this split was loaded with limit={loaded.limit}"
        )
    preds = coerce_predictions(task, predictions, source=source)
    scored = check_coverage(task, preds, loaded, allow_partial=False)
    return [(key, preds[key]) for key in scored]
