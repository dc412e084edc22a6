"""Image preprocessing of the released models: bicubic resize to a square, CLIP mean/std.

Evaluation resizes to (S, S) with no crop; training uses RandomResizedCrop
(scale 0.5-1, bicubic) and a horizontal flip, as the paper and LAVIS do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

from .config import CLIP_MEAN, CLIP_STD
from .errors import ModelInputError

# Pillow's one-channel modes wider than 8 bits, by largest value. A 16-bit grayscale PNG opens as "I;16"
# (older Pillow: "I"); 16-bit RGB(A) files are already reduced to 8 bits by Pillow itself.
_WIDE_GRAY_MAX = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535}


class UnsupportedImageError(ModelInputError, ValueError):
    """An image whose pixel values have no known range (32-bit integer or float), so no faithful 8-bit view."""


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB, with a high-bit-depth image scaled by its bit depth (65535 -> 255).

    `convert("RGB")` clips a 16-bit value to 255, which turns a 16-bit picture nearly white and changes the
    model's answers; scaling makes it equal to the same picture stored in 8 bits.
    """
    top = _WIDE_GRAY_MAX.get(image.mode)
    if top is None and image.mode == "I" and image.format == "PNG":  # PNG samples are at most 16 bits
        top = 65535
    if top is not None:
        values = np.asarray(image, dtype=np.float64)
        gray = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if image.mode in ("I", "F"):
        raise UnsupportedImageError(
            f"a {'32-bit integer' if image.mode == 'I' else 'floating-point'} image (Pillow mode {image.mode}) "
            "has no standard value range; save it as an 8- or 16-bit PNG or JPEG"
        )
    return image.convert("RGB")


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
        return self._pipeline(to_rgb(image))

    def batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.stack([self(im) for im in images])

    def settings(self) -> dict:
        """What a results file records about preprocessing."""
        return {"image_size": self.size, "resize": "bicubic, square, no crop" if not self.train
                else "RandomResizedCrop(0.5-1, bicubic) + hflip", "mean": list(self.mean), "std": list(self.std)}
