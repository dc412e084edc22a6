"""The scorers a task declares: named callables that turn checked predictions into a split's metrics.

Like lm-evaluation-harness metrics, a scorer is a function registered with the task that uses it
(``Task.scorer``), not a string that some other module switches on: adding a task with a new kind of
score means writing its :class:`Scorer` next to the task and adding the task to the registry. The
scorer's ``name`` is what ``Task.to_dict`` records; each call returns the name the *result* records
(the VQA variant, "pycocoevalcap", ...). :mod:`tasks.evaluation` checks the predictions against the
split before a scorer runs, so a scorer only computes numbers. The scoring modules (pycocoevalcap,
spaCy) are imported when a scorer runs, so loading tasks never pulls in the Java-backed tooling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tasks.errors import TaskError
from tasks.formats.nocaps import NOCAPS_DOMAINS
from tasks.scoring.vqa import DEFAULT_VARIANT, VARIANTS
from tasks.splits import GenerationSplit, LoadedSplit, RetrievalSplit
from tasks.stats.means import accuracy_statistic, vqa_statistic
from tasks.stats.ranks import rank_statistic
from tasks.stats.resample import Statistic

# The VQA accuracy variants a user can choose (`--vqa-scorer`), and the one that reproduces the paper.
VQA_SCORERS: tuple[str, ...] = VARIANTS
DEFAULT_VQA_SCORER: str = DEFAULT_VARIANT

# The options of Task.score that only some scorers take; a scorer lists the ones it takes.
VQA_SCORER_OPTION = "vqa_scorer"
LEMMATIZE_OPTION = "lemmatize"


@dataclass(frozen=True)
class ScoreInput:
    """What a scorer gets once the predictions matched the split.

    Generation splits: ``ids`` are the scored sample ids in split order and ``candidates`` maps each to
    its text. Retrieval splits: ``i2t`` / ``t2i`` are the checked score matrices.
    """

    task: str
    loaded: LoadedSplit
    ids: tuple[Any, ...] = ()
    candidates: Mapping[Any, str] = field(default_factory=dict)
    i2t: Any = None
    t2i: Any = None
    vqa_scorer: str = DEFAULT_VQA_SCORER
    lemmatize: bool = False


@dataclass(frozen=True)
class Scored:
    """A scorer's answer: the name the result records, the metrics, and notes/extra keys for the result.

    ``samples`` are the per-sample records a run keeps (``samples.jsonl``): each sample's own score next to
    its prediction, and what its scorer's ``statistic`` rebuilds the metrics from. ``not_covered`` names
    each metric that gets no interval, with the reason.
    """

    scorer: str
    metrics: dict[str, Any]
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    not_covered: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scorer:
    """A named scoring function; ``options`` are the optional ``Task.score`` arguments it takes.

    ``statistic`` rebuilds the metrics from per-sample records on reweighted units: the bootstrap intervals
    of a result and the paired comparison of two runs (``bench compare``) both go through it.
    """

    name: str
    function: Callable[[ScoreInput], Scored]
    options: frozenset[str] = frozenset()
    statistic: Callable[[Sequence[Mapping[str, Any]]], Statistic] | None = None

    def __call__(self, inputs: ScoreInput) -> Scored:
        return self.function(inputs)

    def takes(self, option: str) -> bool:
        """Whether this scorer uses the ``Task.score`` option ``option`` (e.g. "lemmatize")."""
        return option in self.options


def _vqa_accuracy(inputs: ScoreInput) -> Scored:
    from tasks.formats.vqa import NO_QUESTION_TYPE
    from tasks.scoring.vqa import lemmatize_answers, vqa_scores

    candidates = dict(inputs.candidates)
    if inputs.lemmatize:
        try:
            candidates = lemmatize_answers(candidates)
        except RuntimeError as exc:
            raise TaskError(f"cannot lemmatize answers: {exc}") from None
    references = inputs.loaded.references  # type: ignore[union-attr]
    annotations = [references[key] for key in inputs.ids]
    metrics, per_question = vqa_scores(candidates, annotations, variant=inputs.vqa_scorer)
    images = _images(inputs)
    samples = [
        {"id": key, "image": images[key], "prediction": inputs.candidates[key],
         **({"scored_as": candidates[key]} if inputs.lemmatize else {}), "accuracy": value,
         "answer_type": ann["answer_type"], "question_type": ann.get("question_type", NO_QUESTION_TYPE),
         "answers": [answer["answer"] for answer in ann["answers"]]}
        for key, ann, value in zip(inputs.ids, annotations, per_question, strict=True)
    ]
    return Scored(inputs.vqa_scorer, metrics, extra={"scorer_options": {"lemmatize": inputs.lemmatize}},
                  samples=samples)


def _gqa_accuracy(inputs: ScoreInput) -> Scored:
    from tasks.scoring.gqa import gqa_scores

    references = inputs.loaded.references  # type: ignore[union-attr]
    answers = {key: references[key] for key in inputs.ids}
    metrics, per_question = gqa_scores(dict(inputs.candidates), answers)
    images = _images(inputs)
    samples = [{"id": key, "image": images[key], "prediction": inputs.candidates[key], "answer": answers[key],
                "accuracy": per_question[key]} for key in inputs.ids]
    return Scored("gqa-exact-match-after-vqa-normalisation", metrics, samples=samples)


def _images(inputs: ScoreInput) -> dict[Any, Any]:
    """Each scored sample's image id: the unit its intervals resample."""
    return {sample.sample_id: sample.image_id for sample in inputs.loaded.samples}  # type: ignore[union-attr]


def _caption_scorer(by_domain: bool) -> Callable[[ScoreInput], Scored]:
    def score(inputs: ScoreInput) -> Scored:
        assert isinstance(inputs.loaded, GenerationSplit)
        notes: dict[str, str] = {}
        metrics, samples = caption_metrics(inputs.loaded, list(inputs.ids), dict(inputs.candidates), notes,
                                           by_domain=by_domain)
        not_covered = {"SPICE": "SPICE is not computed offline (see notes.SPICE)" if metrics.get("SPICE") is None
                       else "SPICE runs in Java on CoreNLP, which is never available here to test a per-image "
                       "resampling of it against; its point value is pycocoevalcap's"}
        return Scored("pycocoevalcap", metrics, notes, samples=samples, not_covered=not_covered)

    return score


def caption_metrics(
    loaded: GenerationSplit,
    scored: list[Any],
    candidates: dict[Any, str],
    notes: dict[str, str],
    *,
    by_domain: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """pycocoevalcap metrics overall and, for NoCaps, per domain; and one per-sample record per image.

    The PTB tokenizer works caption by caption, so everything is tokenized in one JVM call and each
    domain subset is then scored on its own (its own CIDEr idf), sharing one METEOR JVM; this equals
    calling ``caption_metrics`` once per subset, minus the JVM start-ups. The records hold each image's
    scores from the whole split's scoring (:func:`tasks.stats.caption.caption_records`).
    """
    from tasks.scoring.caption import (
        java_missing,
        meteor_session,
        score_tokenized_detailed,
        spice_unavailable_reason,
        tokenize_captions,
    )
    from tasks.stats.caption import caption_records

    reason = java_missing()
    if reason is not None:
        raise TaskError(reason)
    tagged: dict[Any, list[str]] = {("ref", i): list(loaded.references[i]) for i in scored}
    tagged.update({("cand", i): [candidates[i]] for i in scored})
    tokenized = tokenize_captions(tagged)
    domains = {sample.sample_id: sample.domain for sample in loaded.samples}

    def subset(ids: list[Any], meteor: Any) -> Any:
        references = {i: tokenized[("ref", i)] for i in ids}
        return score_tokenized_detailed(references, {i: tokenized[("cand", i)] for i in ids}, meteor=meteor)

    with meteor_session() as meteor:
        overall = subset(scored, meteor)
        metrics = dict(overall.metrics)
        if by_domain:
            per_domain: dict[str, Any] = {}
            for domain in NOCAPS_DOMAINS:
                ids = [key for key in scored if domains[key] == domain]
                if ids:
                    per_domain[domain] = {**subset(ids, meteor).metrics, "n": len(ids)}
                else:
                    per_domain[domain] = None
                    notes[f"by_domain.{domain}"] = "no scored image belongs to this domain"
            metrics["by_domain"] = per_domain
    if metrics.get("SPICE") is None:
        notes["SPICE"] = spice_unavailable_reason() or "the SPICE scorer returned no score"
    images = {sample.sample_id: str(sample.image_id) for sample in loaded.samples}
    samples = caption_records(scored, candidates, loaded.references, {i: tokenized[("ref", i)] for i in scored},
                              {i: tokenized[("cand", i)] for i in scored}, overall.per_image,
                              domains={i: domains[i] for i in scored} if by_domain else None, images=images)
    return metrics, samples


def _caption_statistic(records: Sequence[Mapping[str, Any]]) -> Statistic:
    from tasks.stats.caption import CaptionStatistic  # scipy: imported when a caption result is resampled

    return CaptionStatistic.from_records(records)


def _recall_at_k(inputs: ScoreInput) -> Scored:
    from tasks.scoring.retrieval import retrieval_scores

    loaded = inputs.loaded
    assert isinstance(loaded, RetrievalSplit)
    metrics, tr_ranks, ir_ranks = retrieval_scores(inputs.i2t, inputs.t2i, loaded.img2txt, loaded.txt2img)
    samples = [{"query": "image", "id": loaded.image_ids[i], "index": i, "rank": int(rank) + 1}
               for i, rank in enumerate(tr_ranks)]
    samples += [{"query": "text", "id": t, "image": loaded.image_ids[loaded.txt2img[t]], "text": loaded.texts[t],
                 "rank": int(rank) + 1} for t, rank in enumerate(ir_ranks)]
    return Scored("recall-at-k", dict(metrics), samples=samples)


VQA_ACCURACY = Scorer("vqa", _vqa_accuracy, frozenset({VQA_SCORER_OPTION, LEMMATIZE_OPTION}), vqa_statistic)
GQA_ACCURACY = Scorer("gqa", _gqa_accuracy, statistic=accuracy_statistic)
CAPTION = Scorer("caption", _caption_scorer(by_domain=False), statistic=_caption_statistic)
NOCAPS_CAPTION = Scorer("nocaps", _caption_scorer(by_domain=True), statistic=_caption_statistic)
RECALL_AT_K = Scorer("retrieval", _recall_at_k, statistic=rank_statistic)

__all__ = [
    "CAPTION",
    "DEFAULT_VQA_SCORER",
    "GQA_ACCURACY",
    "LEMMATIZE_OPTION",
    "NOCAPS_CAPTION",
    "RECALL_AT_K",
    "VQA_ACCURACY",
    "VQA_SCORERS",
    "VQA_SCORER_OPTION",
    "ScoreInput",
    "Scored",
    "Scorer",
    "caption_metrics",
]
