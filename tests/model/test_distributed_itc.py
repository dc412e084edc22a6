"""ITC's in-batch negatives are gathered across processes: 2 processes x B equals 1 process x 2B."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.model.test_stage1 import TEXTS, batch, itm_negatives, tiny_stage1


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


def _longest_worker(rank: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = tiny_stage1()
    mine = LONGEST[2 * rank: 2 * rank + 2]
    enc = model.tokenizer(mine, padding="longest", return_tensors="pt")
    pixels = torch.randn(2, 3, 28, 28, generator=torch.Generator().manual_seed(rank))
    seen, itm_logits = {}, model.itm_logits

    def spy(images, text_ids, text_mask):
        seen["ids"], seen["mask"] = text_ids.clone(), text_mask.clone()
        return itm_logits(images, text_ids, text_mask)

    model.itm_logits = spy
    with torch.no_grad(), itm_negatives() as negatives:
        result = model(pixels, enc.input_ids, enc.attention_mask)
    out[rank] = (enc.input_ids.shape[1], result.loss_itm.item(), negatives[0][1].tolist(),
                 seen["ids"], seen["mask"])
    dist.destroy_process_group()


LONGEST = [TEXTS[3], TEXTS[2], TEXTS[1], TEXTS[0]]  # rank 0 pads to 3 tokens, rank 1 to 7


def test_itm_negatives_gather_texts_padded_to_different_lengths():
    """Each process pads its own texts ("longest"), so the rows gathered for ITM negatives differ in
    length between processes; the gather pads them on the right, keeping every token of every text."""
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_longest_worker, args=(_free_port(), out), nprocs=2, join=True)
        results = dict(out)
    assert results[0][0] != results[1][0]
    tokenizer = tiny_stage1().tokenizer
    for rank, (_, loss_itm, negatives, ids, mask) in results.items():
        assert torch.isfinite(torch.tensor(loss_itm))
        assert all(0 <= n < 4 and n != 2 * rank + i for i, n in enumerate(negatives))
        rows = [2 * rank, 2 * rank + 1, 2 * rank, 2 * rank + 1, *negatives]  # text order: pos, pos, neg
        for row, source in zip(ids, rows, strict=True):
            want = tokenizer(LONGEST[source]).input_ids
            assert row[: len(want)].tolist() == want
            assert (row[len(want):] == 0).all()
        assert (mask.sum(1) == torch.tensor([len(tokenizer(LONGEST[s]).input_ids) for s in rows])).all()


def _fixed_negatives(weights: torch.Tensor, num_samples: int) -> torch.Tensor:
    """The next sample of the global batch as every row's negative, in place of a random draw."""
    offset = dist.get_rank() * weights.shape[0] if dist.is_initialized() else 0
    return ((torch.arange(weights.shape[0]) + offset + 1) % weights.shape[1])[:, None]


def _itm_grad(model, pixels, ids, mask) -> tuple[float, torch.Tensor]:
    loss = model(pixels, ids, mask).loss_itm
    loss.backward()
    return loss.item(), model.vision.ln_vision.weight.grad.clone()


def _itm_worker(rank: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.multinomial = _fixed_negatives
    torch.manual_seed(0)
    model = tiny_stage1()
    ids, mask = batch(model, TEXTS)
    pixels = torch.randn(4, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    local = slice(2 * rank, 2 * rank + 2)
    loss, grad = _itm_grad(model, pixels[local], ids[local], mask[local])
    total = torch.tensor([loss])
    dist.all_reduce(total)
    dist.all_reduce(grad)
    out[rank] = (total.item() / 2, grad / 2)
    dist.destroy_process_group()


def test_itm_negative_images_pass_gradient_across_processes_as_in_one(monkeypatch):
    """With the same negatives, 2 processes x 2 give 1 process x 4's ITM loss and `ln_vision` gradient:
    a negative image from the other process passes gradient back to it, as a local one does."""
    monkeypatch.setattr(torch, "multinomial", _fixed_negatives)
    torch.manual_seed(0)
    model = tiny_stage1()
    ids, mask = batch(model, TEXTS)
    pixels = torch.randn(4, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    single_loss, single_grad = _itm_grad(model, pixels, ids, mask)
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_itm_worker, args=(_free_port(), out), nprocs=2, join=True)
        loss, grad = out[0]
    assert abs(loss - single_loss) < 1e-5
    torch.testing.assert_close(grad, single_grad, atol=1e-6, rtol=1e-4)
