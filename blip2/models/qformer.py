"""The Querying Transformer (Q-Former), readable top to bottom.

A BERT-base encoder whose input is [32 learned queries; optional text]. The
queries cross-attend to frozen image features on every other layer, and have
their own feed-forward network; text positions use the text FFN. Queries and
text meet only in self-attention, and the self-attention mask decides how
(paper Fig. 2): see `unimodal_mask`, `bidirectional_mask` and
`multimodal_causal_mask`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import QFormerConfig

KV = tuple[torch.Tensor, torch.Tensor]


# --- self-attention masks (bool, True = may attend), shaped [B, 1, L_query, L_key] -----------------


def unimodal_mask(num_queries: int, text_mask: torch.Tensor) -> torch.Tensor:
    """ITC: queries see only queries, text sees only (non-pad) text."""
    b, t = text_mask.shape
    valid = text_mask.bool()
    mask = torch.zeros(b, num_queries + t, num_queries + t, dtype=torch.bool, device=text_mask.device)
    mask[:, :num_queries, :num_queries] = True
    mask[:, num_queries:, num_queries:] = valid[:, None, :]
    return mask[:, None]


def bidirectional_mask(num_queries: int, text_mask: torch.Tensor) -> torch.Tensor:
    """ITM: every position sees every query and every non-pad text token."""
    b, t = text_mask.shape
    keys = torch.cat([torch.ones(b, num_queries, dtype=torch.bool, device=text_mask.device), text_mask.bool()], 1)
    return keys[:, None, None, :].expand(b, 1, num_queries + t, num_queries + t)


def multimodal_causal_mask(num_queries: int, text_mask: torch.Tensor) -> torch.Tensor:
    """ITG: queries see only queries; text token j sees all queries and text tokens <= j."""
    b, t = text_mask.shape
    mask = unimodal_mask(num_queries, text_mask).clone()
    causal = torch.ones(t, t, dtype=torch.bool, device=text_mask.device).tril()
    mask[:, 0, num_queries:, num_queries:] &= causal
    mask[:, 0, num_queries:, :num_queries] = True
    return mask


def _batch_size(image, input_ids, image_kv) -> int:
    if input_ids is not None:
        return input_ids.shape[0]
    if image is not None:
        return image.shape[0]
    return next(kv for kv in image_kv if kv is not None)[0].shape[0]


# --- building blocks -------------------------------------------------------------------------------


class Attention(nn.Module):
    """BERT attention sub-layer: multi-head attention, output projection, dropout, residual, post-LayerNorm."""

    def __init__(self, cfg: QFormerConfig, kv_width: int):
        super().__init__()
        self.heads = cfg.heads
        self.query = nn.Linear(cfg.hidden, cfg.hidden)
        self.key = nn.Linear(kv_width, cfg.hidden)
        self.value = nn.Linear(kv_width, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.hidden)
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)
        self.attn_dropout = cfg.attention_dropout

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, -1).transpose(1, 2)

    def project_kv(self, source: torch.Tensor) -> KV:
        """Keys and values of `source`; cross-attention can compute these once per image and reuse them."""
        return self._split(self.key(source)), self._split(self.value(source))

    def forward(
        self,
        x: torch.Tensor,
        source: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        past_kv: KV | None = None,
        kv: KV | None = None,
    ) -> tuple[torch.Tensor, KV]:
        """Attend from `x` to `source` (self-attention when None); `past_kv` is prepended to the keys."""
        if kv is None:
            kv = self.project_kv(x if source is None else source)
        k, v = kv
        if past_kv is not None:
            k, v = torch.cat([past_kv[0], k], dim=2), torch.cat([past_kv[1], v], dim=2)
        q = self._split(self.query(x))
        if k.shape[0] != q.shape[0]:  # one image's keys shared by several texts
            k, v = k.expand(q.shape[0], -1, -1, -1), v.expand(q.shape[0], -1, -1, -1)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.attn_dropout if self.training else 0.0
        )
        attended = attended.transpose(1, 2).reshape(x.shape)
        return self.norm(self.dropout(self.out(attended)) + x), (k, v)


class FeedForward(nn.Module):
    """BERT FFN sub-layer: dense -> GELU -> dense, dropout, residual, post-LayerNorm."""

    def __init__(self, cfg: QFormerConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, cfg.hidden)
        self.norm = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dropout(self.fc2(F.gelu(self.fc1(x)))) + x)


class QFormerLayer(nn.Module):
    """Shared self-attention; cross-attention and FFN for the queries; FFN for the text."""

    def __init__(self, cfg: QFormerConfig, index: int):
        super().__init__()
        self.self_attn = Attention(cfg, cfg.hidden)
        has_cross = index % cfg.cross_attention_every == 0
        self.cross_attn = Attention(cfg, cfg.vision_width) if has_cross else None
        self.query_ffn = FeedForward(cfg)
        self.text_ffn = FeedForward(cfg) if cfg.with_text else None

    def forward(
        self,
        hidden: torch.Tensor,
        num_queries: int,
        mask: torch.Tensor | None,
        image: torch.Tensor | None,
        past_kv: KV | None = None,
        image_kv: KV | None = None,
    ) -> tuple[torch.Tensor, KV]:
        hidden, kv = self.self_attn(hidden, mask=mask, past_kv=past_kv)
        queries, text = hidden[:, :num_queries], hidden[:, num_queries:]
        if num_queries:
            queries = self.query_branch(queries, image, image_kv)
        if text.shape[1]:
            text = self.text_branch(text)
        return torch.cat([queries, text], dim=1), kv

    def query_branch(self, queries: torch.Tensor, image: torch.Tensor | None, image_kv: KV | None) -> torch.Tensor:
        """What follows self-attention for the queries: cross-attention to the image (every other layer), FFN."""
        if self.cross_attn is not None:
            if image is None and image_kv is None:
                raise ValueError("the queries need image features for cross-attention")
            queries, _ = self.cross_attn(queries, source=image, kv=image_kv)
        return self.query_ffn(queries)

    def text_branch(self, text: torch.Tensor) -> torch.Tensor:
        """What follows self-attention for the text: its FFN (it never sees the image)."""
        if self.text_ffn is None:
            raise ValueError("this Q-Former has no text branch (stage-2 models drop it)")
        return self.text_ffn(text)


class QFormer(nn.Module):
    """Learned queries + BERT-style text embeddings + the layer stack."""

    def __init__(self, cfg: QFormerConfig):
        super().__init__()
        self.cfg = cfg
        self.query_tokens = nn.Parameter(torch.zeros(1, cfg.num_queries, cfg.hidden))
        if cfg.with_text:
            self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden, padding_idx=cfg.pad_token_id)
            self.position_embeddings = nn.Embedding(cfg.max_positions, cfg.hidden)
        self.embed_norm = nn.LayerNorm(cfg.hidden, eps=cfg.norm_eps)
        self.embed_dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(QFormerLayer(cfg, i) for i in range(cfg.layers))

    def embed_text(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Word + position embeddings; positions count text tokens only (queries have none)."""
        if not self.cfg.with_text:
            raise ValueError("this Q-Former has no text embeddings (stage-2 models drop them)")
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return self.word_embeddings(input_ids) + self.position_embeddings(positions)[None]

    def embed(self, batch: int, input_ids: torch.Tensor | None, with_queries: bool = True) -> torch.Tensor:
        """The stack's input: [queries; text embeddings], LayerNorm, dropout."""
        parts = []
        if with_queries:
            parts.append(self.query_tokens.expand(batch, -1, -1))
        if input_ids is not None:
            parts.append(self.embed_text(input_ids))
        return self.embed_dropout(self.embed_norm(torch.cat(parts, dim=1)))

    def forward(
        self,
        image: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        with_queries: bool = True,
        past_kv: list[KV] | None = None,
        image_kv: list[KV | None] | None = None,
    ) -> tuple[torch.Tensor, list[KV]]:
        """Run [queries; text] through the stack.

        `mask` is a bool self-attention mask [B, 1, L, L_keys] (see the mask builders); `past_kv`
        holds cached per-layer keys/values of an earlier query pass (ITG). Returns the hidden states
        and each layer's self-attention keys/values.
        """
        hidden = self.embed(_batch_size(image, input_ids, image_kv), input_ids, with_queries)
        num_queries = self.cfg.num_queries if with_queries else 0
        kvs = []
        for i, layer in enumerate(self.layers):
            hidden, kv = layer(
                hidden,
                num_queries,
                mask,
                image,
                past_kv=None if past_kv is None else past_kv[i],
                image_kv=None if image_kv is None else image_kv[i],
            )
            kvs.append(kv)
        return hidden, kvs

    def image_kv(self, image: torch.Tensor) -> list[KV | None]:
        """Per-layer cross-attention keys/values of `image`, to reuse across many texts of one image."""
        return [None if layer.cross_attn is None else layer.cross_attn.project_kv(image) for layer in self.layers]
