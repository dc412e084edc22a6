"""Each shipped recipe carries the paper's numbers (Sec. 3.4, Tables 7-9); the optimiser applies them."""

from __future__ import annotations

import math

import pytest
import torch

import blip2
from blip2 import zoo
from blip2.training import cosine_lr, load_recipe, param_groups, recipe_names

# Transcribed from the paper, independently of the recipe files.
PRETRAIN = dict(lr=1e-4, warmup_steps=2000, betas=(0.9, 0.98), weight_decay=0.05, image_size=224)
EXPECTED = {
    # Sec. 3.1: the Q-Former starts from BERT-base, the frozen ViT is the released one (LAVIS's file).
    "pretrain_stage1_vitg": dict(PRETRAIN, max_steps=250_000, batch_size=1680, qformer_init="bert-base-uncased",
                                 vision_init="lavis:eva_vit_g.pth", init_from=None),
    "pretrain_stage1_vitl": dict(PRETRAIN, max_steps=250_000, batch_size=2320, qformer_init="bert-base-uncased",
                                 vision_init="lavis:clip_vit_L.pth", init_from=None),
    "pretrain_stage2_vitg_opt2.7b": dict(PRETRAIN, max_steps=80_000, batch_size=1920, min_lr=5e-5),
    "pretrain_stage2_vitg_opt6.7b": dict(PRETRAIN, max_steps=80_000, batch_size=1920, min_lr=5e-5),
    "pretrain_stage2_vitl_opt2.7b": dict(PRETRAIN, max_steps=80_000, batch_size=1920, min_lr=5e-5),
    "pretrain_stage2_vitg_flant5xl": dict(PRETRAIN, max_steps=80_000, batch_size=1520, min_lr=5e-5),
    "pretrain_stage2_vitg_flant5xxl": dict(PRETRAIN, max_steps=80_000, batch_size=1520, min_lr=5e-5),
    "pretrain_stage2_vitl_flant5xl": dict(PRETRAIN, max_steps=80_000, batch_size=1520, min_lr=5e-5),
    # Table 7: COCO captioning (FlanT5-XL, OPT-2.7B, OPT-6.7B)
    "caption_coco_flant5xl": dict(epochs=5, warmup_steps=1000, lr=1e-5, batch_size=256, betas=(0.9, 0.999),
                                  weight_decay=0.05, drop_path=0.0, image_size=364, prompt="a photo of",
                                  layer_decay=1.0),
    "caption_coco_opt2.7b": dict(epochs=5, warmup_steps=1000, lr=1e-5, batch_size=256, betas=(0.9, 0.999),
                                 weight_decay=0.05, drop_path=0.0, image_size=364, prompt="a photo of",
                                 layer_decay=1.0),
    "caption_coco_opt6.7b": dict(epochs=5, warmup_steps=1000, lr=1e-5, batch_size=256, betas=(0.9, 0.999),
                                 weight_decay=0.05, drop_path=0.0, image_size=364, prompt="a photo of",
                                 layer_decay=0.95),
    # Table 8: VQA
    "vqa_flant5xl": dict(epochs=5, warmup_steps=1000, lr=1e-5, batch_size=128, betas=(0.9, 0.999), weight_decay=0.05,
                         drop_path=0.0, image_size=490, prompt="Question: {} Answer:", layer_decay=0.95),
    "vqa_opt2.7b": dict(epochs=5, warmup_steps=1000, lr=1e-5, batch_size=128, betas=(0.9, 0.999), weight_decay=0.05,
                        drop_path=0.0, image_size=490, prompt="Question: {} Answer:", layer_decay=0.95),
    "vqa_opt6.7b": dict(epochs=5, warmup_steps=1000, lr=1e-5, batch_size=128, betas=(0.9, 0.999), weight_decay=0.05,
                        drop_path=0.0, image_size=490, prompt="Question: {} Answer:", layer_decay=0.9),
    # Table 9: retrieval (ViT-L, ViT-g)
    "retrieval_coco_vitl": dict(epochs=5, warmup_steps=1000, lr=5e-6, batch_size=224, betas=(0.9, 0.98),
                                weight_decay=0.05, drop_path=0.0, image_size=364, layer_decay=1.0),
    "retrieval_coco_vitg": dict(epochs=5, warmup_steps=1000, lr=1e-5, batch_size=224, betas=(0.9, 0.999),
                                weight_decay=0.05, drop_path=0.0, image_size=364, layer_decay=0.95),
}


def test_every_paper_recipe_is_shipped():
    assert set(EXPECTED) <= set(recipe_names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recipe_values_equal_the_paper(name):
    recipe = load_recipe(name)
    for field, value in EXPECTED[name].items():
        assert getattr(recipe, field) == value, f"{name}.{field}"
    assert recipe.train_augment  # random resized crop + flip
    assert recipe.source, "each recipe says where its numbers come from"
    zoo.get(recipe.model)  # the architecture exists
    fine_tuning = recipe.stage in ("caption", "vqa", "retrieval")
    assert recipe.freeze_vit is not fine_tuning  # the paper fine-tunes the ViT, freezes it in pre-training


def test_layer_wise_lr_decay_is_applied():
    with torch.device("meta"):
        model = blip2.build_model(zoo.get("vitg-opt6.7b").config())
    for p in model.vision.trunk.parameters():
        p.requires_grad_(True)
    for p in model.llm.parameters():
        p.requires_grad_(False)
    groups = param_groups(model, lr=1e-5, weight_decay=0.05, layer_decay=0.9)
    scale_of = {name: g["lr_scale"] for g in groups for name in g["names"]}
    depth = model.cfg.vision.depth  # 39
    assert scale_of["vision.trunk.blocks.38.attn.qkv.weight"] == pytest.approx(0.9 ** 1)
    assert scale_of["vision.trunk.blocks.0.attn.qkv.weight"] == pytest.approx(0.9 ** depth)
    assert scale_of["vision.trunk.patch_embed.proj.weight"] == pytest.approx(0.9 ** (depth + 1))
    assert scale_of["qformer.layers.0.self_attn.query.weight"] == 1.0
    decay_of = {name: g["weight_decay"] for g in groups for name in g["names"]}
    assert decay_of["qformer.layers.0.self_attn.query.bias"] == 0.0
    assert decay_of["qformer.layers.0.self_attn.norm.weight"] == 0.0
    assert decay_of["qformer.layers.0.self_attn.query.weight"] == 0.05
    assert not any(n.startswith("llm.") for n in scale_of)


def test_cosine_schedule_with_warmup():
    assert cosine_lr(0, 100, 1e-4, 10) == 0.0
    assert cosine_lr(5, 100, 1e-4, 10) == pytest.approx(5e-5)
    assert cosine_lr(10, 100, 1e-4, 10) == pytest.approx(1e-4)
    mid = 10 + 45
    assert cosine_lr(mid, 100, 1e-4, 10, min_lr=5e-5) == pytest.approx(5e-5 + 5e-5 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert cosine_lr(100, 100, 1e-4, 10, min_lr=5e-5) == pytest.approx(5e-5)


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.startswith(("vqa_", "caption_"))))
def test_fine_tuning_recipes_train_with_the_prompt_their_task_evaluates_with(name):
    """A recipe is a data file, so it restates its prompt; it must be the one the task scores the model with
    (paper Sec. 4.2 / Table 8), or training and evaluation would silently disagree."""
    import tasks

    recipe = load_recipe(name)
    family = blip2.zoo.get(recipe.model).config().llm.family
    if recipe.stage == "vqa":
        expected = tasks.get("vqav2").settings(family, variant="finetuned").prompt
    else:
        expected = tasks.get("coco_caption").settings(family).prompt
    assert recipe.prompt == expected
