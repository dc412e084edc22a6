"""Stage-2 losses, the public API on PIL images, preprocessing, and precision policies."""

from __future__ import annotations

import pytest
import torch
import transformers

import blip2
from blip2.precision import resolve_precision
from tests.conftest import random_images


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_one_step_lowers_the_stage2_lm_loss(tiny_dir, family):
    torch.manual_seed(0)
    model = blip2.load_model(tiny_dir(family, "base")).train()
    for module in model.modules():  # deterministic comparison
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    pixels = blip2.image_transform(model).batch(random_images(2, seed=5))
    prompts, targets = ["a photo of", "Question: how many? Answer:"], [" two red circles", " three"]
    before = model(pixels, prompts, targets)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and not any(p.requires_grad for p in model.llm.parameters())
    opt = torch.optim.AdamW(trainable, lr=1e-3)
    before.backward()
    opt.step()
    with torch.no_grad():
        after = model(pixels, prompts, targets)
    assert after < before


def test_opt_loss_ignores_the_prompt(tiny_dir):
    """Only the target tokens are scored: changing the prompt's own tokens' labels cannot matter."""
    model = blip2.load_model(tiny_dir("opt", "base"))
    pixels = blip2.image_transform(model).batch(random_images(1, seed=6))
    with torch.no_grad():
        loss = model(pixels, ["a photo of"], [" a star"])
        soft = model.soft_prompt(model.query_output(pixels))
        ids = model.tokenizer(["a photo of a star\n"], return_tensors="pt").input_ids
        n_prompt = len(model.tokenizer("a photo of").input_ids)
        embeds = torch.cat([soft, model.llm.get_input_embeddings()(ids)], 1)
        logits = model.llm(inputs_embeds=embeds).logits[0, soft.shape[1]:]
        manual = torch.nn.functional.cross_entropy(logits[n_prompt - 1:-1], ids[0, n_prompt:])
    torch.testing.assert_close(loss, manual, atol=1e-5, rtol=0)


def test_preprocessing_is_pil_bicubic_square_resize_with_clip_stats(tiny_dir):
    """LAVIS resizes the PIL image (PIL bicubic, no crop); we reproduce that exactly."""
    import numpy as np
    from PIL import Image

    model = blip2.load_model(tiny_dir("opt", "wide"))
    images = random_images(3, seed=7, size=(61, 90))
    ours = blip2.image_transform(model).batch(images)
    size = model.cfg.vision.image_size
    mean, std = torch.tensor(model.cfg.image_mean)[:, None, None], torch.tensor(model.cfg.image_std)[:, None, None]
    expected = torch.stack([
        (torch.from_numpy(np.asarray(im.resize((size, size), Image.BICUBIC), dtype=np.float32) / 255)
         .permute(2, 0, 1) - mean) / std for im in images])
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)
    # transformers 5's processor resizes tensors with torchvision instead: at most one 8-bit level apart.
    theirs = transformers.BlipImageProcessor(
        size={"height": size, "width": size}, resample=3, image_mean=list(model.cfg.image_mean),
        image_std=list(model.cfg.image_std))(images, return_tensors="pt").pixel_values
    assert (ours - theirs).abs().max() <= 1.01 / 255 / min(model.cfg.image_std)


def test_caption_and_answer_from_pil_return_strings(tiny_dir):
    model = blip2.load_model(tiny_dir("t5", "base"))
    images = random_images(2, seed=8)
    captions = blip2.caption(model, images, prompt="a photo of", num_beams=2, max_new_tokens=5)
    answers = blip2.answer(model, images, ["what color is it?", "how many?"], "Question: {} Short answer:",
                           num_beams=2)
    assert len(captions) == len(answers) == 2 and all(isinstance(t, str) for t in captions + answers)
    pixels = blip2.image_transform(model).batch(images)
    assert answers == model.generate(pixels, ["Question: what color is it? Short answer:",
                                              "Question: how many? Short answer:"],
                                     num_beams=2, max_new_tokens=10, min_new_tokens=1, length_penalty=-1.0)


def test_parameter_counts_total_and_trainable(tiny_dir):
    model = blip2.load_model(tiny_dir("opt", "base"))
    counts = blip2.count_parameters(model)
    expected_trainable = sum(p.numel() for n, p in model.named_parameters()
                             if n.startswith(("qformer.", "llm_proj.", "vision.ln_vision.")))
    assert counts.trainable == expected_trainable
    assert counts.total == sum(p.numel() for p in model.parameters())


def test_precision_policies():
    assert resolve_precision("auto", "cpu", "opt") == {"vision": "fp32", "qformer": "fp32", "llm": "fp32"}
    assert resolve_precision("auto", "cuda", "opt") == {"vision": "fp16", "qformer": "fp32", "llm": "fp16"}
    assert resolve_precision("auto", "cuda", "t5")["llm"] == "bf16"
    assert resolve_precision("bf16", "cpu", "t5") == {"vision": "bf16", "qformer": "fp32", "llm": "bf16"}
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("int8", "cpu", "opt")


def test_bf16_on_cpu_keeps_qformer_fp32_and_vit_norms_fp32(tiny_dir):
    model = blip2.load_model(tiny_dir("opt", "base"), precision="bf16")
    assert model.qformer.query_tokens.dtype == torch.float32
    assert model.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    assert model.vision.trunk.blocks[0].attn.qkv.weight.dtype == torch.bfloat16
    assert model.vision.trunk.blocks[0].norm1.weight.dtype == torch.float32
    out = blip2.caption(model, random_images(1), max_new_tokens=3, num_beams=1)
    assert isinstance(out[0], str)
