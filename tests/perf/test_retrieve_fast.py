"""Fast retrieval scores equal LAVIS's algorithm (within 1e-5), scoring each candidate pair once."""

from __future__ import annotations

import dataclasses
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import blip2
import tasks
from bench.runner.features import FeatureStore, RowStore, pad_tokens
from bench.runner.retrieve import retrieval_scores
from blip2.models import fast
from blip2.models.build import build_model
from blip2.testing import randomize_
from tests.perf.counting import CountingTransform, rows_through


def _scores(model, split, k: int, transform=None, **kwargs):
    task = tasks.get(split.task)
    settings = task.settings().with_overrides({"k_test": k})
    return retrieval_scores(model, task, split, settings, transform or blip2.image_transform(model), 4, 0, **kwargs)


def _union_size(itc: np.ndarray, k: int) -> int:
    """Candidate pairs counted independently of `rerank`: a set of (image, text) tuples."""
    pairs = {(i, int(t)) for i in range(itc.shape[0]) for t in np.argsort(-itc[i], kind="stable")[:k]}
    pairs |= {(int(i), t) for t in range(itc.shape[1]) for i in np.argsort(-itc[:, t], kind="stable")[:k]}
    return len(pairs)


@pytest.mark.parametrize("shape", ["base", "wide"])
def test_fast_scores_equal_the_reference(tiny_dir, retrieval_split, shape):
    model = blip2.load_model(tiny_dir("itm", shape))
    k = 3
    reference = _scores(model, retrieval_split, k, optimized=False)
    counting = CountingTransform(blip2.image_transform(model))
    with rows_through(model.vision) as vit:
        fast = _scores(model, retrieval_split, k, transform=counting, itm_batch=5)
    for name in ("itc", "i2t", "t2i"):
        assert fast[name].shape == reference[name].shape
        np.testing.assert_allclose(fast[name], reference[name], atol=1e-5, rtol=0)
    # the same candidates in both directions (non-candidates are exactly -100 in both)
    for name in ("i2t", "t2i"):
        np.testing.assert_array_equal(fast[name] == -100, reference[name] == -100)
        assert 0 < np.sum(fast[name] != -100) < fast[name].size
    assert sum(vit) == counting.calls == len(retrieval_split.image_paths)  # each image decoded and encoded once


def test_each_candidate_pair_is_scored_once_and_each_images_keys_once(tiny_dir, retrieval_split, monkeypatch):
    model = blip2.load_model(tiny_dir("itm", "base"))
    k = 3
    kv_calls = []
    original = model.qformer.image_kv
    monkeypatch.setattr(model.qformer, "image_kv", lambda image: kv_calls.append(image.shape[0]) or original(image))
    state_rows, itm_rows = [], []
    original_states, original_itm = fast.itm_text_states, fast.itm_logits_from_states

    def counting_states(model, ids, mask):
        state_rows.append(ids.shape[0])
        return original_states(model, ids, mask)

    def counting_itm(model, queries, text, mask, image=None, image_kv=None):
        itm_rows.append(queries.shape[0])
        return original_itm(model, queries, text, mask, image=image, image_kv=image_kv)

    monkeypatch.setattr(fast, "itm_text_states", counting_states)
    monkeypatch.setattr(fast, "itm_logits_from_states", counting_itm)
    monkeypatch.setattr(model, "itm_logits", None)  # the fast path never runs the plain ITM pass
    scores = _scores(model, retrieval_split, k)
    n_img, n_txt = scores["itc"].shape
    union = _union_size(scores["itc"], k)
    assert sum(itm_rows) == union
    assert union < n_img * k + n_txt * k  # LAVIS scores n_img*k + n_txt*k pairs; overlap is saved
    assert kv_calls == [1] * n_img  # once per image, one image at a time
    assert sum(state_rows) == n_txt  # the image-free start of the pass: once per text (each is a candidate)


def _itm_model(tiny_dir, shape: str, layers: int):
    """The tiny retrieval model's config with `layers` Q-Former layers, random weights."""
    cfg = blip2.load_model(tiny_dir("itm", shape)).cfg
    cfg = dataclasses.replace(cfg, qformer=dataclasses.replace(cfg.qformer, layers=layers))
    return randomize_(build_model(cfg), seed=layers).eval()


# base: cross-attention in layer 0 only of 2 (the last layer has none); wide: in every layer. One layer: the
# first layer is also the last.
@pytest.mark.parametrize("shape,layers", [("base", 1), ("base", 2), ("base", 4), ("wide", 1), ("wide", 3)])
def test_itm_from_text_states_equals_the_plain_pass(tiny_dir, shape, layers):
    """States computed in batches of different padding, gathered per pair in another order, give the plain logits."""
    model = _itm_model(tiny_dir, shape, layers)
    q = model.cfg.qformer
    gen = torch.Generator().manual_seed(5)
    lengths = [9, 3, 1, 6, 9, 2]
    ids = torch.randint(1, q.vocab_size, (len(lengths), 12), generator=gen)
    mask = (torch.arange(12)[None] < torch.tensor(lengths)[:, None]).long()
    ids = ids * mask  # pad id 0 after each text, LAVIS-style padding to 12
    image = torch.randn(3, 5, q.vision_width, generator=gen)
    with torch.no_grad():
        # states from two calls padded differently (to 9 and to 11), as the runner's length buckets do
        first = fast.itm_text_states(model, ids[:3, :9], mask[:3, :9])
        second = fast.itm_text_states(model, ids[3:, :11], mask[3:, :11])
        queries = torch.cat([first[0], second[0]])
        text = torch.cat([torch.nn.functional.pad(first[1], (0, 0, 0, 2)), second[1]])
        for img in range(image.shape[0]):
            order = [4, 1, 5, 2, 0, 3][img:] + [4, 1, 5, 2, 0, 3][:img]  # rows of both calls, mixed
            plain = model.itm_logits(image[img:img + 1].expand(len(order), -1, -1), ids[order], mask[order])
            width = max(lengths[t] for t in order)
            kv = model.qformer.image_kv(image[img:img + 1])
            shared = fast.itm_logits_from_states(model, queries[order], text[order, :width], mask[order, :width],
                                                 image_kv=kv)
            torch.testing.assert_close(shared, plain, atol=1e-5, rtol=0)
            per_pair = fast.itm_logits_from_states(model, queries[order], text[order, :width], mask[order, :width],
                                                   image=image[img:img + 1].expand(len(order), -1, -1))
            torch.testing.assert_close(per_pair, plain, atol=1e-5, rtol=0)
        assert plain.std() > 0  # the texts give different logits, so a row mix-up would show


def test_fast_scores_equal_the_reference_with_a_deeper_qformer(tiny_dir, retrieval_split):
    """Four layers: the middle layers run the plain layer code between the fast first and last layers."""
    model = _itm_model(tiny_dir, "base", 4)
    model.tokenizer = blip2.load_model(tiny_dir("itm", "base")).tokenizer
    reference = _scores(model, retrieval_split, 4, optimized=False)
    fast = _scores(model, retrieval_split, 4, itm_batch=3)
    for name in ("itc", "i2t", "t2i"):
        np.testing.assert_allclose(fast[name], reference[name], atol=1e-5, rtol=0)
        np.testing.assert_array_equal(fast[name] == -100, reference[name] == -100)


def test_features_spilled_to_disk_give_identical_scores(tiny_dir, retrieval_split):
    model = blip2.load_model(tiny_dir("itm", "base"))
    in_memory = _scores(model, retrieval_split, 3)
    on_disk = _scores(model, retrieval_split, 3, feature_memory=0)
    for name in ("itc", "i2t", "t2i"):
        np.testing.assert_array_equal(on_disk[name], in_memory[name])


@pytest.mark.parametrize("budget", [0, 10**9])
def test_feature_store_returns_what_was_written_across_chunks(budget):
    data = torch.arange(7 * 3 * 2, dtype=torch.float32).reshape(7, 3, 2)
    with FeatureStore(7, budget) as store:
        store.append(data[:3])
        store.append(data[3:5])
        store.append(data[5:])
        assert store.on_disk == (budget == 0)
        torch.testing.assert_close(store.get(2, 6), data[2:6], rtol=0, atol=0)
        torch.testing.assert_close(store.get(0, 7), data, rtol=0, atol=0)
        with pytest.raises(IndexError):
            store.get(5, 8)
        with pytest.raises(ValueError):
            store.append(data[:1])


def _sharded_worker(rank: int, port: int, path, split, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    out[rank] = _scores(blip2.load_model(path), split, 3, rank=rank, world=2)
    dist.destroy_process_group()


def test_two_processes_give_the_single_process_scores(tiny_dir, retrieval_split):
    """Each process scores its own images' pairs (text states only for their texts); all end with the same scores."""
    path = tiny_dir("itm", "base")
    single = _scores(blip2.load_model(path), retrieval_split, 3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_sharded_worker, args=(port, path, retrieval_split, out), nprocs=2)
        sharded = dict(out)
    for rank in (0, 1):
        for name in ("itc", "i2t", "t2i"):
            np.testing.assert_allclose(sharded[rank][name], single[name], atol=1e-5, rtol=0)


@pytest.mark.parametrize("budget", [0, 10**9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_row_store_returns_rows_by_item_cut_to_a_length(budget, dtype):
    rows = torch.randn(5, 4, 3).to(dtype)
    with RowStore(5, 4, 3, dtype, "cpu", budget) as store:
        assert store.on_disk == (budget == 0)
        store.put([3, 0], rows[[3, 0], :2])  # written from a batch padded to 2
        store.put([4, 1, 2], rows[[4, 1, 2]])
        torch.testing.assert_close(store.take([2, 4], 4), rows[[2, 4]], rtol=0, atol=0)
        torch.testing.assert_close(store.take([0, 3, 1], 2), rows[[0, 3, 1], :2], rtol=0, atol=0)
        assert store.take([0], 4)[0, 2:].abs().sum() == 0  # beyond what was written: zeros
        assert store.take([1], 3).dtype == dtype


def test_pad_tokens_pads_to_the_longest_only():
    ids, mask = pad_tokens([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
