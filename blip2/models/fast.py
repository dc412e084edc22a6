"""The fast paths: the reference models' outputs with less work, kept here so the models read top to bottom.

Two paths, each tested against the plain pass it replaces (tests/perf, tests/model):

- ITM from per-text states (retrieval re-ranking scores thousands of pairs). An ITM pass runs
  [queries; text] through the Q-Former with the bidirectional mask, and the image enters only through the
  queries' cross-attention, which comes after self-attention in a layer. So layer 0's self-attention output
  (queries and text) and layer 0's text FFN output depend on the text alone: `itm_text_states` computes them
  once per text, and `itm_logits_from_states` goes on from there for any image. In the last layer only the
  query outputs are read (the ITM head averages them): its self-attention runs for the query positions only
  (keys and values still come from every position) and its text FFN is skipped. The plain pass is
  `Blip2Qformer.itm_logits`.
- OPT beam search with one shared prefill. transformers copies the prompt to every beam before the prefill;
  the beams' caches are identical, so `opt_generate_shared_prefill` runs the prefill once per row and
  repeats the cache. `Blip2Opt.generate_ids` takes this branch unless `shared_prefill` is off.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from .blip2_qformer import Blip2Qformer
from .qformer import KV, bidirectional_mask

# --- ITM from per-text states ----------------------------------------------------------------------


def itm_text_states(model: Blip2Qformer, input_ids: torch.Tensor, attention_mask: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The image-free start of an ITM pass, to compute once per text.

    Returns (queries after layer 0's self-attention [B, Q, H], text after all of layer 0 [B, T, H]) for
    `itm_logits_from_states`.
    """
    qformer = model.qformer
    first, nq = qformer.layers[0], qformer.cfg.num_queries
    mask = bidirectional_mask(nq, attention_mask)
    hidden, _ = first.self_attn(qformer.embed(input_ids.shape[0], input_ids), mask=mask)
    return hidden[:, :nq], first.text_branch(hidden[:, nq:])


def itm_logits_from_states(
    model: Blip2Qformer,
    queries: torch.Tensor,
    text: torch.Tensor,
    attention_mask: torch.Tensor,
    image: torch.Tensor | None = None,
    image_kv: list[KV | None] | None = None,
) -> torch.Tensor:
    """[B, 2] `Blip2Qformer.itm_logits`, continued from `itm_text_states` (less work per pair, same logits).

    Rows of `queries`/`text` may come from different calls (gathered per pair); `text` must be as wide as
    `attention_mask`, and its padding positions are masked out as keys, so they may hold any finite values.
    Pass `image_kv` (from `qformer.image_kv`) instead of `image` to share one image's keys/values.
    """
    qformer = model.qformer
    nq = qformer.cfg.num_queries
    mask = bidirectional_mask(nq, attention_mask)
    first, *rest = qformer.layers
    kv = image_kv or [None] * len(qformer.layers)
    queries = first.query_branch(queries, image, kv[0])
    if rest:
        hidden = torch.cat([queries, text], dim=1)
        for i, layer in enumerate(rest[:-1], start=1):
            hidden, _ = layer(hidden, nq, mask, image, image_kv=kv[i])
        last = rest[-1]
        queries, _ = last.self_attn(hidden[:, :nq], source=hidden, mask=mask[:, :, :nq])
        queries = last.query_branch(queries, image, kv[-1])
    return model.itm_head(queries).mean(dim=1)


# --- OPT beam search with one shared prefill -------------------------------------------------------


def opt_generate_shared_prefill(llm: nn.Module, input_ids: torch.Tensor, inputs_embeds: torch.Tensor,
                                attention_mask: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """`llm.generate(input_ids, inputs_embeds, attention_mask)`'s new tokens, prefilling once per row.

    The prefill (all but the last position) is read only for its cache: `logits_to_keep=1` skips the LM
    head (vocab x hidden) at every other position. The cached positions' ids are never read as inputs;
    only the last position enters the generation loop as an id.
    """
    prefix = llm(inputs_embeds=inputs_embeds[:, :-1], attention_mask=attention_mask[:, :-1], use_cache=True,
                 logits_to_keep=1)
    cache = prefix.cache
    beams = kwargs.get("num_beams", 1)
    if beams > 1:
        cache.batch_repeat_interleave(beams)
    out = llm.generate(input_ids=input_ids, attention_mask=attention_mask, cache=cache, do_sample=False, **kwargs)
    return out[:, input_ids.shape[1]:]
