"""The retrieval loop: ITC similarities for all pairs, then k-candidate re-ranking with ITM."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from blip2.models.blip2_qformer import Blip2Qformer
from blip2.processing import ImageTransform
from tasks.scoring.retrieval import rerank
from tasks.settings import RetrievalSettings
from tasks.splits import RetrievalSplit
from tasks.task import Task

from .images import image_batches


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
) -> dict[str, np.ndarray]:
    """{"i2t", "t2i", "itc"}: re-ranked score matrices and the raw ITC similarities."""
    device = next(model.parameters()).device
    image_embeds, image_feats = [], []
    for _, pixels in image_batches(loaded.image_paths, loaded.image_ids, transform, batch_size, num_workers,
                                   pin_memory=device.type == "cuda"):
        image, queries, _ = model.encode_image(pixels.to(device))
        image_embeds.append(image)
        image_feats.append(model.image_itc_features(queries))
        on_batch(len(pixels))
    image_embeds = torch.cat(image_embeds)
    image_feats = torch.cat(image_feats)

    texts = task.texts_for_model(loaded, settings)
    enc = model.tokenizer(texts, padding="max_length", truncation=True, max_length=settings.max_text_tokens,
                          return_tensors="pt")
    ids, mask = enc.input_ids.to(device), enc.attention_mask.to(device)
    text_feats = torch.cat([model.text_itc_features(ids[i:i + batch_size], mask[i:i + batch_size])
                            for i in range(0, len(texts), batch_size)])
    itc = model.itc_similarity(image_feats, text_feats).float().cpu().numpy()

    def itm_scorer(image_idx: np.ndarray, text_idx: np.ndarray) -> np.ndarray:
        """ITM positive-class logit per pair; pairs come sorted by image, so each image's keys are reused."""
        out = np.empty(len(image_idx), dtype=np.float32)
        for img in np.unique(image_idx):
            rows = np.nonzero(image_idx == img)[0]
            kv = model.qformer.image_kv(image_embeds[img:img + 1])
            for start in range(0, len(rows), batch_size):
                chunk = rows[start:start + batch_size]
                t = torch.as_tensor(text_idx[chunk], device=device)
                logits = model.itm_logits(None, ids[t], mask[t], image_kv=kv)
                out[chunk] = logits[:, 1].float().cpu().numpy()
        return out

    i2t, t2i = rerank(itc, itm_scorer, k=settings.k_test)
    return {"i2t": i2t, "t2i": t2i, "itc": itc}
