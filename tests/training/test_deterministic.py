"""Training on CPU uses deterministic kernels: the same run gives the same gradients in any process.

The kernel that made toy rebuilds drift: the backward of indexing with repeated indices (ITM's
hard-negative images), which by default adds across threads in an order that varies from run to run.
"""

from __future__ import annotations

import random

import torch

from blip2.training.trainer import deterministic_kernels, train
from tests.training.test_trainer import _model_and_data, make_caption_root, tiny_recipe


def _grad_of_repeated_indexing(x: torch.Tensor, idx: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    leaf = x.clone().requires_grad_(True)
    leaf[idx].backward(g)
    return leaf.grad


def test_repeated_index_backward_is_the_same_every_time_inside_the_block():
    torch.manual_seed(0)
    x, g = torch.randn(64, 17, 96), torch.randn(64, 17, 96)
    idx = torch.randint(0, 64, (64,))  # repeats, as multinomial-sampled negatives do
    assert len(set(idx.tolist())) < 64
    before = torch.are_deterministic_algorithms_enabled()
    rng, junk = random.Random(0), []
    with deterministic_kernels():
        assert torch.are_deterministic_algorithms_enabled()
        first = _grad_of_repeated_indexing(x, idx, g)
        for _ in range(40):  # a different memory layout and thread timing each time
            junk.append(torch.empty(rng.randint(1, 300_000)))
            assert torch.equal(_grad_of_repeated_indexing(x, idx, g), first)
    assert torch.are_deterministic_algorithms_enabled() == before


def test_cpu_training_runs_with_deterministic_kernels_and_restores_the_setting(tiny_dir, tmp_path):
    root = make_caption_root(tmp_path / "data")
    recipe = tiny_recipe(tiny_dir("opt", "base"), max_steps=2)
    model, data = _model_and_data(tiny_dir("opt", "base"), root, recipe)
    seen = []

    def loss_fn(m, batch, r):
        seen.append(torch.are_deterministic_algorithms_enabled())
        loss = m(batch["pixel_values"], [r.prompt] * len(batch["text"]), batch["text"])
        return loss, {"lm": loss.item()}

    before = torch.are_deterministic_algorithms_enabled()
    train(recipe, model, data, tmp_path / "out", cpu=True, progress=False, loss_fn=loss_fn)
    assert seen == [True, True]
    assert torch.are_deterministic_algorithms_enabled() == before


def test_the_previous_setting_and_its_warn_only_flag_come_back():
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with deterministic_kernels():
            assert torch.is_deterministic_algorithms_warn_only_enabled()  # a caller's warn-only is kept
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        with deterministic_kernels(enabled=False):  # not enabled: the setting is left as it is
            assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    with deterministic_kernels(enabled=False):
        assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_kernels():
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
    assert not torch.are_deterministic_algorithms_enabled()
