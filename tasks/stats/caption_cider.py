"""CIDEr-D on reweighted images, its document frequencies recomputed per resample, as sparse matrix algebra.

pycocoevalcap's ``CiderScorer`` (the CIDEr-D that every captioning paper reports) scores a set of images
against statistics of that same set: an n-gram's document frequency ``df(g)`` is the number of scored
images whose references contain it (each image's *set* of reference n-grams counts once), and
``ref_len = log(number of images)``. A bootstrap resample that draws image ``i`` ``w_i`` times is, to the
official code, a data set holding ``w_i`` copies of it, so

    df(g) = sum_i w_i [g in image i's reference n-grams],     ref_len = log(sum_i w_i),
    idf(g) = ref_len - log(max(1, df(g)))                      (>= 0: df(g) <= sum_i w_i),
    CIDEr  = sum_i w_i cider_i / sum_i w_i,

each ``cider_i`` computed with those idf. Holding the idf of the full set fixed would understate the spread.

``cider_i`` is, as in the official code, ``10 / (4 |refs_i|)`` times the sum over references r and orders n
of ``pen(i, r) * num / (|h| |r|)`` where, g running over n-grams of order n,

* ``num = sum_g min(tf_h(g) idf(g), tf_r(g) idf(g)) tf_r(g) idf(g) = sum_g min(tf_h, tf_r) tf_r idf(g)^2``
  (the clipping, ``min(vec_hyp, vec_ref)``; idf >= 0 lets it factor out),
* ``|h|^2 = sum_g tf_h(g)^2 idf(g)^2`` and ``|r|^2 = sum_g tf_r(g)^2 idf(g)^2`` (a term counts as 0 when
  either norm is 0),
* ``pen = exp(-(l_h - l_r)^2 / (2 sigma^2))``, sigma 6, the lengths ``l`` counting *bigrams* (the official
  ``length`` is summed where ``n == 1``, i.e. over 2-grams).

Every sum is linear in ``idf^2``, so three sparse matrices (one row per (image, order) for the candidate
norms, per (reference, order) for the reference norms and the clipped numerators; one column per n-gram)
are built once, and a chunk of resamples costs ``df = D^T W^T``, an elementwise log, and one sparse product.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain

import numpy as np
from scipy import sparse

ORDERS = 4  # pycocoevalcap's Cider(n=4)
SIGMA = 6.0  # pycocoevalcap's Cider(sigma=6.0)
SCALE = 10.0  # the official "multiply score by 10"
# resamples per sparse product: keeps each temporary near 20 MB at COCO size, so memory is reused, not faulted in
BLOCK = 10

NgramCounts = Counter  # Counter[tuple[str, ...]]


def ngram_counts(sentence: str) -> NgramCounts:
    """1- to 4-gram counts of a tokenized sentence, split on whitespace as pycocoevalcap's ``precook`` does."""
    words = sentence.split()
    # zip stops at the shortest slice: exactly the k-grams that fit
    return Counter(chain.from_iterable(zip(*(words[j:] for j in range(k))) for k in range(1, ORDERS + 1)))  # noqa: B905


class CiderD:
    """CIDEr-D of a fixed set of images, evaluable on any non-negative integer weights (bootstrap counts).

    ``candidates[i]`` is image i's candidate n-gram counts and ``references[i]`` those of each of its
    references (see :func:`ngram_counts`); every image needs at least one reference.
    """

    def __init__(self, candidates: Sequence[NgramCounts], references: Sequence[Sequence[NgramCounts]]) -> None:
        if len(candidates) != len(references):
            raise ValueError(f"{len(candidates)} candidates but {len(references)} reference lists")
        n_images = len(candidates)
        n_refs = [len(refs) for refs in references]
        if n_images == 0 or min(n_refs) == 0:
            raise ValueError("CIDEr-D needs at least one image, and every image at least one reference")
        owner = np.repeat(np.arange(n_images), n_refs)
        n_total = len(owner)
        vocab: dict[tuple[str, ...], int] = {}
        column = vocab.setdefault
        # flat over every n-gram of every candidate / reference: its column, order, count (and the candidate's)
        cand_cols: list[int] = []
        cand_orders: list[int] = []
        cand_tfs: list[int] = []
        ref_cols: list[int] = []
        ref_orders: list[int] = []
        ref_tfs: list[int] = []
        ref_cand_tfs: list[int] = []
        cand_sizes: list[int] = []
        ref_sizes: list[int] = []
        for cand, refs in zip(candidates, references, strict=True):
            cand_cols.extend([column(gram, len(vocab)) for gram in cand])
            cand_orders.extend(map(len, cand))
            cand_tfs.extend(cand.values())
            cand_sizes.append(len(cand))
            for ref in refs:
                ref_cols.extend([column(gram, len(vocab)) for gram in ref])
                ref_orders.extend(map(len, ref))
                ref_tfs.extend(ref.values())
                ref_cand_tfs.extend([cand.get(gram, 0) for gram in ref])
                ref_sizes.append(len(ref))
        cand_image = np.repeat(np.arange(n_images), cand_sizes)
        ref_index = np.repeat(np.arange(n_total), ref_sizes)
        c_order, c_tf = np.asarray(cand_orders, dtype=np.int64), np.asarray(cand_tfs, dtype=np.float64)
        r_col, r_order = np.asarray(ref_cols, dtype=np.int64), np.asarray(ref_orders, dtype=np.int64)
        r_tf, r_cand_tf = np.asarray(ref_tfs, dtype=np.float64), np.asarray(ref_cand_tfs, dtype=np.float64)
        shared = r_cand_tf > 0
        # rows: candidate norms (image, order), then reference norms (reference, order), then numerators
        rows = np.concatenate([ORDERS * cand_image + c_order - 1,
                               ORDERS * (n_images + ref_index) + r_order - 1,
                               ORDERS * (n_images + n_total + ref_index[shared]) + r_order[shared] - 1])
        values = np.concatenate([c_tf * c_tf, r_tf * r_tf, np.minimum(r_cand_tf, r_tf)[shared] * r_tf[shared]])
        columns = np.concatenate([np.asarray(cand_cols, dtype=np.int64), r_col, r_col[shared]])
        # the length penalty, lengths counting bigrams as the official ``length`` does
        cand_length = np.bincount(cand_image, weights=c_tf * (c_order == 2), minlength=n_images)
        ref_length = np.bincount(ref_index, weights=r_tf * (r_order == 2), minlength=n_total)
        delta = cand_length[owner] - ref_length
        penalty = np.e ** (-(delta ** 2) / (2 * SIGMA ** 2))
        class_of, self._incidence = _document_classes(r_col, owner[ref_index], len(vocab), n_images)
        self.n_images = n_images
        self._terms = sparse.csr_matrix((values, (rows, class_of[columns])),
                                        shape=(ORDERS * (n_images + 2 * n_total), self._incidence.shape[0]))
        self._n_total = n_total
        # sum over each image's references, each weighted by its length penalty: [images, references]
        self._penalised_sum = sparse.csr_matrix((penalty, (owner, np.arange(n_total))), shape=(n_images, n_total))
        self._scale = SCALE / ORDERS / np.asarray(n_refs, dtype=np.float64)

    def image_scores(self, weights: np.ndarray) -> np.ndarray:
        """Each image's CIDEr-D (official scale, x1) under each row's document frequencies: ``[rows, images]``.

        Rows whose weights sum to 0 (no image drawn) come back NaN.
        """
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 2 or weights.shape[1] != self.n_images:
            raise ValueError(f"weights must be [resamples, {self.n_images}], got {weights.shape}")
        if (weights < 0).any():
            raise ValueError("weights must be non-negative counts")
        out = np.empty(weights.shape)
        for start in range(0, len(weights), BLOCK):
            out[start:start + BLOCK] = self._block(weights[start:start + BLOCK]).T
        return out

    def _block(self, weights: np.ndarray) -> np.ndarray:
        """:meth:`image_scores` of a few rows, transposed: ``[images, rows]``."""
        total = weights.sum(axis=1)
        empty = total <= 0
        ref_len = np.log(np.where(empty, 1.0, total))
        df = self._incidence @ np.ascontiguousarray(weights.T)  # [n-gram classes, rows]
        idf = np.log(np.maximum(df, 1.0), out=df)
        np.subtract(ref_len[None, :], idf, out=idf)
        np.multiply(idf, idf, out=idf)
        sums = self._terms @ idf  # the squared norms and numerators, [term rows, rows]
        n, n_total, rows = self.n_images, self._n_total, len(weights)
        hyp = np.sqrt(sums[:ORDERS * n]).reshape(n, ORDERS, rows)
        ref = sums[ORDERS * n:ORDERS * (n + n_total)].reshape(n_total, ORDERS, rows)
        num = sums[ORDERS * (n + n_total):].reshape(n_total, ORDERS, rows)
        # num / (|h| |r|), left 0 where a norm is 0 (then num is 0 too: every idf it sums is 0); |h| is the
        # image's, so it divides after the references are summed
        np.sqrt(ref, out=ref)
        np.divide(num, ref, out=num, where=ref > 0)
        per_order = (self._penalised_sum @ num.reshape(n_total, -1)).reshape(n, ORDERS, rows)
        np.divide(per_order, hyp, out=per_order, where=hyp > 0)
        scores = per_order.sum(axis=1) * self._scale[:, None]
        scores[:, empty] = np.nan
        return scores

    def corpus(self, weights: np.ndarray) -> np.ndarray:
        """Corpus CIDEr-D (official scale, x1) of each row of weights: the weighted mean of image scores."""
        weights = np.asarray(weights, dtype=np.float64)
        scores = self.image_scores(weights)
        total = weights.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (weights * scores).sum(axis=1) / total  # NaN where nothing was drawn


def _document_classes(columns: np.ndarray, images: np.ndarray, n_columns: int, n_images: int
                      ) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Group n-gram columns whose df is always equal, and the incidence matrix giving each group's df.

    ``columns[k]`` is an n-gram found in the references of image ``images[k]``. An n-gram in no reference
    (df 0 on every resample) joins the group of such n-grams; one in a single image's references (most 3- and
    4-grams) joins that image's group, whose df is that image's weight; any other keeps its own group. The
    sparse products then run over ~10x fewer columns than there are n-grams. Returns each column's group and
    the ``[groups, images]`` 0/1 incidence, ``df = incidence @ weights^T``.
    """
    pairs = np.unique(columns * n_images + images)  # each (n-gram, image) once: df counts an image once
    pair_col, pair_img = pairs // n_images, pairs % n_images
    found = np.bincount(pair_col, minlength=n_columns)
    group = np.zeros(n_columns, dtype=np.int64)  # 0: found in no reference
    single = found == 1
    first = np.searchsorted(pair_col, np.arange(n_columns))  # a column's first pair (its only one if single)
    group[single] = 1 + pair_img[first[single]]
    several = found > 1
    group[several] = 1 + n_images + np.arange(int(several.sum()))
    used, group = np.unique(group, return_inverse=True)  # drop empty groups, keep the order
    incidence = sparse.csr_matrix((np.ones(len(pairs)), (group[pair_col], pair_img)),
                                  shape=(len(used), n_images), dtype=np.float64)
    incidence.data[:] = 1.0  # a single-image group lists its image once per n-gram: df counts it once
    return group, incidence
