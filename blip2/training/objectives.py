"""The loss of each recipe stage, computed from one collated batch."""

from __future__ import annotations

from typing import Any

import torch

from .data import stable_seed
from .recipe import Recipe


def stage1_loss(model, batch: dict[str, Any], recipe: Recipe) -> tuple[torch.Tensor, dict[str, float]]:
    """ITC + ITM + ITG (stage 1 and retrieval fine-tuning); captions of one image are soft ITC positives."""
    enc = model.tokenizer(batch["text"], padding="longest", truncation=True, max_length=recipe.max_text_tokens,
                          return_tensors="pt")
    device = batch["pixel_values"].device
    ids = _image_ids(batch["image_id"]).to(device)
    out = model(batch["pixel_values"], enc.input_ids.to(device), enc.attention_mask.to(device), image_ids=ids)
    losses = {"itc": out.loss_itc, "itm": out.loss_itm, "itg": out.loss_itg}
    parts = {name: value.item() for name, value in losses.items()}
    if set(recipe.objectives) == set(losses):
        return out.loss, parts
    return sum(losses[name] for name in recipe.objectives), parts


def _image_ids(raw: list) -> torch.Tensor:
    """Integer ids for ITC soft targets, equal across processes for the same image."""
    return torch.tensor([int(x) if isinstance(x, int) or str(x).isdigit() else stable_seed(x) % 2**62
                         for x in raw])


def prefix_split(text: str, seed: int) -> tuple[str, str]:
    """FlanT5 stage-2 prefix LM: a random cut of the caption; the prefix goes to the encoder."""
    words = text.split()
    if len(words) < 2:
        return "", text
    cut = 1 + stable_seed(seed, text) % (len(words) - 1)
    return " ".join(words[:cut]), " ".join(words[cut:])


def lm_loss(model, batch: dict[str, Any], recipe: Recipe) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage 2 and fine-tuning: language-modelling loss of the frozen LLM on the target text."""
    texts, family = batch["text"], model.cfg.llm.family
    if recipe.stage == "vqa":
        prompts = [recipe.prompt.format(q) for q in batch["question"]]
        targets, questions = texts, batch["question"]
    elif recipe.stage == "stage2" and family == "t5":
        split = [prefix_split(t, int(i)) for t, i in zip(texts, batch["index"], strict=True)]
        prompts, targets, questions = [p for p, _ in split], [t for _, t in split], None
    else:
        prompts, targets, questions = [recipe.prompt] * len(texts), texts, None
    if family == "opt":  # OPT continues the prompt: the target starts after a space
        targets = [(" " + t) if p else t for p, t in zip(prompts, targets, strict=True)]
    loss = model(batch["pixel_values"], prompts, targets, questions=questions)
    return loss, {"lm": loss.item()}


def loss_for(recipe: Recipe):
    return stage1_loss if recipe.stage in ("stage1", "retrieval") else lm_loss
