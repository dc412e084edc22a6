"""Image input: decode and preprocess in DataLoader workers, in the split's order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from blip2.processing import ImageTransform
from tasks.errors import DataError


class ImageFiles(Dataset):
    """Image files by index; a missing or corrupt file is an error naming the file and the sample."""

    def __init__(self, paths: Sequence[Path], ids: Sequence, transform: ImageTransform):
        self.paths, self.ids, self.transform = list(paths), list(ids), transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor]:
        path = self.paths[index]
        try:
            with Image.open(path) as image:
                image.load()
                return index, self.transform(image)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise DataError(f"image {path} (sample {self.ids[index]!r}) cannot be read: {exc}. "
                            "Replace the file, or remove the sample from the split.") from exc


def image_batches(paths: Sequence[Path], ids: Sequence, transform: ImageTransform, batch_size: int,
                  num_workers: int, pin_memory: bool = False) -> DataLoader:
    """Batches of (indices, pixels) in order, decoded by `num_workers` processes with prefetching."""
    return DataLoader(ImageFiles(paths, ids, transform), batch_size=batch_size, shuffle=False,
                      num_workers=num_workers, pin_memory=pin_memory,
                      persistent_workers=False, prefetch_factor=2 if num_workers else None)
