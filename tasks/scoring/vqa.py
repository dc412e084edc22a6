"""VQA accuracy in the two variants of the official script, and the OK-VQA lemmatiser.

Both variants share the normalisation tables and the 10-choose-9 averaging (each of the leave-one-
annotator-out subsets scores ``min(1, matches / 3)``; the question scores their mean, so 1/2/3/4+
matching annotators give 0.3/0.6/0.9/1.0). They differ in *what* gets normalised:

``"lavis"`` - GT-Vision-Lab/VQA ``vqaEval.py`` before 2021 (commit a4f1afd), copied into LAVIS's
    ``lavis/common/vqa_tools/vqa_eval.py``; the BLIP-2 paper's numbers came from it. The
    prediction always gets newline/tab->space, strip, punctuation and digit/article/contraction
    processing. The ground-truth answers are used raw when all annotators agree; when they
    disagree (decided on the raw strings) each one gets the punctuation step only - no strip,
    no lower-casing, no articles.
``"official"`` - the current GT-Vision-Lab script (read at commit a013f00). Prediction and ground
    truth both get newline/tab->space and strip. Only when the (stripped) ground-truth answers
    disagree do both get the punctuation and digit/article/contraction steps; a unanimous answer
    is compared raw, so "Yes" or "two" against a unanimous "yes"/"2" scores 0.

Rounding follows the scripts: a question's value is ``round(100 * mean, 2)``; the overall and
per-answer-type accuracies are ``round(100 * sum / n, 2)`` over the *unrounded* question means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tasks.formats.common import check_same_ids
from tasks.formats.vqa import NO_QUESTION_TYPE
from tasks.scoring.vqa_normalize import (
    clean_whitespace,
    normalize_answer,
    process_digit_article,
    process_punctuation,
)

# The two variants, by the names results record; the default reproduces the paper. Every VQA-scorer
# choice (score(), `bench run --vqa-scorer`, `bench score --vqa-scorer`) uses these two names.
VARIANTS: tuple[str, ...] = ("lavis", "official")
DEFAULT_VARIANT = VARIANTS[0]

SPACY_MODEL = "en_core_web_sm"
SPACY_INSTALL_HINT = f"pip install spacy && python -m spacy download {SPACY_MODEL}"


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown VQA scorer variant {variant!r}; expected one of {', '.join(VARIANTS)}")


def _prepare(prediction: str, gt_answers: Sequence[str], variant: str) -> tuple[str, list[str]]:
    """Return (prediction, ground truths) exactly as the chosen script compares them."""
    if variant == "lavis":
        gts = list(gt_answers)
        if len(set(gts)) > 1:
            gts = [process_punctuation(a) for a in gts]
        return normalize_answer(prediction), gts
    pred = clean_whitespace(prediction)
    gts = [clean_whitespace(a) for a in gt_answers]
    if len(set(gts)) > 1:
        gts = [process_digit_article(process_punctuation(a)) for a in gts]
        pred = process_digit_article(process_punctuation(pred))
    return pred, gts


def _question_fraction(prediction: str, gt_answers: Sequence[str], variant: str) -> float:
    """Unrounded leave-one-out mean in [0, 1], summed in the scripts' order."""
    if len(gt_answers) == 0:
        raise ValueError("a VQA question needs at least one ground-truth answer")
    pred, gts = _prepare(prediction, gt_answers, variant)
    # The scripts leave one annotator out by dict identity; official answer dicts carry a unique
    # answer_id, so leaving out by position is the same thing.
    total_matches = sum(1 for g in gts if g == pred)
    values = []
    for left_out in gts:
        matches = total_matches - (1 if left_out == pred else 0)
        values.append(min(1, float(matches) / 3))
    return float(sum(values)) / len(values)


def vqa_score_one(prediction: str, gt_answers: Sequence[str], variant: str = DEFAULT_VARIANT) -> float:
    """Score one question on 0-100, rounded to 2 decimals as the scripts' per-question ``evalQA``."""
    _check_variant(variant)
    return round(100 * _question_fraction(prediction, gt_answers, variant), 2)


def vqa_accuracy(
    predictions: Mapping[int, str], annotations: Sequence[Mapping], variant: str = DEFAULT_VARIANT
) -> dict:
    """Score official VQAv2/OK-VQA annotation dicts; every annotated question needs a prediction.

    Returns ``{"accuracy", "accuracy_by_answer_type", "accuracy_by_question_type"}`` on 0-100, rounded to
    2 decimals, with the types that occur in ``annotations``: the official evaluation's overall,
    perAnswerType and perQuestionType. An annotation without ``question_type`` counts under
    :data:`NO_QUESTION_TYPE`, the label the format's writer gives it.
    """
    return vqa_scores(predictions, annotations, variant)[0]


def vqa_scores(
    predictions: Mapping[int, str], annotations: Sequence[Mapping], variant: str = DEFAULT_VARIANT
) -> tuple[dict, list[float]]:
    """:func:`vqa_accuracy`'s metrics plus each question's unrounded score on 0-100, in annotation order
    (the per-sample scores a run keeps, and what its intervals resample)."""
    _check_variant(variant)
    if len(annotations) == 0:
        raise ValueError("no VQA annotations to score")
    qids = []
    for i, ann in enumerate(annotations):
        for key in ("question_id", "answers", "answer_type"):
            if key not in ann:
                raise ValueError(f"VQA annotation #{i} has no {key!r} field")
        qids.append(ann["question_id"])
    if len(set(qids)) != len(qids):
        raise ValueError("VQA annotations repeat a question_id")
    check_same_ids(qids, predictions, missing="annotated questions without a prediction",
                   unknown="predictions for ids not in the annotations")

    all_values: list[float] = []
    by_type: dict[str, list[float]] = {}
    by_question_type: dict[str, list[float]] = {}
    for ann in annotations:
        qid = ann["question_id"]
        pred = predictions[qid]
        if not isinstance(pred, str):
            raise ValueError(f"prediction for question {qid} is not a string: {pred!r}")
        try:
            gts = [a["answer"] for a in ann["answers"]]
        except (KeyError, TypeError) as err:
            raise ValueError(f"question {qid}: 'answers' must be a list of {{'answer': str}} dicts") from err
        value = _question_fraction(pred, gts, variant)
        all_values.append(value)
        by_type.setdefault(ann["answer_type"], []).append(value)
        by_question_type.setdefault(ann.get("question_type", NO_QUESTION_TYPE), []).append(value)

    metrics = {
        "accuracy": _percent(all_values),
        "accuracy_by_answer_type": {t: _percent(v) for t, v in by_type.items()},
        "accuracy_by_question_type": {t: _percent(v) for t, v in by_question_type.items()},
    }
    return metrics, [100 * value for value in all_values]


def _percent(values: Sequence[float]) -> float:
    return round(100 * float(sum(values)) / len(values), 2)


# ---------------------------------------------------------------------------------------------
# OK-VQA lemmatisation (optional; needs spaCy, which is not a dependency).
# ---------------------------------------------------------------------------------------------


def _load_spacy_model():
    """Load spaCy's English model, or say plainly that it is missing and how to install it."""
    try:
        import spacy
    except ImportError as err:
        raise RuntimeError(
            "OK-VQA lemmatisation needs spaCy and its en_core_web_sm model, and spaCy is not "
            f"installed. Install both with: {SPACY_INSTALL_HINT}"
        ) from err
    try:
        return spacy.load(SPACY_MODEL)
    except OSError as err:
        raise RuntimeError(
            f"OK-VQA lemmatisation needs the spaCy model {SPACY_MODEL}, which is not installed. "
            f"Install it with: {SPACY_INSTALL_HINT}"
        ) from err


def lemmatize_answers(answers: Mapping[int, str]) -> dict:
    """Lemmatise predictions as BLIP-2 did for OK-VQA: NOUN and VERB tokens become their lemma.

    Other tokens keep their text, and tokens are joined with single spaces (LAVIS's
    ``_lemmatize``); apply it to predictions before :func:`vqa_accuracy`.
    """
    nlp = _load_spacy_model()
    out = {}
    for qid, answer in answers.items():
        doc = nlp(answer)
        out[qid] = " ".join(t.lemma_ if t.pos_ in ("NOUN", "VERB") else t.text for t in doc)
    return out
