"""GQA-style compositional questions about toy scenes: relations, verify, choose, logical and side.

Like the rest of the toy language, a pure function of a scene and a seeded RNG. GQA has one answer per
question, so there are no annotator variants here.
"""

from __future__ import annotations

import random
from collections import Counter

from toyworld.data.language import POSITION_PHRASES, QA, _a, _unique_by
from toyworld.data.scenes import COLOURS, POSITIONS, SHAPES, Scene, ToyObject


def _left_of(a: ToyObject, b: ToyObject) -> bool:
    return POSITIONS[a.position][0] + 10 < POSITIONS[b.position][0]


def _above(a: ToyObject, b: ToyObject) -> bool:
    return POSITIONS[a.position][1] + 10 < POSITIONS[b.position][1]


def _relation(a: ToyObject, b: ToyObject) -> str | None:
    """How ``a`` stands to ``b`` in GQA's words, if it is clear-cut."""
    if _left_of(a, b):
        return "to the left of"
    if _left_of(b, a):
        return "to the right of"
    if _above(a, b):
        return "above"
    if _above(b, a):
        return "below"
    return None


def _gqa(kind: str, scene: Scene, rng: random.Random) -> QA:
    objs = scene.objects
    o = rng.choice(scene.uniquely_named() or objs)
    name = f"{o.colour} {o.shape}"
    if kind == "relate" and len(objs) > 1:
        related = [(x, _relation(x, o)) for x in objs if x is not o]
        counts = Counter(rel for _, rel in related)
        others = [(x, rel) for x, rel in related if rel and counts[rel] == 1]  # "the shape above" names one
        if others:
            x, rel = rng.choice(others)
            if rng.random() < 0.5:
                return QA(
                    kind,
                    f"What color is the shape {rel} the {name}?",
                    x.colour,
                    "query",
                    detail=f"The shape is {x.colour}.",
                )
            return QA(kind, f"What shape is {rel} the {name}?", x.shape, "query", detail=f"It is a {x.shape}.")
    if kind == "verify":
        shape, colour = (o.shape, o.colour) if rng.random() < 0.5 else (rng.choice(SHAPES), rng.choice(list(COLOURS)))
        yes = (shape, colour) in scene.combos
        return QA(
            kind,
            f"Is there {_a(f'{colour} {shape}')} in the image?",
            "yes" if yes else "no",
            "verify",
            detail=f"{'Yes' if yes else 'No'}, there is {'a' if yes else 'no'} {colour} {shape}.",
        )
    if kind == "choose":
        other = rng.choice([c for c in COLOURS if c != o.colour])
        first, second = (o.colour, other) if rng.random() < 0.5 else (other, o.colour)
        unique = _unique_by(objs, "shape")
        target = f"the {o.shape}" if o in unique else f"the shape {POSITION_PHRASES[o.position][0]}"
        return QA(kind, f"Is {target} {first} or {second}?", o.colour, "choose", detail=f"It is {o.colour}.")
    if kind == "logical":
        a, b = rng.sample(SHAPES, 2)
        if rng.random() < 0.5 and len(objs) > 1 and objs[0].shape != objs[1].shape:
            a, b = objs[0].shape, objs[1].shape
        shapes = {x.shape for x in objs}
        yes = a in shapes and b in shapes and a != b
        return QA(
            kind,
            f"Are there both {_a(a)} and {_a(b)} in the picture?",
            "yes" if yes else "no",
            "logical",
            detail=f"{'Yes' if yes else 'No'}, there {'are' if yes else 'are not'} both.",
        )
    side = "left" if o.position == "left" else "right" if o.position == "right" else None
    if side is None:
        return QA(
            "query",
            f"What color is the {o.shape}?"
            if o in _unique_by(objs, "shape")
            else f"What color is the shape {POSITION_PHRASES[o.position][0]}?",
            o.colour,
            "query",
            detail=f"The {o.shape} is {o.colour}.",
        )
    return QA("side", f"On which side is the {name}?", side, "query", detail=f"The {name} is on the {side}.")


def gqa_questions(scene: Scene, rng: random.Random, n: int) -> list[QA]:
    """GQA-style compositional questions with one answer each (relations, verify, choose, logical)."""
    kinds = ("relate", "verify", "choose", "logical", "side")
    return [_gqa(kind, scene, rng) for kind in rng.sample(kinds, min(n, len(kinds)))]
