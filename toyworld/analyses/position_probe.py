"""Which word a toy LLM reads when it says where an object is.

A toy LLM answers "where is the <colour> <shape>?" from an evaluation scene in words, for every object
whose colour and shape no other object of its scene shares; then again with the leading word of every
place phrase swapped ("on the left" -> "at the left", "at the top" -> "on the top"). The place word itself
says left, right, top, bottom or centre; the word right after the object (the preposition) says only the
axis: "on" left or right, "at" top or bottom. So a reader of the place word keeps its answers under the
swap, and a reader of the preposition turns them to the other axis.

    python -m bench toy-position-probe [--model toy-opt,toy-t5] [--data-root D]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toyworld.backbones.corpus import scene_in_words
from toyworld.data.config import TRAINING_SETS
from toyworld.data.language import POSITION_PHRASES, position_question
from toyworld.data.scenes import POSITIONS, Scene

AXES: dict[str, str] = {"left": "horizontal", "right": "horizontal", "top": "vertical", "bottom": "vertical",
                        "center": "center"}
# A place phrase of the descriptions -> the same phrase led by the other axis's preposition.
SWAPPED: dict[str, str] = {POSITION_PHRASES[p][0]: POSITION_PHRASES[p][0].replace(lead, other, 1)
                           for p, lead, other in (("left", "on", "at"), ("right", "on", "at"),
                                                  ("top", "at", "on"), ("bottom", "at", "on"))}
OTHER_AXIS = {"horizontal": "vertical", "vertical": "horizontal", "center": "center"}
CONDITIONS = ("as written", "prepositions swapped")

Answerer = Callable[[str, str], str]  # (scene in words, question) -> answer


@dataclass(frozen=True)
class Question:
    words: str  # the scene in words, as written
    question: str
    place: str  # the true place
    objects: int  # objects in the scene


def swap_prepositions(words: str) -> str:
    """`words` with the leading word of each left/right/top/bottom place phrase swapped (the background's
    "on a ..." and "in the middle" are left as they are)."""
    return re.sub("|".join(map(re.escape, SWAPPED)), lambda m: SWAPPED[m.group(0)], words)


def position_questions(scenes: dict[str, dict]) -> list[Question]:
    """One question per evaluation-scene object whose colour and shape are its scene's alone."""
    out = []
    for raw in scenes.values():
        if raw["set"] in TRAINING_SETS:
            continue
        scene = Scene.from_dict(raw)
        words = scene_in_words(scene)
        out += [Question(words, position_question(o), o.position, len(scene.objects)) for o in scene.uniquely_named()]
    return out


def answered_place(answer: str) -> str:
    """The place an answer names ("left", "at the bottom", "middle" -> "center"), or "other"."""
    words = re.findall(r"[a-z]+", answer.lower())
    for word in words:
        if word in POSITIONS:
            return word
        if word in ("middle", "centre"):
            return "center"
    return "other"


def probe(questions: list[Question], answer: Answerer) -> dict[str, dict[str, float]]:
    """Per condition: accuracy, the share of answers on the true place's axis, the share on the axis that
    the text's preposition names, how often the side is right when the axis is (left/right/top/bottom only),
    and the accuracy in one-object scenes; all in percent, with the number of questions."""
    out = {}
    for condition in CONDITIONS:
        tally: Counter[str] = Counter()
        for q in questions:
            words = q.words if condition == CONDITIONS[0] else swap_prepositions(q.words)
            got = answered_place(answer(words, q.question))
            true_axis = AXES[q.place]
            named_axis = true_axis if condition == CONDITIONS[0] else OTHER_AXIS[true_axis]
            on_axis = got != "other" and AXES[got] == true_axis
            tally["questions"] += 1
            tally["correct"] += got == q.place
            tally["on_true_axis"] += on_axis
            tally["on_named_axis"] += got != "other" and AXES[got] == named_axis
            if true_axis != "center" and on_axis:
                tally["sided"] += 1
                tally["right_side"] += got == q.place
            if q.objects == 1:
                tally["single"] += 1
                tally["single_correct"] += got == q.place
        out[condition] = {
            "questions": tally["questions"],
            "accuracy": _percent(tally["correct"], tally["questions"]),
            "true_axis": _percent(tally["on_true_axis"], tally["questions"]),
            "axis_its_preposition_names": _percent(tally["on_named_axis"], tally["questions"]),
            "right_side_given_axis": _percent(tally["right_side"], tally["sided"]),
            "one_object_accuracy": _percent(tally["single_correct"], tally["single"]),
        }
    return out


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else float("nan")


def probe_model(root: Path, model_name: str) -> dict[str, dict[str, float]]:
    """`probe` of a toy zoo model's frozen LLM, answering as in the text reference (greedy, the zero-shot
    prompt of its family)."""
    from blip2 import api
    from toyworld.analyses.ceiling import read_scenes
    from toyworld.backbones.llms import answer_from_text
    from toyworld.errors import ToyError

    model = api.load_model(model_name)
    if model.cfg.llm is None:
        raise ToyError(f"{model_name}: a stage-1 model with no LLM; the probe needs a model with an LLM")
    family = model.cfg.llm.family
    return probe(position_questions(read_scenes(root)),
                 lambda words, question: answer_from_text(model.llm, model.tokenizer, words, question, family))
