"""`bench cost`: the multiply-add formulas equal torch's own count on tiny models; pass counts follow the split."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import blip2
from bench.cli import main
from bench.cost import (
    GPU_PEAK_TFLOPS,
    SplitSize,
    estimate_for,
    image_kv_macs,
    itm_pair_bounds,
    opt_macs,
    qformer_macs,
    t5_macs,
    vit_macs,
    vit_tokens,
)
from tests.conftest import random_images


def counted_macs(fn) -> int:
    """Multiply-adds torch itself counts for `fn` (attention decomposed into matmuls so it is counted)."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), counter:
        fn()
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("shape", ["base", "wide"])
def test_vit_and_qformer_formulas_match_torch(tiny_dir, shape):
    model = blip2.load_model(tiny_dir("itm", shape))
    cfg = model.cfg
    pixels = blip2.image_transform(model).batch(random_images(1, seed=2))
    assert counted_macs(lambda: model.vision(pixels)) == vit_macs(cfg.vision)
    image = model.vision(pixels).detach()
    n = vit_tokens(cfg.vision)
    assert counted_macs(lambda: model.qformer(image=image)) == qformer_macs(cfg.qformer, n, cfg.qformer.num_queries, 0)
    ids = torch.randint(5, 40, (1, 9))
    mask = torch.ones_like(ids)
    kv = model.qformer.image_kv(image)
    assert counted_macs(lambda: model.qformer.image_kv(image)) == image_kv_macs(cfg.qformer, n)
    itm = counted_macs(lambda: model.itm_logits(None, ids, mask, image_kv=kv))
    head = cfg.qformer.num_queries * cfg.qformer.hidden * 2
    assert itm == qformer_macs(cfg.qformer, n, cfg.qformer.num_queries, 9, with_image_kv=False) + head
    text = counted_macs(lambda: model.qformer(input_ids=ids, mask=mask.bool()[:, None, None, :], with_queries=False))
    assert text == qformer_macs(cfg.qformer, n, 0, 9)


def test_opt_generation_formula_matches_torch(tiny_dir):
    model = blip2.load_model(tiny_dir("opt", "wide"))
    embeds = torch.randn(1, 7, model.llm.config.hidden_size)
    generate = dict(num_beams=3, max_new_tokens=5, min_new_tokens=5, do_sample=False, eos_token_id=None)
    macs = counted_macs(lambda: model.llm.generate(inputs_embeds=embeds, **generate))
    assert macs == opt_macs(model.llm.config.to_dict(), prompt=7, new_tokens=5, beams=3)


def test_t5_generation_formula_matches_torch(tiny_dir):
    model = blip2.load_model(tiny_dir("t5", "wide"))
    embeds = torch.randn(1, 6, model.llm.config.d_model)
    generate = dict(num_beams=2, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    macs = counted_macs(lambda: model.llm.generate(inputs_embeds=embeds, **generate))
    assert macs == t5_macs(model.llm.config.to_dict(), prompt=6, new_tokens=4, beams=2)


def test_itm_pair_bounds_hold_for_real_top_k_unions():
    rng = np.random.default_rng(0)
    for n_img, n_txt, k in [(6, 30, 4), (10, 10, 3), (3, 5, 8)]:
        itc = rng.standard_normal((n_img, n_txt))
        pairs = {(i, int(t)) for i in range(n_img) for t in np.argsort(-itc[i])[:k]}
        pairs |= {(int(i), t) for t in range(n_txt) for i in np.argsort(-itc[:, t])[:k]}
        low, high = itm_pair_bounds(n_img, n_txt, k)
        assert low <= len(pairs) <= high
    assert itm_pair_bounds(5_000, 25_010, 128) == (25_010 * 128, 5_000 * 128 + 25_010 * 128)  # 3.84M, as LAVIS


def test_counts_for_a_tiny_config_follow_the_split(tiny_dir):
    model = blip2.load_model(tiny_dir("opt", "base"))
    est = estimate_for("gqa", "vitg-opt2.7b", cfg=model.cfg)
    counts = {p.name.split(" (")[0]: p.count for p in est.passes}
    assert counts == {"ViT": 398, "Q-Former": 398, "LLM generate": 12_578}  # each image once; LLM per question
    vit = next(p for p in est.passes if p.name.startswith("ViT"))
    assert vit.macs_each == vit_macs(model.cfg.vision)
    finetuned = dataclasses.replace(model.cfg, qformer_text_input=True,
                                    qformer=dataclasses.replace(model.cfg.qformer, with_text=True))
    counts = {p.name.split(" (")[0]: p.count for p in estimate_for("gqa", "x", cfg=finetuned).passes}
    assert counts["Q-Former"] == 12_578  # the question enters the Q-Former: once per question


def test_retrieval_counts_use_the_union_bound(tiny_dir):
    model = blip2.load_model(tiny_dir("itm", "base"))
    est = estimate_for("coco_retrieval", "vitg-qformer-coco", cfg=model.cfg)
    counts = {p.name.split(" (")[0]: p.count for p in est.passes}
    assert counts == {"ViT": 5_000, "Q-Former image pass": 5_000, "Q-Former text pass": 25_010,
                      "ITM keys/values": 5_000, "ITM pass": 5_000 * 128 + 25_010 * 128}
    assert est.flops == sum(2 * p.count * p.macs_each for p in est.passes)


def test_cli_prints_counts_and_hours(capsys):
    assert main(["cost", "--task", "gqa", "--model", "vitg-opt2.7b", "--gpu", "H100", "--utilization", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "12,578" in out and "398" in out
    est = estimate_for("gqa", "vitg-opt2.7b")
    hours = est.flops / (GPU_PEAK_TFLOPS["H100"] * 1e12 * 0.5) / 3600
    assert re.search(rf"projected: {hours:.2f} h .* one H100 \(peak {GPU_PEAK_TFLOPS['H100']:g} TFLOPS", out)


@pytest.mark.parametrize("argv, message", [
    (["--gpu", "B300"], "unknown --gpu"),
    (["--utilization", "0"], "--utilization"),
    (["--task", "coco_retrieval"], "stage-1"),
])
def test_cli_refuses_bad_arguments(capsys, argv, message):
    base = {"--task": "gqa", "--model": "vitg-opt2.7b"}
    args = dict(base, **dict(zip(argv[::2], argv[1::2], strict=True)))
    assert main(["cost", *[x for kv in args.items() for x in kv]]) == 2
    assert message in capsys.readouterr().err


def test_published_split_size_is_used_without_data():
    assert estimate_for("coco_retrieval", "vitg-qformer-coco").passes[0].count == 5_000
    assert SplitSize(1, 2).note == ""
