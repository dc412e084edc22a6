"""The retrieval loop: ITC similarities for all pairs, then k-candidate re-ranking with ITM.

`retrieval_scores` is the fast path. Each image is decoded and encoded once; ITC uses the cached,
normalised query and text features. The union of the i2t and t2i top-k pairs is scored once
(`tasks.scoring.retrieval.rerank`), grouped by image: each image's cross-attention keys/values are
computed once per layer and shared by all of its candidate texts, which run in batches padded only to
their longest text. The image-free start of each text's ITM pass (layer 0 up to the cross-attention,
`blip2.models.fast.itm_text_states`) is computed once per text and gathered for every pair of that text,
and the last layer runs for the query positions only (`ItmTextStates`). ViT features live in a
`FeatureStore` and text states in `RowStore`s (both spill to disk past a budget), so memory stays
bounded at COCO-5K.

`retrieval_scores_reference` is LAVIS's algorithm (ITM per direction, every pair's keys/values
recomputed, texts padded to the task's max_text_tokens); the tests show both give the same scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from blip2.models import fast
from blip2.models.blip2_qformer import Blip2Qformer, itc_similarity
from blip2.models.qformer import KV
from blip2.processing import ImageTransform
from tasks.scoring.retrieval import NON_CANDIDATE_SCORE, rerank
from tasks.settings import RetrievalSettings
from tasks.splits import RetrievalSplit
from tasks.task import Task

from .distributed import all_gather_objects
from .features import DEFAULT_FEATURE_MEMORY, FeatureStore, RowStore, by_length, pad_tokens
from .images import image_batches

ITM_BATCH = 256  # texts of one image per ITM forward pass on a GPU; the image's keys/values are shared
# On a CPU, smaller batches are faster: tensors of several MiB are freshly mapped (and page-faulted) by the
# allocator on every pass and fall out of the caches. Batches there keep the largest activation (the query
# FFN's hidden layer) near this size: 32 texts for the benchmarks' mid-size model.
CPU_ITM_BYTES = 4 * 2**20
ITC_CHUNK = 256  # images per ITC product: a 5K x 25K x 32-query product never sits in memory at once


@torch.no_grad()
def retrieval_scores(
    model: Blip2Qformer,
    task: Task,
    loaded: RetrievalSplit,
    settings: RetrievalSettings,
    transform: ImageTransform,
    batch_size: int,
    num_workers: int,
    on_batch: Callable[[int], None] = lambda n: None,
    *,
    optimized: bool = True,
    itm_batch: int | None = None,
    feature_memory: int = DEFAULT_FEATURE_MEMORY,
    rank: int = 0,
    world: int = 1,
) -> dict[str, np.ndarray]:
    """{"i2t", "t2i", "itc"}: re-ranked score matrices and the raw ITC similarities.

    With several processes, process `rank` encodes images rank, rank+world, ... and scores the ITM
    pairs of those images; ITC features and ITM logits are gathered, so every process ends with the
    same matrices.
    """
    if not optimized:
        return retrieval_scores_reference(model, task, loaded, settings, transform, batch_size, num_workers,
                                          on_batch)
    device = next(model.parameters()).device
    itm_batch = itm_batch or default_itm_batch(model, device)
    tokens = model.tokenizer(task.texts_for_model(loaded, settings), truncation=True,
                             max_length=settings.max_text_tokens).input_ids
    pad_id = model.tokenizer.pad_token_id
    text_feats = _text_features(model, tokens, pad_id, max(batch_size, itm_batch), device)

    mine = list(range(rank, len(loaded.image_paths), world))
    with FeatureStore(len(mine), feature_memory) as store:
        image_feats = []
        for _, pixels in image_batches([loaded.image_paths[i] for i in mine], [loaded.image_ids[i] for i in mine],
                                       transform, batch_size, num_workers, pin_memory=device.type == "cuda"):
            image = model.vision(pixels.to(device, non_blocking=True))
            queries, _ = model.qformer(image=image)
            image_feats.append(model.image_itc_features(queries))
            store.append(image)
            on_batch(len(pixels) * world)
        itc = itc_similarity(_gather_rows(torch.cat(image_feats), world), text_feats,
                             chunk=ITC_CHUNK).float().cpu().numpy()

        def itm_scorer(image_idx: np.ndarray, text_idx: np.ndarray) -> np.ndarray:
            ours = image_idx % world == rank
            part = np.zeros(len(image_idx), dtype=np.float32)
            if ours.any():
                with ItmTextStates(model, tokens, pad_id, np.unique(text_idx[ours]), itm_batch, device,
                                   feature_memory) as states:
                    part[ours] = _itm_by_image(model, store, states, image_idx[ours] // world, text_idx[ours],
                                               batch_size, itm_batch)
            return _combine(part, ours, world)

        i2t, t2i = rerank(itc, itm_scorer, k=settings.k_test)
    return {"i2t": i2t, "t2i": t2i, "itc": itc}


def default_itm_batch(model: Blip2Qformer, device: torch.device) -> int:
    """Texts per ITM pass: `ITM_BATCH` on a GPU; on a CPU, as many as keep the query FFN's activation
    within `CPU_ITM_BYTES` (at least 8)."""
    if device.type != "cpu":
        return ITM_BATCH
    q = model.cfg.qformer
    row_bytes = q.num_queries * q.ffn_dim * model.qformer.query_tokens.element_size()
    return min(ITM_BATCH, max(8, CPU_ITM_BYTES // row_bytes))


def _gather_rows(local: torch.Tensor, world: int) -> torch.Tensor:
    """Interleave every process's rows back into image order (process r holds images r, r+world, ...)."""
    if world == 1:
        return local
    parts = [p.to(local.device) for p in all_gather_objects(local.cpu())]
    out = local.new_empty(sum(len(p) for p in parts), *local.shape[1:])
    for r, part in enumerate(parts):
        out[r::world] = part
    return out


def _combine(part: np.ndarray, ours: np.ndarray, world: int) -> np.ndarray:
    """Each pair's ITM logit from the process that scored it."""
    if world == 1:
        return part
    out = np.zeros_like(part)
    for values, mask in all_gather_objects((part, ours)):
        out[mask] = values[mask]
    return out


def _text_features(model: Blip2Qformer, tokens: list[list[int]], pad_id: int, batch: int,
                   device: torch.device) -> torch.Tensor:
    """[n_texts, D] normalised ITC text features, computed in length-sorted batches, returned in order."""
    out: torch.Tensor | None = None
    for chunk in by_length(range(len(tokens)), tokens, batch):
        ids, mask = pad_tokens([tokens[i] for i in chunk], pad_id, device)
        feats = model.text_itc_features(ids, mask)
        if out is None:
            out = feats.new_empty(len(tokens), feats.shape[1])
        out[torch.as_tensor(chunk, device=device)] = feats
    assert out is not None, "retrieval needs at least one text"
    return out


class ItmTextStates:
    """The image-free start of every needed text's ITM pass, computed once and gathered per pair.

    `fast.itm_text_states` (layer 0 up to the cross-attention) depends only on the text, so each
    text runs it once, in length-sorted batches, however many images it is paired with; the states
    (query states [Q, H] and text states [T, H] per text) stay in `RowStore`s, in memory up to half of
    `budget_bytes` each, otherwise on disk. `logits` gathers them for a batch of texts, padded only to
    that batch's longest text, and finishes the pass for one image (`fast.itm_logits_from_states`).
    """

    def __init__(self, model: Blip2Qformer, tokens: list[list[int]], pad_id: int, needed: np.ndarray, batch: int,
                 device: torch.device, budget_bytes: int):
        self.model, self.tokens, self.device = model, tokens, device
        self.row = {int(t): r for r, t in enumerate(needed)}
        cfg, dtype = model.cfg.qformer, model.qformer.query_tokens.dtype
        longest = max(len(tokens[t]) for t in needed)
        self.queries = RowStore(len(needed), cfg.num_queries, cfg.hidden, dtype, device, budget_bytes // 2)
        self.text = RowStore(len(needed), longest, cfg.hidden, dtype, device, budget_bytes // 2)
        for chunk in by_length(range(len(needed)), [tokens[t] for t in needed], batch):
            ids, mask = pad_tokens([tokens[needed[r]] for r in chunk], pad_id, device)
            queries, text = fast.itm_text_states(model, ids, mask)
            self.queries.put(chunk, queries)
            self.text.put(chunk, text)

    def logits(self, texts: Sequence[int], image_kv: list[KV | None]) -> torch.Tensor:
        """ITM positive-class logits of `texts` with the image whose keys/values are `image_kv`."""
        rows = [self.row[int(t)] for t in texts]
        lengths = torch.as_tensor([len(self.tokens[t]) for t in texts], device=self.device)
        width = int(lengths.max())
        mask = (torch.arange(width, device=self.device)[None] < lengths[:, None]).long()
        queries = self.queries.take(rows, self.model.cfg.qformer.num_queries)
        text = self.text.take(rows, width)
        return fast.itm_logits_from_states(self.model, queries, text, mask, image_kv=image_kv)[:, 1]

    def __enter__(self) -> ItmTextStates:
        return self

    def __exit__(self, *exc) -> None:
        self.queries.close()
        self.text.close()


def _itm_by_image(model: Blip2Qformer, store: FeatureStore, states: ItmTextStates, image_idx: np.ndarray,
                  text_idx: np.ndarray, image_chunk: int, itm_batch: int) -> np.ndarray:
    """ITM positive-class logit of each (image, text) pair; pairs arrive sorted by image.

    Images are read from the store a chunk at a time; each image's cross-attention keys/values are
    computed once and reused for all its texts, whose image-free states come from `states`.
    """
    out = np.empty(len(image_idx), dtype=np.float32)
    starts = np.flatnonzero(np.r_[True, image_idx[1:] != image_idx[:-1]])
    bounds = list(zip(starts, np.r_[starts[1:], len(image_idx)], strict=True))
    for first in range(0, len(bounds), image_chunk):
        group = bounds[first:first + image_chunk]
        lo, hi = int(image_idx[group[0][0]]), int(image_idx[group[-1][0]]) + 1
        features = store.get(lo, hi)
        for start, stop in group:
            img = int(image_idx[start])
            kv = model.qformer.image_kv(features[img - lo:img - lo + 1])
            texts = text_idx[start:stop]
            for chunk in by_length(range(len(texts)), [states.tokens[t] for t in texts], itm_batch):
                out[start + np.asarray(chunk)] = states.logits(texts[chunk], kv).float().cpu().numpy()
    return out


@torch.no_grad()
def retrieval_scores_reference(
    model: Blip2Qformer,
    task: Task,
    loaded: RetrievalSplit,
    settings: RetrievalSettings,
    transform: ImageTransform,
    batch_size: int,
    num_workers: int,
    on_batch: Callable[[int], None] = lambda n: None,
) -> dict[str, np.ndarray]:
    """LAVIS's `compute_sim_matrix`: ITM for each image's top-k texts, then again for each text's top-k images."""
    device = next(model.parameters()).device
    image_embeds, image_feats = [], []
    for _, pixels in image_batches(loaded.image_paths, loaded.image_ids, transform, batch_size, num_workers):
        image, queries, _ = model.encode_image(pixels.to(device))
        image_embeds.append(image)
        image_feats.append(model.image_itc_features(queries))
        on_batch(len(pixels))
    image_embeds = torch.cat(image_embeds)
    enc = model.tokenizer(task.texts_for_model(loaded, settings), padding="max_length", truncation=True,
                          max_length=settings.max_text_tokens, return_tensors="pt")
    ids, mask = enc.input_ids.to(device), enc.attention_mask.to(device)
    text_feats = torch.cat([model.text_itc_features(ids[i:i + batch_size], mask[i:i + batch_size])
                            for i in range(0, len(ids), batch_size)])
    itc = itc_similarity(torch.cat(image_feats), text_feats).float().cpu().numpy()
    n_img, n_txt = itc.shape

    def itm(images: torch.Tensor, texts: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(texts, device=device)
        return model.itm_logits(images, ids[t], mask[t])[:, 1].float().cpu().numpy()

    i2t = np.full((n_img, n_txt), NON_CANDIDATE_SCORE, dtype=np.float32)
    for i in range(n_img):
        top = np.argsort(-itc[i], kind="stable")[: settings.k_test]
        i2t[i, top] = itm(image_embeds[i:i + 1].expand(len(top), -1, -1), top) + itc[i, top]
    t2i = np.full((n_txt, n_img), NON_CANDIDATE_SCORE, dtype=np.float32)
    for t in range(n_txt):
        top = np.argsort(-itc[:, t], kind="stable")[: settings.k_test]
        t2i[t, top] = itm(image_embeds[torch.as_tensor(top, device=device)], np.full(len(top), t)) + itc[top, t]
    return {"i2t": i2t, "t2i": t2i, "itc": itc}
