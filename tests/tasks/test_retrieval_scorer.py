"""Retrieval metrics on score matrices with hand-placed ranks, LAVIS tie parity, and re-ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tasks.scoring.retrieval import rerank, retrieval_metrics

N_IMG = 12
TXT2IMG = [t % N_IMG for t in range(5 * N_IMG)]  # captions interleaved, 5 per image
IMG2TXT = [[i + N_IMG * j for j in range(5)] for i in range(N_IMG)]


def _row_with_rank(n: int, target: int, rank: int, rng, before=None) -> np.ndarray:
    """Distinct scores where ``target`` sits at 0-based ``rank``; ``before`` are kept after it."""
    others = [j for j in range(n) if j != target and (before is None or j not in before)]
    rng.shuffle(others)
    tail = [j for j in range(n) if before is not None and j in before and j != target]
    order = others[:rank] + [target] + others[rank:] + tail
    assert len(order) == n and order.index(target) == rank
    row = np.empty(n, dtype=np.float32)
    row[order] = np.linspace(1.0, -1.0, n, dtype=np.float32)
    return row


def _hand_built():
    rng = np.random.default_rng(0)
    tr_ranks = [0, 0, 0, 1, 2, 4, 5, 7, 9, 10, 11, 30]  # best rank among each image's 5 captions
    ir_ranks = [0] * 30 + [3] * 15 + [7] * 10 + [11] * 5  # rank of each caption's image
    i2t = np.stack([
        _row_with_rank(len(TXT2IMG), IMG2TXT[i][2], tr_ranks[i], rng, before=set(IMG2TXT[i]))
        for i in range(N_IMG)
    ])
    t2i = np.stack([_row_with_rank(N_IMG, TXT2IMG[t], ir_ranks[t], rng) for t in range(len(TXT2IMG))])
    return i2t, t2i


def test_metrics_on_known_ranks():
    i2t, t2i = _hand_built()
    out = retrieval_metrics(i2t, t2i, IMG2TXT, TXT2IMG)
    # TR ranks [0,0,0,1,2,4,5,7,9,10,11,30]: <1: 3/12, <5: 6/12, <10: 9/12
    # IR ranks 30x0, 15x3, 10x7, 5x11 over 60: <1: 30, <5: 45, <10: 55
    expected = {
        "TR@1": 25.0, "TR@5": 50.0, "TR@10": 75.0,
        "IR@1": 50.0, "IR@5": 75.0, "IR@10": 100 * 55 / 60,
        "TR_mean": 50.0, "IR_mean": (50 + 75 + 100 * 55 / 60) / 3,
    }
    expected["R_mean"] = (expected["TR_mean"] + expected["IR_mean"]) / 2
    assert set(out) == set(expected)
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, abs=1e-9), key


def test_tr_uses_best_of_five_captions():
    # image 0 owns texts 0-4; its captions sit at ranks 3,4,5,6,7 -> best is 3 -> TR@1 0, TR@5 100
    i2t = np.array([[0.5, 0.4, 0.3, 0.2, 0.1, 0.9, 0.8, 0.7, -1.0, -1.0],
                    [0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    t2i = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (10, 1))
    t2i[5:] = [0.0, 1.0]
    out = retrieval_metrics(i2t, t2i, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]], [0] * 5 + [1] * 5)
    assert (out["TR@1"], out["TR@5"], out["TR@10"]) == (50.0, 100.0, 100.0)
    assert (out["IR@1"], out["IR@5"]) == (100.0, 100.0)


def _lavis_style_ranks(i2t, t2i, img2txt, txt2img):
    """Independent transcription of LAVIS's ranking rule: position in np.argsort(row)[::-1]."""
    tr = []
    for i, row in enumerate(i2t):
        order = list(np.argsort(row)[::-1])
        tr.append(min(order.index(t) for t in img2txt[i]))
    ir = [list(np.argsort(row)[::-1]).index(txt2img[t]) for t, row in enumerate(t2i)]
    return np.array(tr), np.array(ir)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ties_rank_exactly_as_lavis(dtype):
    """Ties are ordered by NumPy's (unstable, CPU-dependent) argsort, reversed: we must agree with it."""
    rng = np.random.default_rng(1)
    n_img = 40
    txt2img = [t // 5 for t in range(5 * n_img)]
    img2txt = [list(range(5 * i, 5 * i + 5)) for i in range(n_img)]
    i2t = rng.integers(0, 4, (n_img, 5 * n_img)).astype(dtype)  # heavy ties
    t2i = rng.integers(0, 3, (5 * n_img, n_img)).astype(dtype)
    tr, ir = _lavis_style_ranks(i2t, t2i, img2txt, txt2img)
    out = retrieval_metrics(i2t, t2i, img2txt, txt2img)
    for k in (1, 5, 10):
        assert out[f"TR@{k}"] == 100.0 * len(np.where(tr < k)[0]) / len(tr)
        assert out[f"IR@{k}"] == 100.0 * len(np.where(ir < k)[0]) / len(ir)
    # the tie order matters here: counting only strictly higher scores would give other numbers
    optimistic_ir = np.array([(row > row[txt2img[t]]).sum() for t, row in enumerate(t2i)])
    assert not np.array_equal(optimistic_ir, ir)


def test_tied_rank_stays_within_tie_block():
    """Platform-independent part of the tie rule: a tied ground truth ranks inside its tie block."""
    # image 0 owns text 0 only: two texts score higher, three tie with it -> rank in [2, 5]
    i2t = np.array([[0.5, 0.9, 0.9, 0.5, 0.5, 0.5, 0.1, 0.1],
                    [0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    t2i = np.array([[1.0, 0.0]] + [[0.0, 1.0]] * 7, dtype=np.float32)
    img2txt, txt2img = [[0], [1, 2, 3, 4, 5, 6, 7]], [0, 1, 1, 1, 1, 1, 1, 1]
    out = retrieval_metrics(i2t, t2i, img2txt, txt2img)
    assert out["TR@1"] == 50.0  # image 0 never first (rank >= 2); image 1's text 1 is first
    assert out["TR@10"] == 100.0  # rank <= 5 whatever the tie order
    lavis_rank = list(np.argsort(i2t[0])[::-1]).index(0)
    assert 2 <= lavis_rank <= 5
    assert out["TR@5"] == (100.0 if lavis_rank < 5 else 50.0)  # and we follow LAVIS's order


def test_shape_errors_name_expected_and_got():
    i2t, t2i = _hand_built()
    with pytest.raises(ValueError, match=r"i2t must have shape \(12, 60\).*got \(12, 59\)"):
        retrieval_metrics(i2t[:, :59], t2i, IMG2TXT, TXT2IMG)
    with pytest.raises(ValueError, match=r"t2i must have shape \(60, 12\).*got \(12, 60\)"):
        retrieval_metrics(i2t, t2i.T, IMG2TXT, TXT2IMG)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_are_rejected_with_position(bad):
    i2t, t2i = _hand_built()
    i2t[3, 17] = bad
    with pytest.raises(ValueError, match=r"i2t has 1 non-finite.*row 3, col 17"):
        retrieval_metrics(i2t, t2i, IMG2TXT, TXT2IMG)
    i2t, t2i = _hand_built()
    t2i[40, 2] = bad
    with pytest.raises(ValueError, match=r"t2i .*row 40, col 2"):
        retrieval_metrics(i2t, t2i, IMG2TXT, TXT2IMG)


def test_inconsistent_ground_truth_is_rejected():
    i2t, t2i = _hand_built()
    img2txt = [list(x) for x in IMG2TXT]
    img2txt[0][0], img2txt[1][0] = img2txt[1][0], img2txt[0][0]
    with pytest.raises(ValueError, match=r"img2txt\[0\] holds text 1 but txt2img\[1\] = 1"):
        retrieval_metrics(i2t, t2i, img2txt, TXT2IMG)
    img2txt = [list(x) for x in IMG2TXT]
    img2txt[5] = []
    with pytest.raises(ValueError, match="image 5 has no ground-truth texts"):
        retrieval_metrics(i2t, t2i, img2txt, TXT2IMG)


def test_accepts_torch_tensors():
    i2t, t2i = _hand_built()
    from_torch = retrieval_metrics(torch.from_numpy(i2t), torch.from_numpy(t2i), IMG2TXT, TXT2IMG)
    assert from_torch == retrieval_metrics(i2t, t2i, IMG2TXT, TXT2IMG)


# ---- re-ranking ----

# 3 images x 5 texts; each row/column has distinct ITC values so the top-2 sets are clear.
ITC = np.array([
    [0.90, 0.80, 0.10, 0.20, 0.30],  # top-2 texts: 0, 1
    [0.15, 0.25, 0.70, 0.60, 0.05],  # top-2 texts: 2, 3
    [0.50, 0.05, 0.35, 0.40, 0.95],  # top-2 texts: 4, 0
], dtype=np.float32)
# top-2 images per text: t0 {0, 2}, t1 {0, 1}, t2 {1, 2}, t3 {1, 2}, t4 {2, 0}
I2T_CAND = {(0, 0), (0, 1), (1, 2), (1, 3), (2, 4), (2, 0)}
T2I_CAND = {(0, 0), (2, 0), (0, 1), (1, 1), (1, 2), (2, 2), (1, 3), (2, 3), (2, 4), (0, 4)}  # (img, txt)
ITM = np.arange(15, dtype=np.float32).reshape(3, 5) * -1.0  # logit(i, t) = -(5i + t): low ids win


class StubITM:
    def __init__(self):
        self.calls = []

    def __call__(self, img_idx, txt_idx):
        self.calls.append((np.asarray(img_idx).copy(), np.asarray(txt_idx).copy()))
        return ITM[img_idx, txt_idx]


def test_rerank_scores_each_candidate_pair_once_and_combines_scores():
    stub = StubITM()
    i2t, t2i = rerank(ITC, stub, k=2)
    assert len(stub.calls) == 1
    img_idx, txt_idx = stub.calls[0]
    pairs = list(zip(img_idx.tolist(), txt_idx.tolist(), strict=True))
    assert pairs == sorted(I2T_CAND | T2I_CAND)  # the union, each once, image-major then text
    assert i2t.shape == (3, 5) and t2i.shape == (5, 3)
    for i in range(3):
        for t in range(5):
            want_i2t = ITM[i, t] + ITC[i, t] if (i, t) in I2T_CAND else -100.0
            want_t2i = ITM[i, t] + ITC[i, t] if (i, t) in T2I_CAND else -100.0
            assert i2t[i, t] == pytest.approx(want_i2t), (i, t)
            assert t2i[t, i] == pytest.approx(want_t2i), (i, t)


def test_rerank_changes_the_ranking_as_the_itm_says():
    # image 2: ITC prefers text 4 (0.95) over 0 (0.50); ITM: -10 for t0, -14 for t4 -> t0 wins
    i2t, t2i = rerank(ITC, StubITM(), k=2)
    assert list(np.argsort(-i2t[2])[:2]) == [0, 4]
    assert list(np.argsort(-ITC[2])[:2]) == [4, 0]
    # text 0: images 0 (0.9 + 0) and 2 (0.5 - 10) -> image 0 first; image 1 is not a candidate
    assert list(np.argsort(-t2i[0])) == [0, 2, 1]
    # metrics on the re-ranked scores; image 0 owns text 0, image 1 text 1, image 2 texts 2-4
    out = retrieval_metrics(i2t, t2i, [[0], [1], [2, 3, 4]], [0, 1, 2, 2, 2])
    # TR: img0 -> t0 (0.9) beats t1 (0.8-1) -> rank 0; img1 -> t1 is no candidate (-100, tied with
    # t0, t4 behind t2 -6.3 and t3 -7.4) -> rank 2..4; img2 -> t0 (0.5-10) beats t4 (0.95-14), t2/t3
    # are -100 -> best GT t4 at rank 1. TR@1 = 1/3, TR@5 = 3/3.
    assert (out["TR@1"], out["TR@5"]) == (pytest.approx(100 / 3), 100.0)


def test_rerank_clips_k_and_scores_every_pair_once():
    stub = StubITM()
    i2t, t2i = rerank(ITC, stub, k=128)
    img_idx, txt_idx = stub.calls[0]
    assert len(stub.calls) == 1 and len(img_idx) == 15
    np.testing.assert_allclose(i2t, ITM + ITC)
    np.testing.assert_allclose(t2i, (ITM + ITC).T)


def test_rerank_top_k_ties_go_to_lower_index():
    itc = np.array([[0.5, 0.5, 0.5, 0.1]], dtype=np.float32)
    i2t, _ = rerank(itc, lambda i, t: np.zeros(len(i)), k=2)
    assert list(i2t[0] > -100) == [True, True, False, False]


def test_rerank_rejects_bad_scorer_output():
    with pytest.raises(ValueError, match="returned 1 scores for 10 pairs"):
        rerank(ITC, lambda i, t: np.zeros(1), k=2)

    def nan_at_second(i, t):
        out = np.zeros(len(i))
        out[1] = np.nan
        return out

    with pytest.raises(ValueError, match="non-finite score for image 0, text 1"):
        rerank(ITC, nan_at_second, k=2)
    with pytest.raises(ValueError, match=r"itc has 1 non-finite.*row 0, col 2"):
        rerank(np.array([[0.1, 0.2, np.nan]]), lambda i, t: np.zeros(len(i)), k=2)
