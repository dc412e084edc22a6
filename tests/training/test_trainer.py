"""The training loop: it learns, resumes exactly after a stop, and 2 processes equal 1 process."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

import blip2
from blip2.training import load_recipe
from blip2.training.run import recipe_dataset
from blip2.training.trainer import train
from tasks.formats.karpathy import write_karpathy

# Names that the tiny tokenizer splits into the same number of tokens, so every caption has the same
# length and a mean over one process's tokens equals the mean over all processes' tokens.
COLOURS = {"red": (220, 30, 30), "white": (240, 240, 240), "blue": (30, 40, 220), "cat": (230, 220, 30)}


def make_caption_root(root):
    images = []
    for i, (name, rgb) in enumerate(list(COLOURS.items()) * 2):
        path = root / "coco/images/train2014" / f"COCO_train2014_{i:012d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(np.array(rgb)[None, None] + np.random.default_rng(i).integers(-20, 20, (32, 32, 3)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(path)
        images.append({"filepath": "train2014", "filename": path.name, "split": "train", "cocoid": i,
                       "sentences": [f"a {name} picture"] * 2})
    write_karpathy(root / "coco/annotations/dataset_coco.json", images)
    return root


def tiny_recipe(model_dir, **overrides):
    base = load_recipe("caption_coco_opt2.7b").with_overrides(dict(
        name="tiny_caption", model="vitg-opt2.7b", init_from=str(model_dir), epochs=None, max_steps=6,
        batch_size=4, warmup_steps=2, lr=1e-3, image_size=28, save_every=3, log_every=1,
        data=({"type": "karpathy", "file": "coco/annotations/dataset_coco.json", "splits": ["train"],
               "images": "coco/images"},)))
    return base.with_overrides(overrides)


def _no_dropout(model):
    """Dropout draws differ between process layouts; OPT also applies it functionally, from float attributes."""
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        for attr in ("dropout", "attention_dropout", "attn_dropout", "activation_dropout", "layerdrop"):
            if isinstance(getattr(m, attr, None), float):
                setattr(m, attr, 0.0)
    return model


def _model_and_data(model_dir, root, recipe):
    torch.manual_seed(0)
    model = _no_dropout(blip2.load_model(model_dir))
    blip2.freeze_frozen_parts(model)
    model.train()
    return model, recipe_dataset(recipe, root, model)


def test_training_lowers_the_loss_and_logs(tiny_dir, tmp_path):
    root = make_caption_root(tmp_path / "data")
    recipe = tiny_recipe(tiny_dir("opt", "base"), max_steps=12, lr=3e-3)
    model, data = _model_and_data(tiny_dir("opt", "base"), root, recipe)
    result = train(recipe, model, data, tmp_path / "out", progress=False)
    assert result.steps == 12
    assert np.mean(result.losses[-3:]) < np.mean(result.losses[:3])
    log = [json.loads(x) for x in (tmp_path / "out/log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 13)) and all("lr" in r and "lm" in r for r in log)
    assert (tmp_path / "out/checkpoint/progress.json").exists()


def test_resume_after_a_stop_gives_the_uninterrupted_run(tiny_dir, tmp_path):
    root = make_caption_root(tmp_path / "data")
    recipe = tiny_recipe(tiny_dir("opt", "base"))
    model, data = _model_and_data(tiny_dir("opt", "base"), root, recipe)
    full = train(recipe, model, data, tmp_path / "full", progress=False)

    model, data = _model_and_data(tiny_dir("opt", "base"), root, recipe)
    first = train(recipe, model, data, tmp_path / "resumed", progress=False, stop_after=3)
    assert first.steps == 3
    model, data = _model_and_data(tiny_dir("opt", "base"), root, recipe)  # a fresh process would rebuild
    resumed = train(recipe, model, data, tmp_path / "resumed", progress=False)
    assert resumed.steps == 6
    np.testing.assert_allclose(resumed.losses, full.losses, rtol=1e-5, atol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, port, model_dir, root, out_dir, result):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_WORLD_SIZE="2")
    torch.set_num_threads(1)
    recipe = tiny_recipe(model_dir)
    model, data = _model_and_data(model_dir, root, recipe)
    out = train(recipe, model, data, out_dir, progress=False)
    if rank == 0:
        result["losses"] = out.losses
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_two_processes_follow_the_single_process_loss_curve(tiny_dir, tmp_path):
    root = make_caption_root(tmp_path / "data")
    model_dir = tiny_dir("opt", "base")
    recipe = tiny_recipe(model_dir)
    model, data = _model_and_data(model_dir, root, recipe)
    single = train(recipe, model, data, tmp_path / "one", progress=False)
    with mp.Manager() as manager:
        result = manager.dict()
        mp.spawn(_worker, args=(_free_port(), model_dir, root, tmp_path / "two", result), nprocs=2, join=True)
        losses = list(result["losses"])
    # same global batch at every step and equal-length captions: only float summation order differs
    np.testing.assert_allclose(losses, single.losses, rtol=1e-4)
    assert not np.allclose(single.losses[0], single.losses[-1])  # the curve actually moves
