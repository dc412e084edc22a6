"""Multi-process evaluation: deterministic sharding, and gathering on rank 0.

`accelerate launch -m bench run ...` and `torchrun -m bench run ...` both set RANK / WORLD_SIZE; the
runner then joins a process group (gloo on CPU, nccl on GPU) with no configuration of its own, so
multi-node runs need nothing beyond the launcher's usual flags.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist


def init_from_env(device: str) -> tuple[int, int]:
    """(rank, world size); joins the launcher's process group when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def device_for(device: str) -> str:
    """Each process on its own GPU: cuda -> cuda:<LOCAL_RANK> under a launcher."""
    if device == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    return device


def shard(items: Sequence, rank: int, world: int) -> list:
    """Every world-th item starting at `rank`: deterministic, balanced, independent of timing."""
    return list(items[rank::world])


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's `obj` on every rank (just [obj] when alone)."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
