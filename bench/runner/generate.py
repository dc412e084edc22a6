"""The generation loop (VQA and captioning): batches of samples -> one text per sample, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from blip2.models.blip2_lm import Blip2LM
from blip2.processing import ImageTransform
from tasks.settings import GenerationSettings
from tasks.splits import GenerationSplit
from tasks.task import Task
from tasks.text import preprocess_question

from .images import image_batches


def generation_kwargs(settings: GenerationSettings) -> dict[str, Any]:
    return {"num_beams": settings.num_beams, "max_new_tokens": settings.max_new_tokens,
            "min_new_tokens": settings.min_new_tokens, "length_penalty": settings.length_penalty,
            "repetition_penalty": settings.repetition_penalty}


@torch.no_grad()
def generate(
    model: Blip2LM,
    task: Task,
    loaded: GenerationSplit,
    settings: GenerationSettings,
    transform: ImageTransform,
    batch_size: int,
    num_workers: int,
    on_batch: Callable[[int], None] = lambda n: None,
) -> Iterator[tuple[Any, str, str]]:
    """Yield (sample_id, prompt, text) for every sample, in the split's order."""
    samples = loaded.samples
    device = next(model.parameters()).device
    batches = image_batches([s.image_path for s in samples], [s.sample_id for s in samples], transform,
                            batch_size, num_workers, pin_memory=device.type == "cuda")
    for indices, pixels in batches:
        batch = [samples[i] for i in indices.tolist()]
        prompts = [task.prompt_for(s, settings) for s in batch]
        query_output = model.query_output(pixels.to(device), **_question_inputs(model, batch, device))
        texts = model.generate(query_output=query_output, prompts=prompts, **generation_kwargs(settings))
        yield from ((s.sample_id, p, t) for s, p, t in zip(batch, prompts, texts, strict=True))
        on_batch(len(batch))


def _question_inputs(model: Blip2LM, batch: list, device: torch.device) -> dict[str, torch.Tensor]:
    """Fine-tuned VQA models (paper Fig. 7) also read the question in the Q-Former."""
    if not model.cfg.qformer_text_input:
        return {}
    questions = [preprocess_question(s.question or "") for s in batch]
    enc = model.qformer_tokenizer(questions, padding="longest", truncation=True, max_length=35,
                                  return_tensors="pt")
    return {"question_ids": enc.input_ids.to(device), "question_mask": enc.attention_mask.to(device)}
