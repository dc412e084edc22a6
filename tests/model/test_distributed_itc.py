"""ITC's in-batch negatives are gathered across processes: 2 processes x B equals 1 process x 2B."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.model.test_stage1 import TEXTS, batch, tiny_stage1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _itc_loss(model, pixels, ids, mask) -> torch.Tensor:
    model.itm_logits = lambda *a, **k: torch.zeros(3 * pixels.shape[0], 2)  # ITM/ITG are not under test
    return model(pixels, ids, mask).loss_itc


def _worker(rank: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = tiny_stage1()
    ids, mask = batch(model, TEXTS)
    pixels = torch.randn(4, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    local = slice(2 * rank, 2 * rank + 2)
    loss = _itc_loss(model, pixels[local], ids[local], mask[local])
    loss.backward()
    grad = model.qformer.query_tokens.grad.clone()
    dist.all_reduce(loss)
    dist.all_reduce(grad)
    out[rank] = (loss.item() / 2, grad / 2)
    dist.destroy_process_group()


def test_two_processes_give_the_single_process_itc_loss_and_gradient():
    torch.manual_seed(0)
    model = tiny_stage1()
    ids, mask = batch(model, TEXTS)
    pixels = torch.randn(4, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    single = _itc_loss(model, pixels, ids, mask)
    single.backward()
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(_free_port(), out), nprocs=2, join=True)
        loss, grad = out[0]
    assert abs(loss - single.item()) < 1e-5
    torch.testing.assert_close(grad, model.qformer.query_tokens.grad, atol=1e-6, rtol=1e-4)
