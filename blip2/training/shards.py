"""Pre-training shards through the ``webdataset`` library: local brace patterns, URLs, ``pipe:`` commands.

Web-scale image-text data (LAION, CC12M) is kept as tar shards of ``<key>.jpg|png`` + ``<key>.txt|json`` and
streamed; webdataset opens each shard (files, http(s), gs, hf, ``pipe:``), groups its files into samples and
shuffles them in a buffer. Around it we add what training needs:

- the shard list is shuffled per epoch with one seed that every process shares, *then* split across processes
  (``split_by_node``) and DataLoader workers (``split_by_worker``): each shard is read by exactly one worker of
  one process per epoch, so without resampling every sample appears once per epoch;
- samples are shuffled in a buffer seeded by (seed, epoch, rank, worker), and augmentation is seeded per
  sample key, so a run repeats exactly;
- a sample that cannot be read (a corrupt image, no caption, a broken tar member) is skipped and counted; the
  trainer logs the counts and stops the run once more than ``max_bad_fraction`` of the samples read are bad;
- ``pipe:`` specs run a shell command, so they are refused unless the caller allows them;
- a local pattern that matches no shard is refused before training, naming the data root.

The trainer makes every process take the same number of steps per epoch (it ends the epoch for all when one
process runs out), so uneven shards never leave a process waiting at an epoch's end.
"""

from __future__ import annotations

import io
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import IterableDataset

from ..processing import ImageTransform
from .data import seeded_transform, stable_seed
from .recipe import RecipeError, RecipeStartError

PIPE = "pipe:"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
TEXT_EXTS = ("txt", "json")


class PipeShardsRefused(RecipeError):
    """A `pipe:` shard spec without the caller's permission: it would run a shell command."""


def shard_urls(spec: str, data_root: Path, *, allow_pipe: bool = False, where: str = "shards") -> list[str]:
    """Expand a shard spec (webdataset notation: brace patterns, several joined by '::') into what webdataset
    opens. Local paths are taken relative to `data_root` and must exist; URLs and `pipe:` commands are passed
    on as they are (a `pipe:` only when `allow_pipe`)."""
    from webdataset.shardlists import expand_urls

    urls = expand_urls(spec)
    if not urls:
        raise RecipeError(f"{where}: the shard spec {spec!r} names no shard")
    out, missing = [], []
    for url in urls:
        if url.startswith(PIPE):
            if not allow_pipe:
                raise PipeShardsRefused(f"{where}: {url!r} is a pipe: shard spec, which runs a shell command; pass "
                                        "--allow-pipe-shards if you trust it")
            out.append(url)
        elif _SCHEME.match(url) and not url.startswith("file:") and not re.match(r"^[A-Za-z]:[\\/]", url):
            out.append(url)  # a URL: opened (and any error reported) by webdataset when it is read
        else:
            path = Path(url.removeprefix("file:"))
            path = path if path.is_absolute() else data_root / path
            (out if path.is_file() else missing).append(str(path))
    if missing:
        none = len(missing) == len(urls)
        raise RecipeStartError(f"{where}: {'the pattern matches no shard' if none else 'missing tar shards'} under "
                               f"{data_root} ({len(missing)} of {len(urls)} missing, e.g. {missing[:3]}); check "
                               "--data-root and the pattern, or --set shards=PATTERN")
    return out


def _caption(sample: dict[str, Any]) -> str:
    if "txt" in sample:
        return sample["txt"].decode("utf-8").strip()
    if "json" in sample:
        return str(json.loads(sample["json"])["caption"]).strip()
    raise KeyError(f"no caption (.txt or .json) among {sorted(k for k in sample if not k.startswith('__'))}")


def _image(sample: dict[str, Any]) -> bytes:
    for ext in IMAGE_EXTS:
        if ext in sample:
            return sample[ext]
    raise KeyError(f"no image ({', '.join('.' + e for e in IMAGE_EXTS)}) among "
                   f"{sorted(k for k in sample if not k.startswith('__'))}")


class ShardStream(IterableDataset):
    """Image-text pairs streamed from shards: {"pixel_values", "text", "image_id", "question", "index",
    "counts"}; `counts` is (worker, samples read, bad samples) of the worker that yielded the item."""

    def __init__(self, urls: list[str], transform: ImageTransform, *, seed: int = 0, shuffle_buffer: int = 1000):
        self.urls, self.transform, self.seed, self.shuffle_buffer = list(urls), transform, seed, shuffle_buffer
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shard_order(self) -> list[str]:
        """This epoch's shard order: the same in every process, so the split below is a partition."""
        urls = list(self.urls)
        random.Random(stable_seed(self.seed, "shards", self.epoch)).shuffle(urls)
        return urls

    def samples(self, counts: list[int]) -> Iterator[dict[str, Any]]:
        """This process's and worker's raw samples for the epoch; read errors are counted in `counts[1]`."""
        import webdataset as wds

        rank, _, worker, _ = wds.utils.pytorch_worker_info()

        def skip(exc: Exception) -> bool:  # a shard or tar member webdataset could not read: one bad sample
            counts[0] += 1
            counts[1] += 1
            return True

        stages = [wds.SimpleShardList(self.shard_order()), wds.split_by_node, wds.split_by_worker,
                  wds.tarfile_to_samples(handler=skip)]
        if self.shuffle_buffer > 1:
            stages.append(wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer,
                                      seed=stable_seed(self.seed, self.epoch, rank, worker)))
        yield from wds.DataPipeline(*stages)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import webdataset as wds

        _, _, worker, _ = wds.utils.pytorch_worker_info()
        counts = [0, 0]  # samples read, bad ones (both with tar-level errors)
        pending = None  # each item is held until the next good one, so its counts include the bad ones between
        for n, sample in enumerate(self.samples(counts)):
            counts[0] += 1
            key = f"{sample.get('__url__', '')}#{sample.get('__key__', n)}"
            try:
                text = _caption(sample)
                with Image.open(io.BytesIO(_image(sample))) as image:
                    pixels = seeded_transform(self.transform, image.convert("RGB"),
                                              stable_seed(self.seed, self.epoch, key))
            except (OSError, ValueError, KeyError, UnicodeDecodeError, Image.DecompressionBombError):
                counts[1] += 1
                continue
            if pending is not None:
                yield {**pending, "counts": (worker, counts[0] - 1, counts[1])}
            pending = {"pixel_values": pixels, "text": text, "image_id": sample.get("__key__", str(n)),
                       "question": None, "index": n}
        if pending is not None:  # the last item carries the worker's final counts, trailing bad samples included
            yield {**pending, "counts": (worker, counts[0], counts[1])}
