"""Words about toy scenes: descriptions, captions, VQA / OK-VQA questions with annotator answers, and
the world facts the OK-VQA counterpart asks about (GQA's compositional questions: `gqa_questions`).

Everything here is a pure function of a :class:`~toyworld.data.scenes.Scene` and a seeded RNG, so the
same seed always gives the same files. VQA answers deliberately mix synonyms and formatting variants
("2"/"two", "yes"/"yes."/"Yes", "gray"/"grey", "left"/"left side") and a little annotator error, so
the VQA scorer's normalisation rules change the numbers as they do on the real benchmark.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from toyworld.data.scenes import COLOURS, POSITIONS, SHAPES, Scene, ToyObject

NUMBER_WORDS = ("zero", "one", "two", "three", "four")
POSITION_PHRASES: dict[str, tuple[str, ...]] = {
    "left": ("on the left", "on the left side"),
    "right": ("on the right", "on the right side"),
    "top": ("at the top", "near the top"),
    "bottom": ("at the bottom", "near the bottom"),
    "center": ("in the middle", "in the center"),
}
# VQA answer variants: synonyms and formats real annotators produce for the same fact.
COLOUR_VARIANTS: dict[str, tuple[str, ...]] = {
    "gray": ("grey", "light gray", "gray.", "silver"),
    "purple": ("violet", "purple.", "dark purple", "Purple"),
    "orange": ("dark orange", "orange.", "Orange"),
}
SHAPE_VARIANTS: dict[str, tuple[str, ...]] = {
    "circle": ("round", "a circle", "circle.", "ball"),
    "square": ("rectangle", "a square", "square.", "box"),
    "triangle": ("a triangle", "triangle.", "pyramid"),
    "star": ("a star", "star.", "star shape"),
    "cross": ("plus", "plus sign", "a cross", "cross."),
    "diamond": ("rhombus", "a diamond", "diamond."),
}
POSITION_ANSWERS: dict[str, str] = {p: p for p in POSITIONS}
POSITION_VARIANTS: dict[str, tuple[str, ...]] = {
    "left": ("on the left", "left side", "the left", "left."),
    "right": ("on the right", "right side", "the right", "right."),
    "top": ("at the top", "top side", "up", "top."),
    "bottom": ("at the bottom", "bottom side", "down", "bottom."),
    "center": ("middle", "in the middle", "centre", "center."),
}
YES_NO_VARIANTS: dict[str, tuple[str, ...]] = {"yes": ("yes.", "Yes", "yeah", "yep"), "no": ("no.", "No", "nope")}
# World knowledge for the OK-VQA counterpart: it cannot be read off the pixels alone.
SIDES: dict[str, str] = {"circle": "0", "square": "4", "triangle": "3", "star": "10", "cross": "12", "diamond": "4"}
SIDE_VARIANTS: dict[str, tuple[str, ...]] = {"0": ("none", "1", "infinite", "zero")}
FRUITS: dict[str, tuple[str, ...]] = {
    "red": ("apple", "strawberry", "cherry"),
    "green": ("lime", "kiwi", "green apple"),
    "blue": ("blueberry", "blueberries", "plum"),
    "yellow": ("banana", "lemon", "pineapple"),
    "purple": ("grape", "grapes", "plum"),
    "orange": ("orange", "tangerine", "peach"),
}
VQA_ANSWER_TYPES: dict[str, str] = {
    "colour": "other",
    "shape": "other",
    "position": "other",
    "count": "number",
    "presence": "yes/no",
    "sides": "number",
    "fruit": "other",
    "fruit_match": "yes/no",
}
VQA_KINDS: tuple[str, ...] = ("colour", "shape", "count", "presence", "position")
OKVQA_KINDS: tuple[str, ...] = ("sides", "fruit", "fruit_match")


@dataclass(frozen=True)
class QA:
    """One question about a scene, its canonical answer and (for VQA) the 10 annotator answers."""

    kind: str
    question: str
    answer: str
    question_type: str
    answers: tuple[str, ...] = ()
    detail: str = ""

    @property
    def answer_type(self) -> str:
        return VQA_ANSWER_TYPES.get(self.kind, "other")


def _a(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


# A colour's other spelling, which a caption uses 30 % of the time.
CAPTION_SPELLINGS = {"gray": "grey"}


def _colour_word(colour: str, rng: random.Random) -> str:
    return CAPTION_SPELLINGS[colour] if colour in CAPTION_SPELLINGS and rng.random() < 0.3 else colour


def _colour_words(colour: str) -> tuple[str, ...]:
    """Every word `_colour_word` may write for `colour`."""
    return (colour, CAPTION_SPELLINGS[colour]) if colour in CAPTION_SPELLINGS else (colour,)


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _background_name(scene: Scene) -> str:
    """The background's complete name: "white", "noisy white" or "white to beige gradient"."""
    bg = scene.background
    if bg.style == "gradient":
        return f"{bg.colour} to {bg.colour2 or bg.colour} gradient"
    return f"noisy {bg.colour}" if bg.style == "noise" else bg.colour


def _background_phrases(scene: Scene) -> tuple[str, ...]:
    """The background as a captioner might say it: always its colour, in one of a few wordings."""
    bg = scene.background
    if bg.style == "gradient":
        return (f"a {_background_name(scene)} background", f"a {bg.colour} gradient background")
    if bg.style == "noise":
        return (f"a noisy {bg.colour} background", f"a speckled {bg.colour} background",
                f"a grainy {bg.colour} background")
    return (_a(f"{bg.colour} background"),)


def describe(scene: Scene) -> str:
    """A complete, canonical description in words (what a text-only LLM sees instead of pixels)."""
    parts = [f"{_a(f'{o.size} {o.colour} {o.shape}')} {POSITION_PHRASES[o.position][0]}" for o in scene.objects]
    return f"{_join(parts)} on {_a(_background_name(scene) + ' background')}"


def plural(shape: str) -> str:
    return shape + ("es" if shape.endswith("s") else "s")


# One caption wording of a scene: each object's place phrase and colour word, the background phrase, an object order.
Wording = tuple[dict[ToyObject, str], dict[ToyObject, str], str, tuple[ToyObject, ...]]


def captions(scene: Scene, rng: random.Random, n: int = 5) -> list[str]:
    """``n`` distinct templated captions of ``scene``.

    Every caption names each object's colour and shape, and its size or its place (most name both), and
    many name the background: a caption should be true of its own image and rarely of another one, or
    retrieval and ITM learn from labels that are wrong (measured by `bench toy-ceiling`).
    """
    objs = scene.objects
    pos = {o: rng.choice(POSITION_PHRASES[o.position]) for o in objs}
    col = {o: _colour_word(o.colour, rng) for o in objs}
    # A choice among one makes no draw: the RNG is read exactly as by the generator that wrote the committed
    # roots, so they stay byte-identical.
    phrases = _background_phrases(scene)
    bg = rng.choice(phrases) if len(phrases) > 1 else phrases[0]
    order = tuple(rng.sample(objs, len(objs))) if len(objs) > 1 else objs
    return rng.sample(_caption_templates(scene, (pos, col, bg, order)), n)


def caption_variants(scene: Scene) -> set[str]:
    """Every caption :func:`captions` can write for ``scene``, whatever its RNG draws: what is true of it in
    the generator's words (the retrieval oracle and the ITM label check compare texts with these)."""
    objs = scene.objects
    places = itertools.product(*(POSITION_PHRASES[o.position] for o in objs))
    colours = itertools.product(*(_colour_words(o.colour) for o in objs))
    out: set[str] = set()
    for place, colour, bg, order in itertools.product(list(places), list(colours), _background_phrases(scene),
                                                      list(itertools.permutations(objs))):
        wording = (dict(zip(objs, place, strict=True)), dict(zip(objs, colour, strict=True)), bg, order)
        out.update(_caption_templates(scene, wording))
    return out


def _caption_templates(scene: Scene, wording: Wording) -> list[str]:
    """Every caption template of ``scene`` filled with one wording, without repeats."""
    objs = scene.objects
    pos, col, bg, order = wording
    full = {o: f"{o.size} {col[o]} {o.shape}" for o in objs}
    if len(objs) == 1:
        o = objs[0]
        pool = [
            f"{_a(full[o])} {pos[o]} on {bg}",
            f"there is {_a(full[o])} {pos[o]} of the picture",
            f"{_a(full[o])} {pos[o]}, drawn on {bg}",
            f"a picture of {_a(f'{o.size} {o.shape}')} that is {col[o]}, {pos[o]}",
            f"one {full[o]} {pos[o]}",
            f"{bg} with {_a(full[o])} {pos[o]}",
            f"an image showing {_a(full[o])} on {bg}",
            f"a single {o.size} {o.shape} in {col[o]} {pos[o]} on {bg}",
        ]
    else:
        count = NUMBER_WORDS[len(objs)]
        placed = [f"{_a(full[o])} {pos[o]}" for o in objs]
        short = [f"{_a(f'{col[o]} {o.shape}')} {pos[o]}" for o in objs]
        first, *others = order
        pool = [
            f"{count} shapes: {_join(placed)}",
            _join(placed),
            f"{count} shapes on {bg}: {_join(short)}",
            f"a picture with {_join([_a(full[o]) for o in objs])} on {bg}",
            f"some colorful shapes: {_join([f'{full[o]} {pos[o]}' for o in objs])}",
            f"{_a(full[first])} {pos[first]} next to {_join([f'{_a(full[o])} {pos[o]}' for o in others])}",
            f"{bg} with {_join(short)}",
            f"there are {count} shapes in the picture: {_join(placed)}",
        ]
    return list(dict.fromkeys(pool))


def _answers(rng: random.Random, canonical: str, variants: Sequence[str], wrong: Sequence[str]) -> tuple[str, ...]:
    """10 annotator answers with ``canonical`` as the strict plurality.

    About 40% are unanimous, 45% a clear majority (6-9) plus variants or a slip, and 15% split: only
    3 annotators give the canonical answer and the rest scatter over real alternatives (no mere
    "yes." for "yes"), so even the best answer earns 90% there, as on real VQA data.
    """
    mode = rng.random()
    if mode < 0.4 or not (variants or wrong):
        return (canonical,) * 10
    split = mode >= 0.85
    n_canonical = 3 if split else rng.randint(6, 9)
    cap = n_canonical - 1  # no other answer may tie the canonical one
    alternatives = [a for a in (*variants, *wrong) if a.rstrip(".") != canonical]
    counts: Counter[str] = Counter()
    answers = [canonical] * n_canonical
    for _ in range(10 - n_canonical):
        if split:
            pool = alternatives
        else:
            pool = list(variants) if variants and (not wrong or rng.random() < 0.8) else list(wrong)
        options = [a for a in pool if counts[a] < cap and a != canonical]
        answer = rng.choice(options) if options else canonical
        counts[answer] += 1
        answers.append(answer)
    rng.shuffle(answers)
    return tuple(answers)


def _unique_by(objs: Sequence[ToyObject], key: str) -> list[ToyObject]:
    counts = Counter(getattr(o, key) for o in objs)
    return [o for o in objs if counts[getattr(o, key)] == 1]


def _vqa(kind: str, scene: Scene, rng: random.Random) -> QA:
    objs = scene.objects
    o = rng.choice(objs)
    if kind == "colour":
        by_shape = _unique_by(objs, "shape")
        if by_shape and rng.random() < 0.6:
            o = rng.choice(by_shape)
            question, qtype = f"what color is the {o.shape}?", "what color is the"
        else:
            question, qtype = f"what color is the shape {POSITION_PHRASES[o.position][0]}?", "what color is the"
        wrong = [c for c in COLOURS if c != o.colour]
        variants = COLOUR_VARIANTS.get(o.colour, (f"{o.colour}.", o.colour.capitalize(), f"dark {o.colour}"))
        return QA(kind, question, o.colour, qtype, _answers(rng, o.colour, variants, wrong))
    if kind == "shape":
        by_colour = _unique_by(objs, "colour")
        if by_colour and rng.random() < 0.5:
            o = rng.choice(by_colour)
            question, qtype = f"what shape is the {o.colour} object?", "what shape is the"
        else:
            question, qtype = f"what shape is {POSITION_PHRASES[o.position][0]}?", "what shape is"
        wrong = [s for s in SHAPES if s != o.shape]
        return QA(kind, question, o.shape, qtype, _answers(rng, o.shape, SHAPE_VARIANTS[o.shape], wrong))
    if kind == "count":
        choice = rng.random()
        if choice < 0.5:
            question, n = rng.choice(("how many shapes are there?", "how many shapes are in the picture?")), len(objs)
        elif choice < 0.75:
            colour = rng.choice([o.colour, rng.choice(list(COLOURS))])
            question, n = f"how many {colour} shapes are there?", sum(x.colour == colour for x in objs)
        else:
            shape = rng.choice([o.shape, rng.choice(SHAPES)])
            question, n = f"how many {plural(shape)} are there?", sum(x.shape == shape for x in objs)
        canonical = str(n)
        variants = (NUMBER_WORDS[n], f"{n}.") + (("none", "no") if n == 0 else ())
        return QA(
            kind,
            question,
            canonical,
            "how many",
            _answers(rng, canonical, variants, [str(n + 1), str(n + 2), str(abs(n - 1))]),
        )
    if kind == "presence":
        if rng.random() < 0.5:
            shape, colour = o.shape, o.colour
        elif rng.random() < 0.5:  # hard negative: a present shape in another colour
            shape, colour = o.shape, rng.choice([c for c in COLOURS if c != o.colour])
        else:
            shape, colour = rng.choice(SHAPES), rng.choice(list(COLOURS))
        if rng.random() < 0.7:
            present = (shape, colour) in scene.combos
            question, qtype = f"is there {_a(f'{colour} {shape}')}?", "is there a"
        else:
            present = any(x.shape == shape for x in objs)
            question, qtype = f"is there {_a(shape)} in the picture?", "is there a"
        canonical = "yes" if present else "no"
        opposite = "no" if present else "yes"
        return QA(kind, question, canonical, qtype, _answers(rng, canonical, YES_NO_VARIANTS[canonical], [opposite]))
    if kind == "position":
        unique = scene.uniquely_named()
        o = rng.choice(unique) if unique else o
        question = rng.choice((position_question(o), f"where is the {o.colour} {o.shape} placed?"))
        wrong = [p for p in POSITIONS if p != o.position]
        canonical = POSITION_ANSWERS[o.position]
        return QA(
            kind, question, canonical, "where is the", _answers(rng, canonical, POSITION_VARIANTS[o.position], wrong)
        )
    raise ValueError(f"unknown VQA question kind {kind!r}")


def position_question(o: ToyObject) -> str:
    """The plain VQA question for where an object is (the position probe asks it too)."""
    return f"where is the {o.colour} {o.shape}?"


def vqa_questions(scene: Scene, rng: random.Random, n: int) -> list[QA]:
    """``n`` VQAv2-style questions of distinct kinds (colour, shape, count, presence, position)."""
    return [_vqa(kind, scene, rng) for kind in rng.sample(VQA_KINDS, min(n, len(VQA_KINDS)))]


def _okvqa(kind: str, scene: Scene, rng: random.Random) -> QA:
    o = rng.choice(scene.objects)
    where = POSITION_PHRASES[o.position][0]
    if kind == "sides":
        canonical = SIDES[o.shape]
        variants = SIDE_VARIANTS.get(
            canonical, (NUMBER_WORDS[int(canonical)] if int(canonical) < 5 else f"{canonical}.",)
        )
        wrong = [str(int(canonical) + 1), "5"]
        return QA(
            kind,
            f"how many sides does the shape {where} have?",
            canonical,
            "how many",
            _answers(rng, canonical, variants, wrong),
        )
    coloured = [x for x in scene.objects if x.colour in FRUITS]
    if kind == "fruit" and coloured:
        o = rng.choice(coloured)
        fruits = FRUITS[o.colour]
        return QA(
            kind,
            f"which fruit has the same color as the shape {POSITION_PHRASES[o.position][0]}?",
            fruits[0],
            "which",
            _answers(rng, fruits[0], fruits[1:], ["apple", "banana"]),
        )
    fruit_colour = rng.choice(list(FRUITS))
    fruit = FRUITS[fruit_colour][0]
    canonical = "yes" if fruit_colour == o.colour else "no"
    opposite = "no" if canonical == "yes" else "yes"
    return QA(
        "fruit_match",
        f"is the {o.shape} {where} the same color as {_a(fruit)}?",
        canonical,
        "is the",
        _answers(rng, canonical, YES_NO_VARIANTS[canonical], [opposite]),
    )


def okvqa_questions(scene: Scene, rng: random.Random, n: int) -> list[QA]:
    """OK-VQA counterpart: questions that need a fact from outside the picture (sides, fruit colours)."""
    return [_okvqa(kind, scene, rng) for kind in rng.sample(OKVQA_KINDS, min(n, len(OKVQA_KINDS)))]


def knowledge_sentences() -> list[str]:
    """World facts the OK-VQA counterpart needs, in words, for the text-only LLM training."""
    lines = []
    for shape, sides in SIDES.items():
        lines.append(f"a {shape} has {sides} sides.")
        lines.append(f"question: how many sides does a {shape} have? answer: {sides}")
    for colour, fruits in FRUITS.items():
        for fruit in fruits:
            lines.append(f"{_a(fruit)} is {colour}.")
        lines.append(f"question: which fruit is {colour}? answer: {fruits[0]}")
    return lines
