"""Image input: decode and preprocess in DataLoader workers, in order, each file once per run."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from blip2.processing import ImageTransform, to_rgb
from tasks.errors import DataError

# What opening a bad image raises: missing, a directory, truncated, not an image, an unsupported bit depth
# (ValueError), or more pixels than Pillow's decompression-bomb limit.
_BAD_IMAGE = (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError)


class ImageReadError(DataError):
    """An image that cannot be read, raised with the same one-line message from a DataLoader worker.

    torch re-raises a worker's exception as ``type(exc)(text)`` where the text holds the worker's whole
    traceback; this class keeps only the original message, so the user sees one line, not a traceback.
    """

    def __init__(self, message: str):
        marker = f"{type(self).__name__}: "
        if message.startswith("Caught ") and "Original Traceback" in message and marker in message:
            message = message.rsplit(marker, 1)[1].strip()
        super().__init__(message)


def _why(exc: Exception) -> str:
    if isinstance(exc, Image.DecompressionBombError):
        return (f"{exc} Pillow refuses images this large (over {2 * Image.MAX_IMAGE_PIXELS} pixels) as possible "
                "decompression bombs; shrink the image")
    if isinstance(exc, IsADirectoryError):
        return "it is a directory, not an image file"
    return str(exc)


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
        except _BAD_IMAGE as exc:
            raise ImageReadError(f"image {path} (sample {self.ids[index]!r}) cannot be read: {_why(exc)}. "
                                 "Replace the file, remove the sample from the split, or (VQA, captions) pass "
                                 "--skip-bad.") from exc


def image_batches(paths: Sequence[Path], ids: Sequence, transform: ImageTransform, batch_size: int,
                  num_workers: int, pin_memory: bool = False) -> DataLoader:
    """Batches of (indices, pixels) in order, decoded by `num_workers` processes with prefetching.

    Workers decode the next batches while the model runs; pinned memory lets the copy to the GPU
    overlap with compute (`.to(device, non_blocking=True)`).
    """
    return DataLoader(ImageFiles(paths, ids, transform), batch_size=batch_size, shuffle=False,
                      num_workers=num_workers, pin_memory=pin_memory,
                      persistent_workers=False, prefetch_factor=4 if num_workers else None)


def group_by_image(keys: Sequence[Hashable]) -> tuple[list[int], list[list[int]]]:
    """(first sample of each unique image, sample indices of each image), images in first-seen order.

    Many questions share an image (GQA: about 31 per image), so the runner decodes and encodes each
    unique image once and hands its result to all of its samples.
    """
    rows: dict[Hashable, int] = {}
    firsts: list[int] = []
    members: list[list[int]] = []
    for index, key in enumerate(keys):
        row = rows.get(key)
        if row is None:
            rows[key] = row = len(firsts)
            firsts.append(index)
            members.append([])
        members[row].append(index)
    return firsts, members


def find_unreadable(paths: Sequence[Path]) -> dict[str, str]:
    """{path: reason} for every image that is missing, empty, truncated, too large, of an unsupported bit
    depth or not an image (each checked once): what `ImageFiles` would fail on."""
    bad = {}
    for path in dict.fromkeys(str(p) for p in paths):
        try:
            with Image.open(path) as image:
                image.load()
                to_rgb(image)
        except _BAD_IMAGE as exc:
            bad[path] = f"{type(exc).__name__}: {_why(exc)}"
    return bad
