"""Helpers for the retrieval loop: token batches padded only as far as they need, and a bounded ViT-feature store."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence

import numpy as np
import torch

DEFAULT_FEATURE_MEMORY = 4 * 2**30  # bytes of ViT features kept in memory before spilling to disk


def pad_tokens(token_lists: Sequence[Sequence[int]], pad_id: int, device: torch.device | str = "cpu"
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) right-padded to the longest list; LAVIS pads every text to max_text_tokens, which is wasted work."""
    width = max(len(t) for t in token_lists)
    ids = torch.full((len(token_lists), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(token_lists), width), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        ids[row, : len(tokens)] = torch.as_tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return ids.to(device), mask.to(device)


def by_length(indices: Sequence[int], token_lists: Sequence[Sequence[int]], size: int) -> list[list[int]]:
    """Batches of at most `size` indices with similar token lengths (stable sort: deterministic)."""
    ordered = sorted(indices, key=lambda i: len(token_lists[i]))
    return [ordered[start:start + size] for start in range(0, len(ordered), size)]


class _SpillStore:
    """What both stores share: an optional memory-mapped spill file in a temporary folder, an `on_disk`
    flag, and a `close` (also on leaving a `with` block) that drops the data and removes the folder."""

    _file: np.memmap | None = None
    _dir: str | None = None

    def _spill(self, prefix: str, name: str, dtype: torch.dtype, shape: tuple[int, ...]) -> np.memmap:
        self._dir = tempfile.mkdtemp(prefix=prefix)
        self._file = np.memmap(f"{self._dir}/{name}", mode="w+", dtype=_np_dtype(dtype), shape=shape)
        return self._file

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    def _drop(self) -> None:
        """Release the in-memory data (each store holds its own)."""

    def close(self) -> None:
        self._drop()
        self._file = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FeatureStore(_SpillStore):
    """ViT features of every image, written once in order and read back per image chunk for ITM.

    COCO-5K at 364 px with ViT-g is 5000 x 677 x 1408 fp32 values (19 GB): kept in memory only while
    the total fits `budget_bytes`, otherwise spilled to a temporary file (exact values, no recompute and
    no second decode of the images). Use as a context manager so the file is always removed.
    """

    def __init__(self, count: int, budget_bytes: int = DEFAULT_FEATURE_MEMORY):
        self.count, self.budget = count, budget_bytes
        self.filled = 0
        self._chunks: list[torch.Tensor] = []
        self._dtype: torch.dtype | None = None
        self._device: torch.device | None = None

    def append(self, features: torch.Tensor) -> None:
        """Add the next images' features [b, tokens, width]."""
        if self.filled + features.shape[0] > self.count:
            raise ValueError(f"feature store holds {self.count} images; got more")
        if self.filled == 0:
            self._dtype, self._device = features.dtype, features.device
            total = self.count * features[0].numel() * features.element_size()
            if total > self.budget:
                self._spill("blip2-vit-features-", "features.bin", features.dtype,
                            (self.count, *features.shape[1:]))
        if self._file is not None:
            self._file[self.filled:self.filled + features.shape[0]] = _to_numpy(features)
        else:
            self._chunks.append(features)
        self.filled += features.shape[0]

    def get(self, start: int, stop: int) -> torch.Tensor:
        """Features of images [start, stop), on the device they came from."""
        if not 0 <= start < stop <= self.filled:
            raise IndexError(f"images [{start}, {stop}) not in the store (holds {self.filled})")
        if self._file is not None:
            out = torch.from_numpy(np.array(self._file[start:stop]))
            if self._dtype == torch.bfloat16:
                out = out.view(torch.bfloat16)
            return out.to(self._device)
        parts, offset = [], 0
        for chunk in self._chunks:
            lo, hi = max(start - offset, 0), min(stop - offset, chunk.shape[0])
            if lo < hi:
                parts.append(chunk[lo:hi])
            offset += chunk.shape[0]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _drop(self) -> None:
        self._chunks.clear()


class RowStore(_SpillStore):
    """Per-item tensors [length, width] of different lengths, written and read by item index.

    Rows are kept zero-padded to `max_length` in one preallocated array: in memory on `device` while it
    fits `budget_bytes`, otherwise in a temporary file. `take(items, length)` returns the items' rows
    cut to `length` (the longest of them), so a batch pads only as far as it needs. Use as a context
    manager so the file is always removed.
    """

    def __init__(self, count: int, max_length: int, width: int, dtype: torch.dtype, device: torch.device | str,
                 budget_bytes: int = DEFAULT_FEATURE_MEMORY):
        self.dtype, self.device = dtype, torch.device(device)
        shape = (count, max_length, width)
        self._data: torch.Tensor | None = None
        if count * max_length * width * torch.empty(0, dtype=dtype).element_size() <= budget_bytes:
            self._data = torch.zeros(shape, dtype=dtype, device=self.device)
        else:
            self._spill("blip2-rows-", "rows.bin", dtype, shape)

    def put(self, items: Sequence[int], rows: torch.Tensor) -> None:
        """Write rows [len(items), length, width] (length <= max_length) for `items`."""
        length = rows.shape[1]
        if self._data is not None:
            self._data[torch.as_tensor(items, device=self.device), :length] = rows.to(self.dtype)
        else:
            self._file[np.asarray(items), :length] = _to_numpy(rows.to(self.dtype))

    def take(self, items: Sequence[int], length: int) -> torch.Tensor:
        """Rows of `items`, cut to their first `length` positions: [len(items), length, width]."""
        if self._data is not None:
            return self._data[torch.as_tensor(items, device=self.device), :length]
        out = torch.from_numpy(np.ascontiguousarray(self._file[np.asarray(items), :length]))
        if self.dtype == torch.bfloat16:
            out = out.view(torch.bfloat16)
        return out.to(self.device)

    def _drop(self) -> None:
        self._data = None


def _np_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(np.int16) if dtype == torch.bfloat16 else torch.empty(0, dtype=dtype).numpy().dtype


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    x = x.detach().cpu()
    return (x.view(torch.int16) if x.dtype == torch.bfloat16 else x).numpy()
