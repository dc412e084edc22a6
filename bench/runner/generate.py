"""The generation loop (VQA and captioning): samples -> one text per sample, in the split's order.

`generate` is the fast path: each unique image is decoded once and goes through the ViT once; without
a question-conditioned Q-Former (zero-shot VQA, captioning) the Q-Former also runs once per image and
its soft prompt serves every question on that image. Fine-tuned VQA feeds the question to the Q-Former,
so only the ViT features are shared. Prompts are generated in batches of similar token length (less
padding), and results come back in split order. `generate_reference` is the plain per-sample loop
that the tests compare it with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from blip2.models.blip2_lm import Blip2LM
from blip2.processing import ImageTransform
from tasks.settings import GenerationSettings
from tasks.splits import GenerationSplit, Sample
from tasks.task import Task
from tasks.text import preprocess_question

from .images import group_by_image, image_batches

Result = tuple[Any, str, str]


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
    *,
    optimized: bool = True,
) -> Iterator[Result]:
    """Yield (sample_id, prompt, text) for every sample, in the split's order.

    `batch_size` is both the number of images encoded together and the number of prompts generated
    together. `optimized=False` runs `generate_reference` (same predictions, more compute).
    """
    if not optimized:
        yield from generate_reference(model, task, loaded, settings, transform, batch_size, num_workers, on_batch)
        return
    samples = loaded.samples
    device = next(model.parameters()).device
    prompts = [task.prompt_for(s, settings) for s in samples]
    lengths = prompt_lengths(model, prompts)
    firsts, members = group_by_image([s.image_path for s in samples])
    loader = image_batches([samples[i].image_path for i in firsts], [samples[i].sample_id for i in firsts],
                           transform, batch_size, num_workers, pin_memory=device.type == "cuda")
    in_order = InOrder(len(samples))
    for rows, pixels in loader:
        encoded = _encode_images(model, pixels.to(device, non_blocking=True))
        owner = {i: pos for pos, row in enumerate(rows.tolist()) for i in members[row]}
        for chunk in length_buckets(list(owner), lengths, batch_size):
            image_rows = torch.as_tensor([owner[i] for i in chunk], device=device)
            query_output = _query_output(model, encoded, image_rows, [samples[i] for i in chunk])
            texts = model.generate(query_output=query_output, prompts=[prompts[i] for i in chunk],
                                   **generation_kwargs(settings))
            for i, text in zip(chunk, texts, strict=True):
                in_order.put(i, text)
            yield from ((samples[i].sample_id, prompts[i], text) for i, text in in_order.ready())
            on_batch(len(chunk))


@torch.no_grad()
def generate_reference(
    model: Blip2LM,
    task: Task,
    loaded: GenerationSplit,
    settings: GenerationSettings,
    transform: ImageTransform,
    batch_size: int,
    num_workers: int,
    on_batch: Callable[[int], None] = lambda n: None,
) -> Iterator[Result]:
    """The unoptimised loop, as LAVIS runs it: split-order batches, ViT and Q-Former once per sample."""
    samples = loaded.samples
    device = next(model.parameters()).device
    batches = image_batches([s.image_path for s in samples], [s.sample_id for s in samples], transform,
                            batch_size, num_workers, pin_memory=device.type == "cuda")
    for indices, pixels in batches:
        batch = [samples[i] for i in indices.tolist()]
        prompts = [task.prompt_for(s, settings) for s in batch]
        query_output = model.query_output(pixels.to(device), **_question_inputs(model, batch))
        texts = model.generate(query_output=query_output, prompts=prompts, **generation_kwargs(settings))
        yield from ((s.sample_id, p, t) for s, p, t in zip(batch, prompts, texts, strict=True))
        on_batch(len(batch))


def _encode_images(model: Blip2LM, pixels: torch.Tensor) -> torch.Tensor:
    """What one image pass can share: query outputs, or only ViT features when the question enters the Q-Former."""
    image = model.vision(pixels)
    return image if model.cfg.qformer_text_input else model.query_output(image=image)


def _query_output(model: Blip2LM, encoded: torch.Tensor, image_rows: torch.Tensor,
                  batch: list[Sample]) -> torch.Tensor:
    if not model.cfg.qformer_text_input:
        return encoded[image_rows]
    return model.query_output(image=encoded[image_rows], **_question_inputs(model, batch))


def _question_inputs(model: Blip2LM, batch: list[Sample]) -> dict[str, torch.Tensor]:
    """Fine-tuned VQA models (paper Fig. 7) also read the (preprocessed) question in the Q-Former."""
    if not model.cfg.qformer_text_input:
        return {}
    return model.question_inputs([preprocess_question(s.question or "") for s in batch])


def prompt_lengths(model: Blip2LM, prompts: Sequence[str]) -> list[int]:
    """Token length of each prompt (the LLM's tokenizer), for length bucketing."""
    if not prompts:
        return []
    return [len(ids) for ids in model.tokenizer(list(prompts)).input_ids]


def length_buckets(indices: Sequence[int], lengths: Sequence[int], size: int) -> list[list[int]]:
    """Split `indices` into batches of at most `size`, sorted by length so a batch pads little.

    The sort is stable (ties keep their order), so the batching is deterministic.
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    ordered = sorted(indices, key=lambda i: lengths[i])
    return [ordered[start:start + size] for start in range(0, len(ordered), size)]


class InOrder:
    """Reorder buffer: results arrive grouped by image, and leave in split order as soon as they can."""

    def __init__(self, total: int):
        self.total, self.next, self.pending = total, 0, {}

    def put(self, index: int, value: str) -> None:
        if index in self.pending or index < self.next:
            raise ValueError(f"sample {index} was produced twice")
        self.pending[index] = value

    def ready(self) -> Iterator[tuple[int, str]]:
        while self.next in self.pending:
            yield self.next, self.pending.pop(self.next)
            self.next += 1
