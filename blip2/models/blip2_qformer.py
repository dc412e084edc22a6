"""Stage 1: the Q-Former on a frozen image encoder, trained with ITC, ITM and ITG (paper Sec. 3.2).

The same model, fine-tuned on COCO, is the retrieval model of Table 5: it scores
image-text pairs with the ITC similarity and the ITM logits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from ..config import Blip2Config
from .image_encoder import ImageEncoder
from .qformer import KV, QFormer, bidirectional_mask, multimodal_causal_mask


@dataclass
class Stage1Output:
    """The three stage-1 losses, kept apart for logging, and their sum for the optimiser."""

    loss: torch.Tensor
    loss_itc: torch.Tensor
    loss_itm: torch.Tensor
    loss_itg: torch.Tensor


class ItgHead(nn.Module):
    """BERT's LM head: dense -> GELU -> LayerNorm, then a decoder tied to the word embeddings."""

    def __init__(self, hidden: int, vocab_size: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, hidden: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(self.norm(F.gelu(self.dense(hidden))), word_embeddings, self.bias)


def _gather(x: torch.Tensor, with_grad: bool) -> torch.Tensor:
    """All-gather along the batch across processes (identity when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    if with_grad:
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(x), dim=0)
    out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out, dim=0)


def _gather_padded(x: torch.Tensor, pad_value: int) -> torch.Tensor:
    """All-gather token rows (last dim) whose padded length differs between processes ("longest" padding)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    length = torch.tensor([x.shape[-1]], device=x.device)
    dist.all_reduce(length, op=dist.ReduceOp.MAX)
    return _gather(F.pad(x, (0, int(length) - x.shape[-1]), value=pad_value), with_grad=False)


def _rank_offset(batch: int) -> int:
    return dist.get_rank() * batch if dist.is_available() and dist.is_initialized() else 0


class Blip2Qformer(nn.Module):
    """Image encoder + Q-Former with the ITC, ITM and ITG heads."""

    def __init__(self, cfg: Blip2Config):
        super().__init__()
        if not cfg.qformer.with_text:
            raise ValueError("a stage-1 Q-Former needs its text branch (qformer.with_text=True)")
        self.cfg = cfg
        hidden = cfg.qformer.hidden
        self.vision = ImageEncoder(cfg.vision)
        self.qformer = QFormer(cfg.qformer)
        self.vision_proj = nn.Linear(hidden, cfg.embed_dim)
        self.text_proj = nn.Linear(hidden, cfg.embed_dim)
        self.itm_head = nn.Linear(hidden, 2)
        self.itg_head = ItgHead(hidden, cfg.qformer.vocab_size, cfg.qformer.norm_eps)
        self.temp = nn.Parameter(torch.tensor(0.07))
        self.bos_token_id: int | None = None  # [DEC]; set by the tokenizer that comes with the weights

    # --- features ------------------------------------------------------------------------------

    def encode_image(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[KV]]:
        """Frozen image features, query outputs and the queries' per-layer self-attention keys/values."""
        image = self.vision(pixel_values)
        queries, kvs = self.qformer(image=image)
        return image, queries, kvs

    def image_itc_features(self, query_output: torch.Tensor) -> torch.Tensor:
        """[B, Q, D] L2-normalised query embeddings; ITC takes the best-matching query."""
        return F.normalize(self.vision_proj(query_output), dim=-1)

    def text_itc_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[B, D] L2-normalised [CLS] embedding of the text alone (unimodal: it never sees the queries)."""
        hidden, _ = self.qformer(input_ids=input_ids, mask=attention_mask.bool()[:, None, None, :],
                                 with_queries=False)
        return F.normalize(self.text_proj(hidden[:, 0]), dim=-1)

    def itm_logits(
        self,
        image: torch.Tensor | None,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_kv: list[KV | None] | None = None,
    ) -> torch.Tensor:
        """[B, 2] match logits for B (image, text) pairs, averaged over the query outputs.

        Pass `image_kv` (from `qformer.image_kv`) instead of `image` to reuse one image's
        cross-attention keys/values for many texts. `fast.itm_logits_from_states` gives the same logits
        with less work per pair (retrieval re-ranking).
        """
        nq = self.cfg.qformer.num_queries
        mask = bidirectional_mask(nq, attention_mask)
        hidden, _ = self.qformer(image=image, input_ids=input_ids, mask=mask, image_kv=image_kv)
        return self.itm_head(hidden[:, :nq]).mean(dim=1)

    def itg_logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, query_kv: list[KV]
    ) -> torch.Tensor:
        """[B, T, V] next-token logits of the text, attending to cached query keys/values (ITG)."""
        nq = self.cfg.qformer.num_queries
        mask = multimodal_causal_mask(nq, attention_mask)[:, :, nq:]
        hidden, _ = self.qformer(input_ids=input_ids, mask=mask, with_queries=False, past_kv=query_kv)
        return self.itg_head(hidden, self.qformer.word_embeddings.weight)

    # --- training ------------------------------------------------------------------------------

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_ids: torch.Tensor | None = None,
    ) -> Stage1Output:
        """The three stage-1 losses for a batch of matching (image, text) pairs.

        `input_ids` start with [CLS]; ITG swaps it for [DEC]. `image_ids` marks captions of the same
        image (COCO fine-tuning): they are soft ITC positives and never sampled as ITM negatives.
        """
        b = pixel_values.shape[0]
        image, queries, query_kv = self.encode_image(pixel_values)
        image_feats = self.image_itc_features(queries)
        text_feats = self.text_itc_features(input_ids, attention_mask)

        # ITC, with in-batch negatives gathered from every process.
        image_feats_all = _gather(image_feats, with_grad=True)
        text_feats_all = _gather(text_feats, with_grad=True)
        sim_i2t = itc_similarity(image_feats, text_feats_all) / self.temp
        sim_t2i = itc_similarity(image_feats_all, text_feats).t() / self.temp
        if image_ids is None:
            image_ids = torch.arange(b, device=pixel_values.device) + _rank_offset(b)
        ids_all = _gather(image_ids, with_grad=False)
        positive = (image_ids[:, None] == ids_all[None, :]).float()
        targets = 0.9 * positive / positive.sum(1, keepdim=True) + 0.1 / positive.shape[1]
        loss_itc = (_soft_cross_entropy(sim_i2t, targets) + _soft_cross_entropy(sim_t2i, targets)) / 2

        # ITM with one hard negative per image and per text, sampled from the ITC similarities.
        loss_itm = self._itm_loss(image, input_ids, attention_mask, image_ids, ids_all, sim_i2t, sim_t2i)

        # ITG: causal LM over the text, conditioned on the queries through self-attention.
        dec_ids = input_ids.clone()
        dec_ids[:, 0] = self._bos_id()
        labels = dec_ids.masked_fill(attention_mask == 0, -100)
        logits = self.itg_logits(dec_ids, attention_mask, query_kv)
        loss_itg = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), label_smoothing=0.1
        )
        return Stage1Output(loss_itc + loss_itm + loss_itg, loss_itc, loss_itm, loss_itg)

    def _bos_id(self) -> int:
        if self.bos_token_id is None:
            raise ValueError("set model.bos_token_id to the tokenizer's [DEC] id before computing ITG")
        return self.bos_token_id

    def _itm_loss(self, image, input_ids, attention_mask, image_ids, ids_all, sim_i2t, sim_t2i):
        b = image.shape[0]
        image_all = _gather(image, with_grad=True)  # negatives pass gradient, as with one process
        ids_text_all, mask_text_all = _gather_padded(torch.stack([input_ids, attention_mask], 1), 0).unbind(1)
        width = ids_text_all.shape[1]
        input_ids, attention_mask = (F.pad(x, (0, width - x.shape[1])) for x in (input_ids, attention_mask))
        same = image_ids[:, None] == ids_all[None, :]
        neg_image_idx, neg_text_idx = sample_itm_negatives(sim_i2t, sim_t2i, same)
        text_ids = torch.cat([input_ids, input_ids, ids_text_all[neg_text_idx]])
        text_mask = torch.cat([attention_mask, attention_mask, mask_text_all[neg_text_idx]])
        images = torch.cat([image, image_all[neg_image_idx], image])
        logits = self.itm_logits(images, text_ids, text_mask)
        labels = torch.cat([torch.ones(b), torch.zeros(2 * b)]).long().to(logits.device)
        return F.cross_entropy(logits, labels)


def itc_similarity(image_feats: torch.Tensor, text_feats: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """[N_img, N_txt] ITC similarity: the best-matching query's cosine similarity (no temperature).

    Features must be L2-normalised ([N_img, Q, D] and [N_txt, D]), so the dot product is the cosine.
    `chunk` computes it that many images at a time, so that a 5K x 25K x 32-query product never sits in
    memory at once (evaluation); None computes it in one product (training, where it carries gradient).
    """
    if image_feats.ndim != 3:
        raise ValueError(f"image_feats must be [n_images, n_queries, dim], got shape {tuple(image_feats.shape)}")
    if text_feats.ndim != 2 or text_feats.shape[1] != image_feats.shape[2]:
        raise ValueError(f"text_feats must be [n_texts, {image_feats.shape[2]}] to match image_feats, "
                         f"got {tuple(text_feats.shape)}")
    if chunk is None:
        return torch.einsum("iqd,td->iqt", image_feats, text_feats).amax(dim=1)
    return torch.cat([torch.einsum("iqd,td->iqt", image_feats[s:s + chunk], text_feats).amax(dim=1)
                      for s in range(0, image_feats.shape[0], chunk)])


@torch.no_grad()
def sample_itm_negatives(sim_i2t: torch.Tensor, sim_t2i: torch.Tensor, same: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """ITM hard negatives: (a wrong image for each text, a wrong text for each image).

    Each is drawn with probability softmax(ITC similarity) among the candidates that are not `same`
    ([B, N] True where the local row and the gathered column show the same image), so similar but wrong
    pairs are drawn most often and a positive never is (while the batch holds another image).
    """
    w_t2i = F.softmax(sim_t2i.float().masked_fill(same, -10000), dim=1)
    w_i2t = F.softmax(sim_i2t.float().masked_fill(same, -10000), dim=1)
    neg_image_idx = torch.multinomial(w_t2i, 1).squeeze(1)
    neg_text_idx = torch.multinomial(w_i2t, 1).squeeze(1)
    return neg_image_idx, neg_text_idx


@contextmanager
def recorded_itm_negatives() -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
    """Collect the (negative image, negative text) indices that each stage-1 forward draws, while in use.

    For analyses of the ITM labels (how often a drawn negative is in fact true of its image), which need
    exactly the negatives the loss saw; the model itself keeps no record of them."""
    global sample_itm_negatives
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = sample_itm_negatives

    def record(*args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seen.append(original(*args))
        return seen[-1]

    sample_itm_negatives = record
    try:
        yield seen
    finally:
        sample_itm_negatives = original


def _soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(F.log_softmax(logits, dim=1) * targets).sum(1).mean()
