"""Fast retrieval scores equal LAVIS's algorithm (within 1e-5), scoring each candidate pair once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import blip2
import tasks
from bench.runner.features import FeatureStore, pad_tokens
from bench.runner.retrieve import retrieval_scores
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
    itm_rows = []
    original_itm = model.itm_logits

    def counting_itm(image, ids, mask, image_kv=None):
        itm_rows.append(ids.shape[0])
        return original_itm(image, ids, mask, image_kv=image_kv)

    monkeypatch.setattr(model, "itm_logits", counting_itm)
    fast = _scores(model, retrieval_split, k)
    n_img, n_txt = fast["itc"].shape
    union = _union_size(fast["itc"], k)
    assert sum(itm_rows) == union
    assert union < n_img * k + n_txt * k  # LAVIS scores n_img*k + n_txt*k pairs; overlap is saved
    assert kv_calls == [1] * n_img  # once per image, one image at a time


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


def test_pad_tokens_pads_to_the_longest_only():
    ids, mask = pad_tokens([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
