"""Small JPEG copies of the runs' images inside the report folder, within a stated size budget.

The report must open from any machine without the data root, and a page of 50 full-size photos would be slow,
so every image a sample shows is shrunk to at most :data:`THUMBNAIL_PX` pixels on its long side (JPEG quality
:data:`JPEG_QUALITY`; smaller images keep their size) and written once, however many runs and samples show it.
A photo comes out near 3 KB (docs/report.md has the measurement), so the default budget
(:data:`DEFAULT_BUDGET_MB`) holds every image of the seven paper tasks' evaluation splits (about 46k). Once the
next thumbnail would pass the budget, thumbnails stop: the later samples show none, and the report says how many
were left out and how to raise the budget.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

THUMBNAIL_PX = 96
JPEG_QUALITY = 80
DEFAULT_BUDGET_MB = 200
FOLDER = "thumbs"
MiB = 2**20
BATCH = 256  # images decoded together; past the budget, no further batch is decoded


def thumbnail_bytes(path: Path) -> bytes | None:
    """The JPEG thumbnail of one image, or None when it cannot be read (a missing or corrupt file)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))  # JPEG: decode at a reduced scale, much faster
            image = image.convert("RGB")
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.BICUBIC)
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
            return out.getvalue()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


@dataclass
class Thumbnails:
    """The thumbnails written into ``folder`` (the report's root): image path -> path relative to the root."""

    root: Path
    budget_bytes: int
    written: dict[Path, str] = field(default_factory=dict)
    used_bytes: int = 0
    unreadable: set[Path] = field(default_factory=set)
    over_budget: set[Path] = field(default_factory=set)

    def add(self, paths: Iterable[Path], workers: int | None = None) -> None:
        """Make the thumbnails of ``paths`` not made yet, in order, until the budget is spent."""
        todo = [p for p in dict.fromkeys(Path(p) for p in paths)
                if p not in self.written and p not in self.unreadable and p not in self.over_budget]
        if not todo:
            return
        if self.budget_bytes <= 0 or self.over_budget:
            self.over_budget.update(todo)
            return
        (self.root / FOLDER).mkdir(parents=True, exist_ok=True)
        workers = workers or min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as pool:  # Pillow decodes and resizes outside the GIL
            for start in range(0, len(todo), BATCH):
                batch = todo[start:start + BATCH]
                if self.over_budget:  # spent: the rest is not even decoded
                    self.over_budget.update(batch)
                    continue
                for path, data in zip(batch, pool.map(thumbnail_bytes, batch, chunksize=8), strict=True):
                    self._keep(path, data)

    def _keep(self, path: Path, data: bytes | None) -> None:
        if data is None:
            self.unreadable.add(path)
            return
        if self.over_budget or self.used_bytes + len(data) > self.budget_bytes:
            self.over_budget.add(path)
            return
        name = f"{FOLDER}/{hashlib.sha1(str(path).encode('utf-8')).hexdigest()[:16]}.jpg"
        (self.root / name).write_bytes(data)
        self.written[path] = name
        self.used_bytes += len(data)

    def get(self, path: Path | None) -> str | None:
        """The thumbnail's path relative to the report's root, or None (no image, unreadable, over budget)."""
        return None if path is None else self.written.get(path if isinstance(path, Path) else Path(path))

    def notes(self) -> list[str]:
        """What a reader should know about missing thumbnails."""
        notes = []
        if self.over_budget and self.budget_bytes <= 0:
            notes.append("thumbnails are off (--thumbnail-budget-mb 0)")
        elif self.over_budget:
            notes.append(f"{len(self.over_budget)} image(s) have no thumbnail: the thumbnails reached their budget "
                         f"of {self.budget_bytes / MiB:.0f} MiB ({len(self.written)} written); raise it with "
                         "--thumbnail-budget-mb")
        if self.unreadable:
            notes.append(f"{len(self.unreadable)} image(s) could not be read (missing or corrupt), so have no "
                         "thumbnail")
        return notes
