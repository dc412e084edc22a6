"""The fast generation loop returns exactly the predictions of the plain per-sample loop, with less compute."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import blip2
import tasks
from bench.runner.generate import InOrder, generate, generate_reference, length_buckets
from bench.runner.images import group_by_image
from tests.perf.conftest import SHARED_IMAGES
from tests.perf.counting import CountingTransform, rows_through

N_UNIQUE = len(set(SHARED_IMAGES))


def _run(model, split, *, optimized: bool, batch_size: int = 3, transform=None, **overrides):
    task = tasks.get(split.task)
    family = model.cfg.llm.family
    variant = "finetuned" if model.cfg.qformer_text_input and "finetuned" in task.variants else None
    settings = task.settings(family, variant=variant).with_overrides({"max_new_tokens": 6, **overrides})
    transform = transform or blip2.image_transform(model)
    return list(generate(model, task, split, settings, transform, batch_size, 0, optimized=optimized))


def test_group_by_image_keeps_first_seen_order():
    firsts, members = group_by_image(["b", "a", "b", "c", "a"])
    assert firsts == [0, 1, 3]
    assert members == [[0, 2], [1, 4], [3]]


def test_length_buckets_sort_within_the_window_and_cover_everything():
    lengths = [5, 1, 9, 1, 3, 7, 2]
    buckets = length_buckets([0, 1, 2, 3, 4, 5, 6], lengths, 3)
    assert buckets == [[1, 3, 6], [4, 0, 5], [2]]
    with pytest.raises(ValueError):
        length_buckets([0], lengths, 0)


def test_in_order_releases_only_a_complete_prefix():
    buffer = InOrder(4)
    buffer.put(2, "c")
    buffer.put(1, "b")
    assert list(buffer.ready()) == []
    buffer.put(0, "a")
    assert list(buffer.ready()) == [(0, "a"), (1, "b"), (2, "c")]
    with pytest.raises(ValueError):
        buffer.put(1, "again")


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_zero_shot_vqa_equals_reference_and_encodes_each_image_once(tiny_dir, vqa_split, family):
    model = blip2.load_model(tiny_dir(family, "wide"))
    with rows_through(model.vision) as vit, rows_through(model.qformer) as qformer:
        reference = _run(model, vqa_split, optimized=False)
    assert sum(vit) == sum(qformer) == len(SHARED_IMAGES)  # the plain loop: once per question
    counting = CountingTransform(blip2.image_transform(model))
    with rows_through(model.vision) as vit, rows_through(model.qformer) as qformer:
        fast = _run(model, vqa_split, optimized=True, transform=counting)
    assert fast == reference  # same ids, prompts and answers, in split order
    assert [r[0] for r in fast] == [s.sample_id for s in vqa_split.samples]
    assert sum(vit) == sum(qformer) == counting.calls == N_UNIQUE
    # the answers depend on the image, so a sample given another image's soft prompt would show
    assert len({r[2] for r in fast}) > 1


def test_finetuned_vqa_reuses_only_the_vit(finetuned_vqa_model, vqa_split):
    model = finetuned_vqa_model
    reference = _run(model, vqa_split, optimized=False)
    with rows_through(model.vision) as vit, rows_through(model.qformer) as qformer:
        fast = _run(model, vqa_split, optimized=True)
    assert fast == reference
    assert sum(vit) == N_UNIQUE
    assert sum(qformer) == len(SHARED_IMAGES)  # the question enters the Q-Former: once per question
    assert len({r[2] for r in fast}) > 1


def test_finetuned_vqa_answer_depends_on_the_question(finetuned_vqa_model, vqa_split):
    """Guards the test above: this model's soft prompt changes with the question, so sharing it would show."""
    model = finetuned_vqa_model
    with Image.open(vqa_split.samples[0].image_path) as image:
        pixels = blip2.image_transform(model).batch([image, image])
    enc = model.qformer_tokenizer(["what color is it?", "how many circles are there?"], padding="longest",
                                  return_tensors="pt")
    with torch.no_grad():
        out = model.query_output(pixels, question_ids=enc.input_ids, question_mask=enc.attention_mask)
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_beam_captioning_equals_reference(tiny_dir, caption_split, family):
    model = blip2.load_model(tiny_dir(family, "base"))
    reference = _run(model, caption_split, optimized=False, batch_size=2, max_new_tokens=8, min_new_tokens=3)
    fast = _run(model, caption_split, optimized=True, batch_size=3, max_new_tokens=8, min_new_tokens=3)
    assert fast == reference
    assert [r[0] for r in fast] == [s.sample_id for s in caption_split.samples]


def test_sdpa_gives_the_same_answers_as_eager_attention(tiny_dir, vqa_split):
    """SDPA is used only where it changes nothing: the LLM's answers equal eager attention's."""
    model = blip2.load_model(tiny_dir("opt", "wide"))
    assert model.llm.config._attn_implementation == "sdpa"
    sdpa = _run(model, vqa_split, optimized=True)
    model.llm.set_attn_implementation("eager")
    try:
        assert model.llm.config._attn_implementation == "eager"
        assert _run(model, vqa_split, optimized=True) == sdpa
    finally:
        model.llm.set_attn_implementation("sdpa")


def test_reference_is_what_the_module_exports(tiny_dir, vqa_split):
    """`optimized=False` is the reference loop itself (so the comparisons above compare two paths)."""
    model = blip2.load_model(tiny_dir("opt", "base"))
    task = tasks.get("vqav2")
    settings = task.settings("opt").with_overrides({"max_new_tokens": 4})
    transform = blip2.image_transform(model)
    direct = list(generate_reference(model, task, vqa_split, settings, transform, 4, 0))
    assert direct == list(generate(model, task, vqa_split, settings, transform, 4, 0, optimized=False))


def test_t5_runs_its_encoder_once_per_prompt_not_per_beam(tiny_dir, vqa_split):
    model = blip2.load_model(tiny_dir("t5", "base"))
    encoded = []
    hook = model.llm.get_encoder().register_forward_hook(
        lambda _module, _inputs, output: encoded.append(output.last_hidden_state.shape[0]))
    try:
        _run(model, vqa_split, optimized=True, batch_size=4, num_beams=5)
    finally:
        hook.remove()
    assert sum(encoded) == len(vqa_split.samples)  # transformers encodes before copying to the beams


def test_opt_prefill_skips_the_lm_head_except_at_the_last_position(tiny_dir, vqa_split):
    """The shared prefill is read only for its cache: the LM head sees one position per row, never the prompt."""
    model = blip2.load_model(tiny_dir("opt", "base"))
    positions = []
    hook = model.llm.get_output_embeddings().register_forward_hook(
        lambda _module, inputs, _output: positions.append(inputs[0].shape[1]))
    try:
        fast = _run(model, vqa_split, optimized=True)
    finally:
        hook.remove()
    assert positions and set(positions) == {1}
    assert fast == _run(model, vqa_split, optimized=False)


def test_opt_shared_prefill_gives_the_plain_beams_with_one_prefill_per_prompt(tiny_dir, vqa_split):
    """The fast branch of `Blip2Opt.generate_ids` against its plain branch: same answers, the prompt prefilled
    once per prompt instead of once per beam."""
    model = blip2.load_model(tiny_dir("opt", "base"))
    rows = []
    hook = model.llm.register_forward_hook(lambda _module, _args, kwargs, output: rows.append(
        (kwargs["inputs_embeds"] if kwargs.get("inputs_embeds") is not None else kwargs["input_ids"]).shape[:2]),
        with_kwargs=True)
    try:
        fast = _run(model, vqa_split, optimized=True, batch_size=4, num_beams=3)
        prefills_fast = [r for r in rows if r[1] > 1]
        rows.clear()
        model.shared_prefill = False
        plain = _run(model, vqa_split, optimized=True, batch_size=4, num_beams=3)
        prefills_plain = [r for r in rows if r[1] > 1]
    finally:
        hook.remove()
    assert fast == plain
    prompts = len(vqa_split.samples)
    assert sum(b for b, _ in prefills_fast) == prompts
    assert sum(b for b, _ in prefills_plain) == 3 * prompts
