"""Our stage-1 model against transformers' Blip2ForImageTextRetrieval: ITM logits and ITC similarities."""

from __future__ import annotations

import pytest
import torch
import transformers

import blip2
from blip2.models.blip2_qformer import itc_similarity
from tests.conftest import random_images

TEXTS = ["a red circle on the left", "two blue squares", "yes", "what color is the star"]


@pytest.fixture(params=["base", "wide"])
def pair(request, tiny_dir):
    path = tiny_dir("itm", request.param)
    ref = transformers.Blip2ForImageTextRetrieval.from_pretrained(path).eval()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    enc = tok(TEXTS, padding="max_length", max_length=12, truncation=True, return_tensors="pt")
    ours = blip2.load_model(path)
    pixels = blip2.image_transform(ours).batch(random_images(len(TEXTS), seed=4))
    return ours, ref, enc, pixels


def test_itm_logits_match(pair):
    ours, ref, enc, pixels = pair
    with torch.no_grad():
        theirs = ref(pixel_values=pixels, input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                     use_image_text_matching_head=True).logits_per_image
        mine = ours.itm_logits(ours.vision(pixels), enc.input_ids, enc.attention_mask)
    torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)


def test_itm_with_shared_image_keys_matches(pair):
    """Reusing one image's cross-attention keys/values for many texts gives the same logits."""
    ours, ref, enc, pixels = pair
    with torch.no_grad():
        image = ours.vision(pixels[:1])
        direct = ours.itm_logits(image.expand(len(TEXTS), -1, -1), enc.input_ids, enc.attention_mask)
        shared = ours.itm_logits(None, enc.input_ids, enc.attention_mask, image_kv=ours.qformer.image_kv(image))
    torch.testing.assert_close(shared, direct, atol=1e-6, rtol=0)


def test_itc_similarity_matches(pair):
    ours, ref, enc, pixels = pair
    with torch.no_grad():
        theirs = ref(pixel_values=pixels, input_ids=enc.input_ids, attention_mask=enc.attention_mask)
        _, queries, _ = ours.encode_image(pixels)
        image_feats = ours.image_itc_features(queries)
        text_feats = ours.text_itc_features(enc.input_ids, enc.attention_mask)
        mine = itc_similarity(image_feats, text_feats)
    torch.testing.assert_close(mine, theirs.logits_per_image, atol=1e-5, rtol=0)
    torch.testing.assert_close(text_feats, theirs.text_embeds, atol=1e-5, rtol=0)
    assert mine.shape == (len(TEXTS), len(TEXTS))
    assert mine.std() > 0  # random weights still give distinct similarities


def test_api_scores_are_the_model_scores(pair):
    ours, _, _, _ = pair
    images = random_images(2, seed=9)
    itm = blip2.itm_scores(ours, images, TEXTS, max_text_tokens=35)
    itc = blip2.itc_scores(ours, images, TEXTS, max_text_tokens=35)
    assert itm.shape == itc.shape == (2, len(TEXTS))
    assert ((itm > 0) & (itm < 1)).all()
    with torch.no_grad():
        pixels = blip2.image_transform(ours).batch(images)
        ids, mask = blip2.api._text_batch(ours, TEXTS, 35)
        direct = ours.itm_logits(ours.vision(pixels[1:]).expand(len(TEXTS), -1, -1), ids, mask).softmax(-1)[:, 1]
    torch.testing.assert_close(itm[1], direct, atol=1e-6, rtol=0)
