"""(a) Zero-shot VQA over 50 images x 5 questions: our runner vs transformers' generate per question."""

from __future__ import annotations

import pytest
import transformers

import blip2
import tasks
from bench.runner.generate import generate
from benchmarks.conftest import record
from benchmarks.hf_paths import hf_generate

NAME = "(a) VQA, 50 images x 5 questions, beam 5"
BATCH = 10
WORKERS = 1


@pytest.fixture(scope="module")
def setup(models, vqa_split):
    task = tasks.get("vqav2")
    settings = task.settings("opt")
    ours = blip2.load_model(models["opt"])
    ref = transformers.Blip2ForConditionalGeneration.from_pretrained(models["opt"]).eval()
    processor = transformers.Blip2Processor.from_pretrained(models["opt"])
    prompts = [task.prompt_for(s, settings) for s in vqa_split.samples]
    kwargs = dict(num_beams=settings.num_beams, max_new_tokens=settings.max_new_tokens,
                  min_new_tokens=settings.min_new_tokens, length_penalty=settings.length_penalty)
    return task, settings, ours, ref, processor, prompts, kwargs


def test_vqa_ours(benchmark, setup, vqa_split):
    task, settings, ours, *_ = setup
    transform = blip2.image_transform(ours)
    answers = benchmark.pedantic(lambda: list(generate(ours, task, vqa_split, settings, transform, BATCH, WORKERS)),
                                 rounds=1, iterations=1, warmup_rounds=0)
    record(NAME, "ours", benchmark)
    assert [a[0] for a in answers] == [s.sample_id for s in vqa_split.samples]


def test_vqa_transformers(benchmark, setup, vqa_split):
    _, _, ours, ref, processor, prompts, kwargs = setup
    answers = benchmark.pedantic(lambda: hf_generate(ref, processor, vqa_split, prompts, BATCH, ours.eos_token_id(),
                                                     **kwargs), rounds=1, iterations=1, warmup_rounds=0)
    record(NAME, "transformers", benchmark)
    assert len(answers) == len(vqa_split.samples)
