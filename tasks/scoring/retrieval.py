"""Image-text retrieval: recall@K as LAVIS reports it, and k=128 ITM re-ranking of ITC similarities.

Ties. LAVIS ranks a row with ``np.argsort(scores)[::-1]`` and takes the position of the ground
truth in that order. NumPy's default argsort is not stable (on AVX-512/AVX2 machines it is a SIMD
sort even for short rows), so how tied scores are ordered depends on NumPy's version, the CPU and
the dtype; it is neither "optimistic" nor "pessimistic". We rank every row with that same call on
the row exactly as given (no dtype cast), so on the same machine our ranks equal LAVIS's, ties
included. What is guaranteed everywhere: a ground truth tied with ``m`` other scores and below
``g`` scores gets a rank in ``[g, g + m]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

NON_CANDIDATE_SCORE = -100.0


def _to_numpy(x) -> np.ndarray:
    """Accept numpy arrays and torch tensors (without importing torch for numpy input)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        x = (x.float() if str(x.dtype) == "torch.bfloat16" else x).numpy()
    return np.asarray(x)


def _as_matrix(name: str, scores, shape: tuple[int, int]) -> np.ndarray:
    arr = _to_numpy(scores)
    if arr.ndim != 2 or arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (rows x columns), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        r, c = (int(x) for x in bad[0])
        raise ValueError(f"{name} has {len(bad)} non-finite scores, first at row {r}, col {c}: {arr[r, c]}")
    return arr


def _rank_positions(row: np.ndarray) -> np.ndarray:
    """Position of every column in LAVIS's ordering of ``row`` (0 = best)."""
    order = np.argsort(row)[::-1]
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    return pos


def _recalls(ranks: np.ndarray) -> tuple[float, float, float]:
    # 100 * count / n in this order, as LAVIS computes it (bit-identical floats)
    return tuple(100.0 * int(np.sum(ranks < k)) / len(ranks) for k in (1, 5, 10))


def retrieval_metrics(
    i2t: np.ndarray,
    t2i: np.ndarray,
    img2txt: Sequence[Sequence[int]],
    txt2img: Sequence[int],
) -> dict:
    """TR@1/5/10, IR@1/5/10 and their means; see :func:`retrieval_scores`."""
    return retrieval_scores(i2t, t2i, img2txt, txt2img)[0]


def retrieval_scores(
    i2t: np.ndarray,
    t2i: np.ndarray,
    img2txt: Sequence[Sequence[int]],
    txt2img: Sequence[int],
) -> tuple[dict, np.ndarray, np.ndarray]:
    """TR@1/5/10, IR@1/5/10 and their means (0-100, unrounded) from score matrices, with each image's and each
    text's 0-based rank (the per-sample scores a run keeps).

    ``i2t`` is [n_images x n_texts] and ``t2i`` [n_texts x n_images]; ``img2txt[i]`` lists the
    captions of image ``i`` and ``txt2img[t]`` is the image of caption ``t``. An image's TR rank
    is the best rank among its captions; a caption's IR rank is the rank of its image.
    """
    n_img, n_txt = len(img2txt), len(txt2img)
    if n_img == 0 or n_txt == 0:
        raise ValueError("retrieval needs at least one image and one text")
    i2t = _as_matrix("i2t", i2t, (n_img, n_txt))
    t2i = _as_matrix("t2i", t2i, (n_txt, n_img))
    for t, img in enumerate(txt2img):
        if not 0 <= int(img) < n_img:
            raise ValueError(f"txt2img[{t}] = {img} is not an image index in [0, {n_img})")
    for img, texts in enumerate(img2txt):
        if len(texts) == 0:
            raise ValueError(f"image {img} has no ground-truth texts in img2txt")
        for t in texts:
            if not 0 <= int(t) < n_txt:
                raise ValueError(f"img2txt[{img}] holds {t}, not a text index in [0, {n_txt})")
            if int(txt2img[int(t)]) != img:
                raise ValueError(f"img2txt[{img}] holds text {t} but txt2img[{t}] = {txt2img[int(t)]}")

    tr_ranks, ir_ranks = _ranks(i2t, t2i, img2txt, txt2img)
    tr1, tr5, tr10 = _recalls(tr_ranks)
    ir1, ir5, ir10 = _recalls(ir_ranks)
    tr_mean = (tr1 + tr5 + tr10) / 3
    ir_mean = (ir1 + ir5 + ir10) / 3
    metrics = {
        "TR@1": tr1, "TR@5": tr5, "TR@10": tr10,
        "IR@1": ir1, "IR@5": ir5, "IR@10": ir10,
        "TR_mean": tr_mean, "IR_mean": ir_mean, "R_mean": (tr_mean + ir_mean) / 2,
    }
    return metrics, tr_ranks, ir_ranks


def _ranks(i2t: np.ndarray, t2i: np.ndarray, img2txt: Sequence[Sequence[int]], txt2img: Sequence[int]
           ) -> tuple[np.ndarray, np.ndarray]:
    """0-based rank of each image's best true text among all texts, and of each text's image among all images."""
    tr_ranks = np.array(
        [_rank_positions(i2t[i])[np.asarray(img2txt[i], dtype=np.int64)].min() for i in range(len(img2txt))]
    )
    ir_ranks = np.array([_rank_positions(t2i[t])[int(txt2img[t])] for t in range(len(txt2img))])
    return tr_ranks, ir_ranks


def _top_k(rows: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest entries of every row; ties go to the lower index (stable)."""
    return np.argsort(-rows, axis=1, kind="stable")[:, :k]


def rerank(
    itc: np.ndarray,
    itm_scorer: Callable[[np.ndarray, np.ndarray], np.ndarray],
    k: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """BLIP-2's k=128 re-ranking; returns (i2t [n_img, n_txt], t2i [n_txt, n_img]).

    ITC picks the top ``k`` texts of every image and the top ``k`` images of every text (``k`` is
    clipped to the matrix; ties at the cut go to the lower index, where LAVIS's ``torch.topk``
    leaves them unspecified). The union of those pairs is scored once by ``itm_scorer(image_idx,
    text_idx)``, called with pairs sorted by image then text so a model can batch per image; it
    returns each pair's ITM positive-class logit. A candidate's score is that logit plus its ITC
    similarity; pairs that are not candidates in a direction get -100 there.
    """
    itc = _to_numpy(itc)
    if itc.ndim != 2 or 0 in itc.shape:
        raise ValueError(f"itc must be a non-empty [n_images, n_texts] matrix, got shape {itc.shape}")
    itc = _as_matrix("itc", itc, itc.shape).astype(np.float32)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_img, n_txt = itc.shape

    img_top = _top_k(itc, min(k, n_txt))  # [n_img, k] text indices
    txt_top = _top_k(itc.T, min(k, n_img))  # [n_txt, k] image indices
    i2t_keys = (np.arange(n_img)[:, None] * n_txt + img_top).ravel()
    t2i_keys = (txt_top * n_txt + np.arange(n_txt)[:, None]).ravel()
    pair_keys = np.union1d(i2t_keys, t2i_keys)  # sorted: image-major, then text
    img_idx, txt_idx = pair_keys // n_txt, pair_keys % n_txt

    logits = _to_numpy(itm_scorer(img_idx, txt_idx)).astype(np.float32).reshape(-1)
    if logits.shape[0] != len(pair_keys):
        raise ValueError(f"itm_scorer returned {logits.shape[0]} scores for {len(pair_keys)} pairs")
    bad = np.flatnonzero(~np.isfinite(logits))
    if len(bad):
        j = bad[0]
        raise ValueError(f"itm_scorer returned a non-finite score for image {img_idx[j]}, text {txt_idx[j]}")

    combined = np.full(n_img * n_txt, np.nan, dtype=np.float32)
    combined[pair_keys] = logits + itc.ravel()[pair_keys]
    i2t = np.full((n_img, n_txt), NON_CANDIDATE_SCORE, dtype=np.float32)
    t2i = np.full((n_txt, n_img), NON_CANDIDATE_SCORE, dtype=np.float32)
    i2t.ravel()[i2t_keys] = combined[i2t_keys]
    ti, tt = t2i_keys // n_txt, t2i_keys % n_txt
    t2i[tt, ti] = combined[t2i_keys]
    return i2t, t2i
