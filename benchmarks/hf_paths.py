"""The plain transformers paths the benchmarks compare with: what a LAVIS-style loop does with HF's classes.

VQA and captioning: `Blip2ForConditionalGeneration.generate` on split-order batches, each question with its
own image (decoded, encoded by the ViT and the Q-Former per question). Retrieval: LAVIS's
`compute_sim_matrix` with `Blip2ForImageTextRetrieval`'s modules: ViT once per image (cached), then ITM for
each image's top-k texts and again for each text's top-k images, keys/values recomputed for every pair,
texts padded to the task's max_text_tokens.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from PIL import Image

from tasks.splits import GenerationSplit, RetrievalSplit


def _open(path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


@torch.no_grad()
def hf_generate(model: transformers.Blip2ForConditionalGeneration, processor: transformers.Blip2Processor,
                split: GenerationSplit, prompts: list[str], batch_size: int, eos_token_id: int,
                **generate) -> list[str]:
    processor.tokenizer.padding_side = "left"
    out = []
    for start in range(0, len(split.samples), batch_size):
        batch = split.samples[start:start + batch_size]
        enc = processor(images=[_open(s.image_path) for s in batch], text=prompts[start:start + batch_size],
                        padding=True, return_tensors="pt").to(model.device)
        ids = model.generate(**enc, eos_token_id=eos_token_id, do_sample=False, **generate)
        if not model.config.text_config.is_encoder_decoder:  # a decoder-only LLM returns the prompt too
            ids = ids[:, enc.input_ids.shape[1]:]
        out += [t.strip() for t in processor.tokenizer.batch_decode(ids, skip_special_tokens=True)]
    return out


class HfRetrieval:
    """LAVIS's retrieval evaluation written against `Blip2ForImageTextRetrieval`'s submodules."""

    def __init__(self, model: transformers.Blip2ForImageTextRetrieval, tokenizer, image_processor):
        self.model, self.tokenizer, self.image_processor = model, tokenizer, image_processor
        self.device = model.device

    def image_embeds(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.vision_model(pixel_values=pixels)[0]

    def image_feats(self, image_embeds: torch.Tensor) -> torch.Tensor:
        m = self.model
        queries = m.query_tokens.expand(image_embeds.shape[0], -1, -1)
        ones = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device)
        out = m.qformer(query_embeds=queries, encoder_hidden_states=image_embeds, encoder_attention_mask=ones)[0]
        return F.normalize(m.vision_projection(out), dim=-1)

    def text_feats(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = self.model
        out = m.qformer(query_embeds=m.embeddings(input_ids=ids), query_length=0, attention_mask=mask)[0]
        return F.normalize(m.text_projection(out[:, 0]), dim=-1)

    def itm(self, image_embeds: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        m = self.model
        queries = m.query_tokens.expand(ids.shape[0], -1, -1)
        nq = queries.shape[1]
        ids, mask = ids.to(self.device), mask.to(self.device)
        attention = torch.cat([torch.ones(ids.shape[0], nq, dtype=torch.long, device=self.device), mask], dim=1)
        ones = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device)
        out = m.qformer(query_embeds=m.embeddings(input_ids=ids, query_embeds=queries), query_length=nq,
                        attention_mask=attention, encoder_hidden_states=image_embeds, encoder_attention_mask=ones)[0]
        return m.itm_head(out[:, :nq]).mean(dim=1)[:, 1].float().cpu().numpy()

    @torch.no_grad()
    def scores(self, split: RetrievalSplit, texts: list[str], k: int, batch_size: int,
               max_text_tokens: int) -> dict[str, np.ndarray]:
        embeds, feats = [], []
        for start in range(0, len(split.image_paths), batch_size):
            images = [_open(p) for p in split.image_paths[start:start + batch_size]]
            pixels = self.image_processor(images, return_tensors="pt").pixel_values.to(self.device)
            embeds.append(self.image_embeds(pixels))
            feats.append(self.image_feats(embeds[-1]))
        image_embeds = torch.cat(embeds)
        enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=max_text_tokens,
                              return_tensors="pt")
        enc = enc.to(self.device)
        text_feats = torch.cat([self.text_feats(enc.input_ids[s:s + batch_size], enc.attention_mask[s:s + batch_size])
                                for s in range(0, len(texts), batch_size)])
        itc = torch.einsum("iqd,td->iqt", torch.cat(feats), text_feats).amax(dim=1).float().cpu().numpy()
        n_img, n_txt = itc.shape
        i2t = np.full((n_img, n_txt), -100.0, dtype=np.float32)
        for i in range(n_img):
            top = np.argsort(-itc[i], kind="stable")[:k]
            t = torch.as_tensor(top, device=self.device)
            i2t[i, top] = self.itm(image_embeds[i:i + 1].expand(len(top), -1, -1), enc.input_ids[t],
                                   enc.attention_mask[t]) + itc[i, top]
        t2i = np.full((n_txt, n_img), -100.0, dtype=np.float32)
        for t in range(n_txt):
            top = np.argsort(-itc[:, t], kind="stable")[:k]
            rows = torch.full((len(top),), t, device=self.device)
            t2i[t, top] = self.itm(image_embeds[torch.as_tensor(top, device=self.device)], enc.input_ids[rows],
                                   enc.attention_mask[rows]) + itc[top, t]
        return {"i2t": i2t, "t2i": t2i, "itc": itc}
