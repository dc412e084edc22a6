"""Pieces of the toy build that decide what its models can learn: the Q-Former's init scale, the toy ViT's
whole-image content labels, and which tokens the toy OPT is taught to predict."""

from __future__ import annotations

import math

import pytest
import torch

from blip2.models.build import build_model
from blip2.training.init import init_std, init_trainable
from toyworld import arch as toy_arch
from toyworld.backbones.vision import CONTENT_LABELS, scene_content
from toyworld.data.scenes import COLOURS, SHAPES


def test_init_std_is_berts_at_base_width_and_rescaled_when_narrower():
    assert init_std(768) == pytest.approx(0.02)
    assert init_std(96) == pytest.approx(0.02 * math.sqrt(8))


def test_a_from_scratch_toy_qformer_starts_at_its_width_scaled_std():
    model = build_model(toy_arch.architecture(None))
    init_trainable(model, seed=0)
    weights = torch.cat([m.weight.flatten() for m in model.qformer.modules() if isinstance(m, torch.nn.Linear)])
    assert weights.std().item() == pytest.approx(init_std(96), rel=0.02)
    assert model.qformer.query_tokens.std().item() == pytest.approx(init_std(96), rel=0.1)


def test_scene_content_names_every_object_and_the_count():
    scene = {"objects": [{"shape": SHAPES[1], "colour": "red"}, {"shape": SHAPES[4], "colour": "blue"}]}
    hot = scene_content(scene)
    colours = list(COLOURS)
    n_shapes, n_colours = len(SHAPES), len(colours)
    assert len(hot) == CONTENT_LABELS
    assert [i for i in range(n_shapes) if hot[i]] == [1, 4]
    assert [colours[i] for i in range(n_colours) if hot[n_shapes + i]] == sorted(["red", "blue"], key=colours.index)
    pairs = [i - n_shapes - n_colours for i in range(n_shapes + n_colours, CONTENT_LABELS - 3) if hot[i]]
    assert pairs == sorted([1 * n_colours + colours.index("red"), 4 * n_colours + colours.index("blue")])
    assert hot[-3:] == [0.0, 1.0, 0.0]  # two objects
    assert sum(hot) == 2 + 2 + 2 + 1


def test_the_toy_opt_learns_no_loss_on_the_scene_it_is_given(small_root):
    from toyworld.backbones import corpus as toy_corpus
    from toyworld.backbones.llms import _pad, opt_labels

    docs = toy_corpus.toy_documents(small_root)
    tokenizer = toy_corpus.opt_tokenizer(toy_corpus.corpus_text(small_root))
    scene_doc = next(d for d in docs if d.context and d.kind == "qa")
    fact_doc = min((d for d in docs if not d.context), key=lambda d: len(d.question) + len(d.text))
    (scene_ids, n_scene), (fact_ids, n_fact) = (toy_corpus.opt_sequence(tokenizer, d) for d in (scene_doc, fact_doc))
    assert n_scene == len(tokenizer(scene_doc.context, add_special_tokens=False).input_ids) > 0
    assert scene_ids[n_scene] == tokenizer.bos_token_id and n_fact == 0 and fact_ids[0] == tokenizer.bos_token_id
    assert len(fact_ids) < len(scene_ids)  # so the fact's row below has padding
    ids, mask = _pad([scene_ids, fact_ids], tokenizer.pad_token_id)
    labels = opt_labels(ids, mask, [n_scene, n_fact])
    assert (labels[0, :n_scene] == -100).all()  # the scene: given, not predicted
    assert torch.equal(labels[0, n_scene:len(scene_ids)], ids[0, n_scene:len(scene_ids)])  # </s>, question, answer
    assert torch.equal(labels[1, : len(fact_ids)], ids[1, : len(fact_ids)])  # no scene: every token is learned
    assert (labels[1, len(fact_ids):] == -100).all()  # padding


def test_the_toy_llms_learn_from_text_alone(small_root, tmp_path, monkeypatch):
    """The zero-shot claim: no toy LLM training document pairs an image, or a soft prompt, with a question.
    Training them opens no image and builds no BLIP-2 model (whose Q-Former makes soft prompts), and each of
    their documents is plain text; its scene is given in words, and only for a training image."""
    import json

    import PIL.Image

    import blip2.models.build
    from toyworld.backbones import corpus as toy_corpus
    from toyworld.backbones import llms
    from toyworld.data.config import SCENES, TRAINING_SETS

    def refuse(*args, **kwargs):
        raise AssertionError("the toy LLMs' training touched an image or a BLIP-2 model")

    monkeypatch.setattr(PIL.Image, "open", refuse)
    monkeypatch.setattr(blip2.models.build, "build_model", refuse)
    assert llms.train_opt(small_root, tmp_path / "opt", steps=2, batch=4, progress=False)["documents"] > 0
    assert llms.train_t5(small_root, tmp_path / "t5", steps=2, batch=4, progress=False)["documents"] > 0
    monkeypatch.undo()

    docs = toy_corpus.toy_documents(small_root)
    fields = [value for d in docs for value in (d.context, d.text, d.question, d.prompt)]
    assert all(isinstance(value, str) for value in fields)
    assert not [v for v in fields if any(mark in v for mark in (".jpg", ".png", "images/", "<image>"))]
    scenes = json.loads((small_root / SCENES).read_text())
    training = {toy_corpus.describe(toy_corpus.Scene.from_dict(s)) + "." for s in scenes.values()
                if s["set"] in TRAINING_SETS}
    assert {d.context for d in docs if d.context} <= training


def test_packed_opt_sequences_hold_every_document_once_about_one_scene(small_root):
    """Packing puts up to 4 documents about one scene after that scene's words; the first reads as a zero-shot
    prompt does, and every document is in exactly one sequence (scene-less facts alone)."""
    from toyworld.backbones import corpus as toy_corpus

    docs = toy_corpus.toy_documents(small_root)
    tokenizer = toy_corpus.opt_tokenizer(toy_corpus.corpus_text(small_root))
    packed = toy_corpus.opt_packed_sequences(tokenizer, docs, pack=4)
    singles = [toy_corpus.opt_sequence(tokenizer, d) for d in docs]
    assert len(docs) / 4 <= len(packed) < len(docs)
    newline = tokenizer("\n", add_special_tokens=False).input_ids
    assert len(newline) == 1
    # each document's text ends in one "\n": the packed sequences hold as many as there are documents
    assert sum(ids[n:].count(newline[0]) for ids, n in packed) == len(docs)
    assert sum(len(ids) - n for ids, n in packed) < sum(len(ids) - n for ids, n in singles)  # the scene once
    by_scene = {}
    for ids, n in packed:
        assert ids[n] == tokenizer.bos_token_id
        by_scene.setdefault(tuple(ids[:n]), []).append(ids[n + 1:].count(newline[0]))
    assert max(max(c) for c in by_scene.values()) == 4 and by_scene[()] == [1] * len(by_scene[()])
    bodies = {tuple(ids[n:]) for ids, n in singles}
    firsts = {tuple(ids[n:ids.index(newline[0], n) + 1]) for ids, n in packed}  # each sequence's first text
    assert firsts <= bodies
    with pytest.raises(ValueError, match="one scene"):
        toy_corpus.opt_packed_sequence(tokenizer, [d for d in docs if d.context][:1] + [docs[-1]])
