"""Count what the model computes: rows through a module, images decoded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def rows_through(module: torch.nn.Module) -> Iterator[list[int]]:
    """Batch sizes of every forward call of `module` (first output's first dimension)."""
    sizes: list[int] = []

    def hook(_module, _inputs, output):
        first = output[0] if isinstance(output, tuple) else output
        sizes.append(int(first.shape[0]))

    handle = module.register_forward_hook(hook)
    try:
        yield sizes
    finally:
        handle.remove()


class CountingTransform:
    """An ImageTransform that counts the images it decodes (use with num_workers=0)."""

    def __init__(self, transform):
        self.transform, self.calls = transform, 0

    def __call__(self, image):
        self.calls += 1
        return self.transform(image)
