"""`toyworld.analyses.itm_negatives`: how often ITM's sampled hard negatives are true of their image."""

from __future__ import annotations

import pytest

from toyworld.analyses.itm_negatives import count_true_negatives, measure

TEXTS = ["a red circle", "a blue square", "A  Red circle", "two shapes"]
IMAGES = ["a", "b", "c", "d"]
POOLS = {"a": {"a red circle", "two shapes"}, "b": {"a blue square"}, "c": {"a red circle"},
         "d": {"two shapes", "a red circle"}}


def test_counts_negatives_true_of_their_image():
    counts = count_true_negatives(TEXTS, IMAGES, [1, 2, 3, 4], neg_image=[2, 0, 1, 0], neg_text=[3, 0, 0, 2],
                                  pools=POOLS)
    # texts: image a gets "two shapes" (true), b "a red circle" (no), c and d "a red circle" (true);
    # images: "a red circle" of image c (true), "a blue square" of a (no), "a red circle" of b (no),
    # "two shapes" of a (true). Case and spacing do not matter.
    assert counts["pairs"] == 4
    assert counts["negative_text_true"] == 3
    assert counts["negative_image_true"] == 2
    # a caption of another image, drawn uniformly: true of a 2/3, of b 0, of c 1/3, of d 2/3
    assert counts["random_text_true"] == pytest.approx(5 / 3)


def test_the_random_baseline_never_draws_the_images_own_captions():
    pools = {"a": {"x"}, "b": {"y"}}
    counts = count_true_negatives(["x", "x", "y"], ["a", "a", "b"], [1, 1, 2], neg_image=[2, 2, 0],
                                  neg_text=[2, 2, 0], pools=pools)
    assert counts["random_text_true"] == 0  # image a's only other-image text is "y"; b's are "x"
    assert counts["negative_text_true"] == 0 and counts["negative_image_true"] == 0


def test_a_pool_that_misses_its_own_caption_is_refused_by_image():
    with pytest.raises(ValueError, match="pool of b misses its own caption 'a blue square'"):
        count_true_negatives(TEXTS, IMAGES, [1, 2, 3, 4], neg_image=[1, 0, 0, 0], neg_text=[1, 0, 0, 0],
                             pools={**POOLS, "b": {"a red circle"}})


def test_a_batch_of_one_image_is_refused():
    with pytest.raises(ValueError, match="one image has no negatives"):
        count_true_negatives(["x", "x"], ["a", "a"], [7, 7], neg_image=[1, 0], neg_text=[1, 0], pools={"a": {"x"}})


def test_hard_negatives_of_the_committed_stage1_are_rarely_true_of_their_image(default_root, committed_toy_models):
    """Version-2 captions are specific, so ITM learns from right labels: a sampled hard negative is rarely true
    of its image (version 1: 6.2 % of texts, 7.8 % of images). The counting itself is tested above."""
    out = measure(default_root, "toy-qformer", batches=4)
    assert out["pairs"] == 256
    assert all(0 <= out[k] <= 2 for k in ("negative_text_true", "negative_image_true", "random_text_true"))
    assert 40 < out["itm_loss"] < 63  # mean ITM cross-entropy x100 on these batches, below its prior (63.65)


def test_a_model_with_an_llm_or_no_batches_is_refused_by_name(default_root, committed_toy_models):
    with pytest.raises(ValueError, match="toy-opt: a model with an LLM"):
        measure(default_root, "toy-opt", batches=1)
    with pytest.raises(ValueError, match="batches must be at least 1"):
        measure(default_root, "toy-qformer", batches=0)
    with pytest.raises(ValueError, match="batch size must be at least 2"):
        measure(default_root, "toy-qformer", batch_size=0)
