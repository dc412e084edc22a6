"""The position probe (`toyworld.analyses.position_probe`, `bench toy-position-probe`): it must tell a reader
of the place word from a reader of the preposition, and what it says of the committed toy OPT
(docs/toy-models.md) must hold."""

from __future__ import annotations

import json
import re

import pytest

from toyworld.analyses.position_probe import (
    CONDITIONS,
    answered_place,
    position_questions,
    probe,
    probe_model,
    swap_prepositions,
)
from toyworld.data.config import SCENES

WRITTEN, SWAPPED = CONDITIONS


def _phrase(words: str, question: str) -> tuple[str, str]:
    """(preposition, place word) of the object the question names, read off the words."""
    colour, shape = re.fullmatch(r"where is the (.+) (\w+)\?", question).groups()
    match = re.search(rf"\b{colour} {shape} (on|at|in) the (\w+)", words)
    return match.group(1), match.group(2)


def place_reader(words: str, question: str) -> str:
    return _phrase(words, question)[1]


def preposition_reader(words: str, question: str) -> str:
    return {"on": "left", "at": "top", "in": "in the middle"}[_phrase(words, question)[0]]


@pytest.fixture(scope="module")
def questions(small_root):
    found = position_questions(json.loads((small_root / SCENES).read_text()))
    assert len(found) > 20 and {q.objects for q in found} >= {1, 2}
    return found


def test_a_reader_of_the_place_word_keeps_its_answers_under_the_swap(questions):
    result = probe(questions, place_reader)
    for condition in CONDITIONS:
        assert result[condition]["accuracy"] == 100.0
        assert result[condition]["true_axis"] == 100.0
    assert result[SWAPPED]["axis_its_preposition_names"] < 50


def test_a_reader_of_the_preposition_follows_it_to_the_other_axis(questions):
    result = probe(questions, preposition_reader)
    centre = 100 * sum(q.place == "center" for q in questions) / len(questions)
    assert result[WRITTEN]["true_axis"] == 100.0
    assert 0 < result[WRITTEN]["right_side_given_axis"] < 100  # it always says left or top
    assert result[SWAPPED]["axis_its_preposition_names"] == 100.0
    assert result[SWAPPED]["true_axis"] == pytest.approx(centre, abs=0.1)


def test_the_swap_changes_place_phrases_only():
    words = ("a big red star on the left, a small blue cross at the top and a big gray circle in the middle on a "
             "white background.")
    assert swap_prepositions(words) == ("a big red star at the left, a small blue cross on the top and a big gray "
                                        "circle in the middle on a white background.")


@pytest.mark.parametrize("answer,place", [("left", "left"), ("on the left side", "left"), ("In the middle", "center"),
                                          ("bottom.", "bottom"), ("banana", "other"), ("", "other")])
def test_answers_are_read_as_places(answer, place):
    assert answered_place(answer) == place


def test_the_committed_toy_opt_reads_the_place_word(small_root, committed_toy_models):
    """The finding of docs/toy-models.md: the toy OPT says where an object is, and with the prepositions swapped
    its answers keep the place word's side rather than follow the preposition to the other axis. (The 2,800-step
    OPT before it read the preposition: this test then failed on `accuracy` and on the swapped axis.)"""
    result = probe_model(small_root, "toy-opt")
    assert result[WRITTEN]["accuracy"] >= 95 and result[WRITTEN]["one_object_accuracy"] >= 95
    assert result[SWAPPED]["right_side_given_axis"] >= 90
    assert result[SWAPPED]["true_axis"] > 60 > result[SWAPPED]["axis_its_preposition_names"]


def test_the_committed_toy_t5_reads_the_place_word_but_not_whose_it_is(small_root, committed_toy_models):
    """The other finding there: the swap leaves the toy T5's answers as they were, and it is right when a scene
    has one object, yet often wrong about which object a place belongs to."""
    result = probe_model(small_root, "toy-t5")
    assert result[WRITTEN]["one_object_accuracy"] >= 90 and result[SWAPPED]["one_object_accuracy"] >= 90
    assert abs(result[WRITTEN]["accuracy"] - result[SWAPPED]["accuracy"]) < 10
    assert result[WRITTEN]["accuracy"] < 70
