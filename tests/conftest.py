"""Shared fixtures: tiny transformers BLIP-2 checkpoints, saved once per test session."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from blip2.testing import TinyShape, save_tiny_generation_model, save_tiny_retrieval_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(2)

# Two shapes, so a mapping that only works for one layout (e.g. cross-attention every layer) is caught.
SHAPES = {
    "base": TinyShape(),
    "wide": TinyShape(image_size=42, vision_layers=3, qformer_layers=3, num_queries=6, cross_every=1,
                      qformer_hidden=48, qformer_heads=6, llm_layers=3),
}


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """`tiny_dir(kind, shape)` -> folder of a tiny checkpoint; kind is opt, t5 or itm."""
    cache: dict = {}

    def make(kind: str = "opt", shape: str = "base"):
        key = (kind, shape)
        if key not in cache:
            path = tmp_path_factory.mktemp(f"tiny-{kind}-{shape}")
            if kind == "itm":
                cache[key] = save_tiny_retrieval_model(path, SHAPES[shape], seed=1)
            else:
                cache[key] = save_tiny_generation_model(path, kind, SHAPES[shape], seed=2)
        return cache[key]

    return make


def random_images(n: int, seed: int = 0, size=(37, 45)) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)) for _ in range(n)]


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """Headless Chromium (the system's, through Selenium and chromedriver) for the report's browser tests.

    Under CI (`CI=true`) a missing browser fails the test, since `.ci/run` installs it; elsewhere it skips, saying
    how to install it."""
    from bench.report import chromium as headless

    reason = headless.missing_reason()
    if reason is not None:
        action, message = headless.when_missing(reason)
        (pytest.fail if action == "fail" else pytest.skip)(message)
    driver = headless.start(tmp_path_factory.mktemp("chromium-profile"))
    # Any alert() a page would raise is recorded instead, so a test can see that none fired.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"})
    yield driver
    driver.quit()
