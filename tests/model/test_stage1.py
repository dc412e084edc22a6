"""Behaviour of the stage-1 objectives: the attention masks of Fig. 2, ITM negatives, and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import blip2
from blip2.config import Blip2Config, QFormerConfig, VisionConfig
from blip2.models import blip2_qformer
from blip2.models.blip2_qformer import itc_similarity, sample_itm_negatives
from blip2.models.qformer import bidirectional_mask, multimodal_causal_mask, unimodal_mask
from blip2.testing import bert_tokenizer, randomize_

NQ = 4


def tiny_stage1(dropout: float = 0.0) -> blip2.Blip2Qformer:
    tok = bert_tokenizer()
    cfg = Blip2Config(
        vision=VisionConfig(image_size=28, width=32, depth=2, heads=4, mlp_dim=48),
        qformer=QFormerConfig(hidden=32, layers=2, heads=4, ffn_dim=40, vision_width=32, num_queries=NQ,
                              with_text=True, vocab_size=len(tok), max_positions=32, dropout=dropout,
                              attention_dropout=dropout),
        embed_dim=16,
    )
    model = randomize_(blip2.build_model(cfg), seed=5)
    with torch.no_grad():
        model.temp.fill_(0.07)
    model.tokenizer, model.bos_token_id = tok, tok.bos_token_id
    return model.eval()


def batch(model, texts):
    enc = model.tokenizer(texts, padding="max_length", max_length=10, return_tensors="pt")
    return enc.input_ids, enc.attention_mask


TEXTS = ["a red circle", "two blue squares on the left", "a big star", "yes"]


itm_negatives = blip2_qformer.recorded_itm_negatives


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return tiny_stage1()


def test_mask_shapes_follow_figure_2():
    text_mask = torch.tensor([[1, 1, 0]])
    uni, bi, causal = (f(2, text_mask)[0, 0] for f in (unimodal_mask, bidirectional_mask, multimodal_causal_mask))
    # rows/cols: q0 q1 t0 t1 t2(pad)
    assert uni.tolist() == [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 0]]
    assert bi.tolist() == [[1, 1, 1, 1, 0]] * 5
    assert causal.tolist() == [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0],
                               [1, 1, 1, 1, 0]]


def test_changing_a_text_token_leaves_itc_image_features(model):
    """In a joint pass with the unimodal mask, the queries' ITC features ignore the text."""
    ids, mask = batch(model, TEXTS[:2])
    pixels = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        image = model.vision(pixels)
        joint, _ = model.qformer(image=image, input_ids=ids, mask=unimodal_mask(NQ, mask))
        edited = ids.clone()
        edited[:, 2] = (edited[:, 2] + 7) % 50 + 5
        joint_edited, _ = model.qformer(image=image, input_ids=edited, mask=unimodal_mask(NQ, mask))
        alone, _ = model.qformer(image=image)
        text_alone = model.text_itc_features(ids, mask)
    feats = model.image_itc_features(joint[:, :NQ])
    torch.testing.assert_close(feats, model.image_itc_features(joint_edited[:, :NQ]), atol=1e-6, rtol=0)
    torch.testing.assert_close(feats, model.image_itc_features(alone), atol=1e-6, rtol=0)
    # the text side of the joint pass is the text encoder alone (it never sees the queries)
    text_joint = torch.nn.functional.normalize(model.text_proj(joint[:, NQ]), dim=-1)
    torch.testing.assert_close(text_joint, text_alone, atol=1e-6, rtol=0)
    assert not torch.allclose(joint[:, NQ + 2], joint_edited[:, NQ + 2])  # the edit did change the text


def test_itg_text_never_sees_later_tokens_and_queries_never_see_text(model):
    ids, mask = batch(model, ["two blue squares on the left"] * 2)
    ids[:, 0] = model.bos_token_id
    pixels = torch.randn(1, 3, 28, 28).expand(2, -1, -1, -1)
    j = 3
    edited = ids.clone()
    edited[1, j] = (edited[1, j] + 11) % 50 + 5
    both = torch.stack([ids[0], edited[1]])
    with torch.no_grad():
        _, _, kv = model.encode_image(pixels)
        logits = model.itg_logits(both, mask, kv)
        joint, _ = model.qformer(image=model.vision(pixels), input_ids=both, mask=multimodal_causal_mask(NQ, mask))
        alone, _ = model.qformer(image=model.vision(pixels))
    torch.testing.assert_close(logits[0, :j], logits[1, :j], atol=1e-6, rtol=0)  # earlier tokens unaffected
    assert not torch.allclose(logits[0, j:], logits[1, j:], atol=1e-4)  # the edited one and later ones see it
    torch.testing.assert_close(joint[:, :NQ], alone, atol=1e-6, rtol=0)  # queries never see text
    # the cached-keys path (used in training) equals the joint pass with the multimodal causal mask
    joint_logits = model.itg_head(joint[:, NQ:], model.qformer.word_embeddings.weight)
    torch.testing.assert_close(logits, joint_logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", range(5))
def test_itm_negatives_are_never_positives(model, seed):
    torch.manual_seed(seed)
    ids, mask = batch(model, TEXTS)
    image_ids = torch.tensor([10, 11, 10, 12])  # texts 0 and 2 describe the same image
    with torch.no_grad(), itm_negatives() as seen:
        model(torch.randn(4, 3, 28, 28), ids, mask, image_ids=image_ids)
    [(neg_image, neg_text)] = seen
    assert (image_ids[neg_image] != image_ids).all()
    assert (image_ids[neg_text] != image_ids).all()


def test_itm_negatives_follow_the_itc_similarity():
    """Hard negatives: a wrong pair is drawn in proportion to softmax(similarity), a positive never."""
    torch.manual_seed(0)
    sim = torch.tensor([[5.0, 3.0, 3.0 + np.log(3.0), -20.0]]).expand(4, -1)  # row i's positive is column i
    same = torch.eye(4, dtype=torch.bool)
    draws = torch.stack([sample_itm_negatives(sim, sim, same)[1] for _ in range(4000)])
    counts = torch.stack([(draws == j).sum(0) for j in range(4)])  # [column, row]
    assert (counts[same] == 0).all()
    # row 0 (positive 0): columns 1 and 2 in the ratio 1 : 3, column 3 (20 below) practically never
    assert abs(counts[2, 0] / (counts[1, 0] + counts[2, 0]) - 0.75) < 0.03
    assert counts[3, 0] == 0
    # the text-to-image direction draws from its own similarities
    neg_image, _ = sample_itm_negatives(sim, torch.tensor([[0.0, 50.0, 0.0, 0.0]] * 4), same)
    assert neg_image[0] == 1 and neg_image[2] == 1


def test_itc_similarity_is_max_over_queries_without_temperature():
    e = torch.eye(4)
    image_feats = torch.stack([
        torch.stack([e[0], e[1], (e[0] + e[1]) / np.sqrt(2)]),
        torch.stack([e[2], -e[0], e[3]]),
        torch.stack([-(e[0] + e[1]) / np.sqrt(2), -(e[0] + e[1]) / np.sqrt(2), -0.6 * e[0] - 0.8 * e[1]]),
    ])
    text_feats = torch.stack([e[0], e[1], e[2]])
    expected = torch.tensor([
        [1.0, 1.0, 0.0],  # image 0: e0 and e1 each hit by a query
        [0.0, 0.0, 1.0],  # image 1: max(e2.e0, -e0.e0, e3.e0) = max(0, -1, 0) = 0
        [-0.6, -0.70710677, 0.0],  # image 2: all queries negative on e0/e1 -> the least negative
    ])
    torch.testing.assert_close(itc_similarity(image_feats, text_feats), expected, atol=1e-6, rtol=0)
    # in chunks of images (evaluation), the same matrix
    torch.testing.assert_close(itc_similarity(image_feats, text_feats, chunk=2), expected, atol=1e-6, rtol=0)


def test_itc_similarity_shape_errors():
    with pytest.raises(ValueError, match="n_images, n_queries, dim"):
        itc_similarity(torch.zeros(2, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"text_feats must be \[n_texts, 4\].*\(3, 5\)"):
        itc_similarity(torch.zeros(2, 3, 4), torch.zeros(3, 5))


def test_one_step_lowers_each_stage1_loss():
    torch.manual_seed(0)
    model = tiny_stage1(dropout=0.0).train()
    blip2.freeze_frozen_parts(model)
    ids, mask = batch(model, TEXTS[:2])  # B=2: each row has exactly one possible negative
    pixels = torch.randn(2, 3, 28, 28)
    before = model(pixels, ids, mask)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.05)
    before.loss.backward()
    opt.step()
    with torch.no_grad():
        after = model(pixels, ids, mask)
    for name in ("loss_itc", "loss_itm", "loss_itg"):
        assert getattr(after, name) < getattr(before, name), name
    assert torch.isclose(before.loss, before.loss_itc + before.loss_itm + before.loss_itg)


def test_frozen_vit_gets_no_gradient():
    model = tiny_stage1().train()
    blip2.freeze_frozen_parts(model)
    ids, mask = batch(model, TEXTS[:2])
    model(torch.randn(2, 3, 28, 28), ids, mask).loss.backward()
    assert all(p.grad is None for p in model.vision.trunk.parameters())
    assert model.qformer.query_tokens.grad is not None and model.qformer.query_tokens.grad.abs().sum() > 0
