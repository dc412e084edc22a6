"""Image preprocessing of the released models: bicubic resize to a square, CLIP mean/std.

Evaluation resizes to (S, S) with no crop; training uses RandomResizedCrop
(scale 0.5-1, bicubic) and a horizontal flip, as the paper and LAVIS do.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

from .config import CLIP_MEAN, CLIP_STD


class ImageTransform:
    """PIL image -> normalised [3, S, S] float tensor."""

    def __init__(self, size: int, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD,
                 train: bool = False):
        self.size, self.mean, self.std, self.train = size, tuple(mean), tuple(std), train
        if train:
            geometry = [transforms.RandomResizedCrop(size, scale=(0.5, 1.0),
                                                     interpolation=InterpolationMode.BICUBIC),
                        transforms.RandomHorizontalFlip()]
        else:
            geometry = [transforms.Resize((size, size), interpolation=InterpolationMode.BICUBIC)]
        self._pipeline = transforms.Compose(
            [*geometry, transforms.ToTensor(), transforms.Normalize(self.mean, self.std)]
        )

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self._pipeline(image.convert("RGB"))

    def batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.stack([self(im) for im in images])

    def settings(self) -> dict:
        """What a results file records about preprocessing."""
        return {"image_size": self.size, "resize": "bicubic, square, no crop" if not self.train
                else "RandomResizedCrop(0.5-1, bicubic) + hflip", "mean": list(self.mean), "std": list(self.std)}
