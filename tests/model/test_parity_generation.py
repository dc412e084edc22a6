"""Our stage-2 models against transformers' Blip2ForConditionalGeneration, same random weights."""

from __future__ import annotations

import pytest
import torch
import transformers

import blip2
from blip2.checkpoints import hf as hf_format
from tests.conftest import random_images

PROMPTS = ["Question: what color is the circle? Answer:", "a photo of", "Question: how many? Answer:"]


def _reference(path, family):
    model = transformers.Blip2ForConditionalGeneration.from_pretrained(path).eval()
    processor = transformers.Blip2Processor.from_pretrained(path)
    processor.tokenizer.padding_side = "left" if family == "opt" else "right"
    return model, processor


def _inputs(processor, n=3, seed=0):
    return processor(images=random_images(n, seed), text=PROMPTS[:n], padding=True, return_tensors="pt")


def _our_logits(model, pixel_values, prompts, family):
    """Logits over [queries; prompt] exactly as our generate path builds the input."""
    ids, mask = model._tokenize(prompts, "left" if family == "opt" else "right")
    embeds, full_mask = model._embed(model.soft_prompt(model.query_output(pixel_values)), ids, mask)
    if family == "opt":
        return model.llm(inputs_embeds=embeds, attention_mask=full_mask).logits, full_mask
    dec = torch.zeros(len(prompts), 3, dtype=torch.long)
    dec[:, 1:] = torch.tensor([[5, 7], [9, 11], [13, 4]])[: len(prompts)]
    return model.llm(inputs_embeds=embeds, attention_mask=full_mask, decoder_input_ids=dec).logits, None


@pytest.mark.parametrize("family", ["opt", "t5"])
@pytest.mark.parametrize("shape", ["base", "wide"])
def test_lm_logits_match_transformers(tiny_dir, family, shape):
    path = tiny_dir(family, shape)
    ours = blip2.load_model(path)
    ref, processor = _reference(path, family)
    enc = _inputs(processor)
    with torch.no_grad():
        mine, mask = _our_logits(ours, enc.pixel_values, PROMPTS, family)
        if family == "opt":
            theirs = ref(pixel_values=enc.pixel_values, input_ids=enc.input_ids, attention_mask=enc.attention_mask)
            valid = mask.bool()
            assert theirs.logits.shape == mine.shape
            torch.testing.assert_close(mine[valid], theirs.logits[valid], atol=1e-5, rtol=0)
        else:
            dec = torch.zeros(3, 3, dtype=torch.long)
            dec[:, 1:] = torch.tensor([[5, 7], [9, 11], [13, 4]])
            theirs = ref(pixel_values=enc.pixel_values, input_ids=enc.input_ids,
                         attention_mask=enc.attention_mask, decoder_input_ids=dec)
            torch.testing.assert_close(mine, theirs.logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", ["opt", "t5"])
@pytest.mark.parametrize("settings", [
    dict(num_beams=5, max_new_tokens=10, min_new_tokens=1, length_penalty=-1.0),
    dict(num_beams=3, max_new_tokens=8, min_new_tokens=4, length_penalty=1.0),
])
def test_beam_search_outputs_identical(tiny_dir, family, settings):
    path = tiny_dir(family, "base")
    ours = blip2.load_model(path)
    ref, processor = _reference(path, family)
    enc = _inputs(processor, seed=3)
    extra = {"eos_token_id": ours.eos_token_id()} if family == "opt" else {}
    with torch.no_grad():
        out = ref.generate(pixel_values=enc.pixel_values, input_ids=enc.input_ids,
                           attention_mask=enc.attention_mask, **settings, **extra)
    if family == "opt":  # decoder-only generate returns the prompt too
        out = out[:, enc.input_ids.shape[1]:]
    expected = [t.strip() for t in processor.tokenizer.batch_decode(out, skip_special_tokens=True)]
    assert ours.generate(enc.pixel_values, PROMPTS, **settings) == expected
    if family == "opt":  # and without the shared prefill (transformers' plain beam search on our inputs)
        ours.shared_prefill = False
        assert ours.generate(enc.pixel_values, PROMPTS, **settings) == expected
    assert len(set(expected)) >= 1 and all(isinstance(t, str) for t in expected)


def test_wrong_key_mapping_breaks_parity(tiny_dir, monkeypatch):
    """The parity tests would catch a mapping that swaps the Q-Former's query and key projections."""
    path = tiny_dir("opt", "base")
    ref, processor = _reference(path, "opt")
    enc = _inputs(processor)
    swapped = []
    for pattern, repl in hf_format.HF_RULES:
        if "(query|key|value)" not in pattern:
            swapped.append((pattern, repl))
            continue
        for theirs, ours in (("query", "key"), ("key", "query"), ("value", "value")):
            # the rule's groups are (layer, proj, weight|bias); pin proj and shift the last group
            swapped.append((pattern.replace("(query|key|value)", theirs),
                            repl.replace(r".\2.\3", f".{ours}.\\2")))
    assert len(swapped) > len(hf_format.HF_RULES)
    monkeypatch.setattr(hf_format, "HF_RULES", swapped)
    wrong = blip2.load_model(path)
    with torch.no_grad():
        mine, mask = _our_logits(wrong, enc.pixel_values, PROMPTS, "opt")
        theirs = ref(pixel_values=enc.pixel_values, input_ids=enc.input_ids, attention_mask=enc.attention_mask)
    assert (mine[mask.bool()] - theirs.logits[mask.bool()]).abs().max() > 1e-3


def test_missing_rule_is_a_key_error_listing_keys(tiny_dir, monkeypatch):
    path = tiny_dir("opt", "base")
    rules = [r for r in hf_format.HF_RULES if "post_layernorm" not in r[0]]
    monkeypatch.setattr(hf_format, "HF_RULES", rules)
    with pytest.raises(KeyError) as info:
        blip2.load_model(path)
    message = str(info.value)
    assert "vision_model.post_layernorm.weight" in message  # unexpected: nothing maps it
    assert "vision.ln_vision.weight" in message  # missing: nothing fills it
