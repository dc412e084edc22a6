"""Epochs over a stream of shards: the same number of steps in every process, and bad samples counted.

Shards are split across processes, so one process can run out of samples before another (uneven shard sizes,
a shard fewer). In distributed training a process that stops stepping leaves the others waiting in their next
gradient all-reduce for ever. So before each batch the processes agree, with one small all-reduce, whether
every one of them still has a batch; when one has none, the epoch ends for all, and the others drop the rest
of theirs (as `drop_last` drops a ragged tail). The same all-reduce sums the samples read and the bad samples
skipped (``ShardStream``'s counts), so every process sees the same totals and stops together when too many are
bad.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from .recipe import RecipeError

MIN_SAMPLES_FOR_CHECK = 1000  # before this many samples are read, the bad fraction is judged only at an epoch's end


class TooManyBadSamples(RecipeError):
    """More than `max_bad_fraction` of the samples read from the shards could not be read."""


class StreamEpochs:
    """Batches of a shard stream's DataLoader, epoch by epoch, in step across processes.

    `read` and `bad` are the totals over all processes and epochs (as of the last batch); `batches` counts the
    batches taken in the current epoch (what a resume skips)."""

    def __init__(self, accelerator, max_bad_fraction: float, state: dict[str, Any] | None = None):
        self.accelerator, self.max_bad_fraction = accelerator, max_bad_fraction
        state = state or {}
        self.read, self.bad, self.batches = state.get("read", 0), state.get("bad", 0), 0
        # this process's counts of finished epochs; a resume puts the saved totals on the main process
        self.done = [self.read, self.bad] if accelerator.is_main_process else [0, 0]
        self._current: dict[int, tuple[int, int]] = {}  # this epoch: worker -> (read, bad) as last reported

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps: the totals over all processes."""
        return {"read": self.read, "bad": self.bad}

    def _local(self) -> tuple[int, int]:
        return (self.done[0] + sum(r for r, _ in self._current.values()),
                self.done[1] + sum(b for _, b in self._current.values()))

    def epoch(self, loader, skip: int = 0) -> Iterator[dict[str, Any]]:
        """One epoch's batches (after skipping `skip` of them, as a resume does), on the accelerator's device."""
        self.batches, self._current = 0, {}
        iterator = iter(loader)
        while True:
            batch = next(iterator, None)
            for worker, read, bad in (batch.pop("counts", []) if batch is not None else []):
                self._current[worker] = max(self._current.get(worker, (0, 0)), (read, bad))
            have_all = self._agree(batch is not None)
            self.check(final=not have_all)
            if not have_all:
                break
            self.batches += 1
            if self.batches > skip:
                yield _to_device(batch, self.accelerator.device)
        self.done = list(self._local())
        self._current = {}
        if self.batches == 0:  # every process sees the same count, so all stop here together
            raise RecipeError(
                "an epoch of the shard stream gave no full batch on at least one process: it got no shard, or too "
                f"few samples for one batch ({self.read} samples read in all); use more shards than processes x "
                "DataLoader workers (--set num_workers=...), or a smaller batch_size")

    def _agree(self, have: bool) -> bool:
        """Whether every process has a batch; also sums the counts over processes."""
        read, bad = self._local()
        flags = torch.tensor([float(have), float(read), float(bad)], dtype=torch.float64,
                             device=self.accelerator.device)
        if self.accelerator.num_processes > 1:
            flags = self.accelerator.reduce(flags, reduction="sum")
        self.read, self.bad = int(flags[1].item()), int(flags[2].item())
        return int(flags[0].item()) == self.accelerator.num_processes

    def check(self, final: bool = False) -> None:
        """Stop the run once more than `max_bad_fraction` of the samples read are bad (judged from
        `MIN_SAMPLES_FOR_CHECK` samples on, and at every epoch's end)."""
        if not self.read or (self.read < MIN_SAMPLES_FOR_CHECK and not final):
            return
        if self.bad > self.max_bad_fraction * self.read:
            raise TooManyBadSamples(
                f"{self.bad} of {self.read} samples read from the shards could not be read (corrupt image, no "
                f"caption, broken tar member): {self.bad / self.read:.2%}, over max_bad_fraction "
                f"{self.max_bad_fraction:.2%}; repair or drop those shards, or --set max_bad_fraction=...")


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
