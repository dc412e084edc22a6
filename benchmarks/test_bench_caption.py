"""(c) Captioning with beam 5 (one caption per image: nothing to share, so batching and overheads only)."""

from __future__ import annotations

import pytest
import transformers

import blip2
import tasks
from bench.runner.generate import generate
from benchmarks.conftest import record
from benchmarks.hf_paths import hf_generate

NAME = "(c) captioning, 48 images, beam 5, 8-30 tokens"
BATCH = 8
WORKERS = 0  # 48 small decodes: a worker process costs more than it saves on 2 cores


@pytest.fixture(scope="module")
def setup(models, caption_split):
    task = tasks.get("coco_caption")
    settings = task.settings("opt")
    ours = blip2.load_model(models["opt"])
    ref = transformers.Blip2ForConditionalGeneration.from_pretrained(models["opt"]).eval()
    processor = transformers.Blip2Processor.from_pretrained(models["opt"])
    prompts = [task.prompt_for(s, settings) for s in caption_split.samples]
    kwargs = dict(num_beams=settings.num_beams, max_new_tokens=settings.max_new_tokens,
                  min_new_tokens=settings.min_new_tokens, length_penalty=settings.length_penalty,
                  repetition_penalty=settings.repetition_penalty)
    return task, settings, ours, ref, processor, prompts, kwargs


def test_caption_ours(benchmark, setup, caption_split):
    task, settings, ours, *_ = setup
    transform = blip2.image_transform(ours)
    captions = benchmark.pedantic(
        lambda: list(generate(ours, task, caption_split, settings, transform, BATCH, WORKERS)),
        rounds=2, iterations=1, warmup_rounds=1)
    record(NAME, "ours", benchmark)
    assert len(captions) == len(caption_split.samples)


def test_caption_transformers(benchmark, setup, caption_split):
    _, _, ours, ref, processor, prompts, kwargs = setup
    captions = benchmark.pedantic(
        lambda: hf_generate(ref, processor, caption_split, prompts, BATCH, ours.eos_token_id(), **kwargs),
        rounds=2, iterations=1, warmup_rounds=1)
    record(NAME, "transformers", benchmark)
    assert len(captions) == len(caption_split.samples)
