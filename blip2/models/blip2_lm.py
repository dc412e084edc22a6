"""Stage 2: the Q-Former's queries, projected, become a soft visual prompt for a frozen LLM (Sec. 3.3).

`Blip2Opt` bridges to a decoder-only OPT; `Blip2T5` to an encoder-decoder FlanT5.
Both keep the layout of the released models: the 32 projected queries come
first, then the (padded) text prompt.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import transformers

from ..config import Blip2Config
from . import fast
from .image_encoder import ImageEncoder
from .qformer import QFormer, bidirectional_mask


def build_llm(cfg: Blip2Config) -> nn.Module:
    """The frozen LLM, built from its transformers config (weights are loaded separately)."""
    llm_cfg = transformers.AutoConfig.for_model(**cfg.llm.config)
    if cfg.llm.family == "opt":
        return transformers.AutoModelForCausalLM.from_config(llm_cfg)
    llm = transformers.AutoModelForSeq2SeqLM.from_config(llm_cfg)
    if cfg.llm.config.get("tie_word_embeddings") is False:
        untie_output_embeddings(llm)
    return llm


def untie_output_embeddings(llm: nn.Module) -> None:
    """FlanT5 has its own lm_head; transformers 5 builds T5 with it tied to the input embeddings."""
    head = llm.get_output_embeddings()
    if head.weight is llm.get_input_embeddings().weight:
        head.weight = nn.Parameter(head.weight.detach().clone())
        getattr(llm, "all_tied_weights_keys", {}).pop("lm_head.weight", None)


class Blip2LM(nn.Module):
    """Image encoder + Q-Former (+ question, for fine-tuned VQA) + projection + frozen LLM."""

    # Fine-tuned VQA: the question enters the Q-Former cut to this many tokens (a model input length, as in
    # training; not the retrieval task's caption limit, which the tasks layer owns).
    question_tokens = 35

    def __init__(self, cfg: Blip2Config, llm: nn.Module | None = None):
        super().__init__()
        if cfg.llm is None:
            raise ValueError("a stage-2 model needs an LLM config")
        self.cfg = cfg
        self.vision = ImageEncoder(cfg.vision)
        self.qformer = QFormer(cfg.qformer)
        self.llm = llm if llm is not None else build_llm(cfg)
        self.llm_proj = nn.Linear(cfg.qformer.hidden, self.llm.config.hidden_size if cfg.llm.family == "opt"
                                  else self.llm.config.d_model)
        # Tokenizers travel with the weights; `blip2.checkpoints` attaches them.
        self.tokenizer: Any = None
        self.qformer_tokenizer: Any = None

    # --- the soft visual prompt ----------------------------------------------------------------

    def query_output(
        self,
        pixel_values: torch.Tensor | None = None,
        image: torch.Tensor | None = None,
        question_ids: torch.Tensor | None = None,
        question_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[B, Q, H] query outputs (fp32). Fine-tuned VQA also feeds the question to the Q-Former."""
        if image is None:
            image = self.vision(pixel_values)
        image = image.to(self.qformer.query_tokens.dtype)
        if question_ids is None:
            hidden, _ = self.qformer(image=image)
        else:
            mask = bidirectional_mask(self.cfg.qformer.num_queries, question_mask)
            hidden, _ = self.qformer(image=image, input_ids=question_ids, mask=mask)
        return hidden[:, : self.cfg.qformer.num_queries]

    def question_inputs(self, questions: list[str] | None) -> dict[str, torch.Tensor]:
        """Q-Former inputs for fine-tuned VQA (paper Fig. 7); empty for every other model."""
        if not self.cfg.qformer_text_input or questions is None:
            return {}
        if self.qformer_tokenizer is None:
            raise ValueError("this fine-tuned VQA model has no Q-Former tokenizer attached")
        enc = self.qformer_tokenizer(list(questions), padding="longest", truncation=True,
                                     max_length=self.question_tokens, return_tensors="pt")
        device = self.llm_proj.weight.device
        return {"question_ids": enc.input_ids.to(device), "question_mask": enc.attention_mask.to(device)}

    def soft_prompt(self, query_output: torch.Tensor) -> torch.Tensor:
        """Project query outputs into the LLM's input-embedding space, in the LLM's dtype."""
        dtype = self.llm.get_input_embeddings().weight.dtype
        return self.llm_proj(query_output.to(self.llm_proj.weight.dtype)).to(dtype)

    def _embed(self, soft: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor):
        tokens = self.llm.get_input_embeddings()(ids)
        ones = torch.ones(soft.shape[:2], dtype=mask.dtype, device=mask.device)
        return torch.cat([soft, tokens], dim=1), torch.cat([ones, mask], dim=1)

    def _tokenize(self, texts: list[str], padding_side: str, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        if self.tokenizer is None:
            raise ValueError("this model has no LLM tokenizer attached; load it with blip2.load_model")
        self.tokenizer.padding_side = padding_side
        enc = self.tokenizer(texts, return_tensors="pt", padding="longest", **kwargs)
        device = self.llm_proj.weight.device
        return enc.input_ids.to(device), enc.attention_mask.to(device)

    @torch.no_grad()
    def generate(
        self,
        pixel_values: torch.Tensor | None = None,
        prompts: list[str] | None = None,
        *,
        query_output: torch.Tensor | None = None,
        num_beams: int = 5,
        max_new_tokens: int = 30,
        min_new_tokens: int = 1,
        length_penalty: float = 1.0,
        repetition_penalty: float = 1.0,
        **generate_kwargs: Any,
    ) -> list[str]:
        """Generate one text per image, continuing `prompts` (empty prompt for plain captioning).

        Pass `query_output` instead of `pixel_values` to reuse one image's soft prompt for many prompts.
        """
        if query_output is None:
            query_output = self.query_output(pixel_values)
        if prompts is None:
            prompts = [""] * query_output.shape[0]
        if len(prompts) != query_output.shape[0]:
            raise ValueError(f"got {len(prompts)} prompts for {query_output.shape[0]} images")
        ids = self.generate_ids(
            query_output,
            prompts,
            num_beams=num_beams,
            max_new_tokens=max_new_tokens,
            min_new_tokens=min_new_tokens,
            length_penalty=length_penalty,
            repetition_penalty=repetition_penalty,
            **generate_kwargs,
        )
        return [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    def generate_ids(self, query_output: torch.Tensor, prompts: list[str], **kwargs: Any) -> torch.Tensor:
        raise NotImplementedError


class Blip2Opt(Blip2LM):
    """Decoder-only bridge: [soft prompt; left-padded text prompt] -> OPT; stops at "\\n" like LAVIS."""

    # The fast path (`fast.opt_generate_shared_prefill`): the same beams with one prefill per row instead of
    # one per beam. False runs transformers' plain beam search, the reference the tests compare it with.
    shared_prefill: bool = True

    def eos_token_id(self) -> int:
        if self.cfg.eos_text is None:
            return self.llm.config.eos_token_id
        ids = self.tokenizer(self.cfg.eos_text, add_special_tokens=False).input_ids
        if len(ids) != 1:
            raise ValueError(f"eos text {self.cfg.eos_text!r} is not a single token: {ids}")
        return ids[0]

    def generate_ids(self, query_output: torch.Tensor, prompts: list[str], **kwargs: Any) -> torch.Tensor:
        """Beam search over [soft prompt; prompt]; returns the new tokens.

        The soft prompt enters as embeddings; its positions' ids are placeholders that the LLM never reads
        as inputs (as in transformers' Blip2ForConditionalGeneration).
        """
        ids, mask = self._tokenize(prompts, "left")
        embeds, full_mask = self._embed(self.soft_prompt(query_output), ids, mask)
        kwargs.setdefault("eos_token_id", self.eos_token_id())
        kwargs.setdefault("pad_token_id", self.tokenizer.pad_token_id)
        placeholder = torch.full(query_output.shape[:2], self.tokenizer.pad_token_id, dtype=ids.dtype,
                                 device=ids.device)
        all_ids = torch.cat([placeholder, ids], dim=1)
        if self.shared_prefill:
            return fast.opt_generate_shared_prefill(self.llm, all_ids, embeds, full_mask, **kwargs)
        out = self.llm.generate(input_ids=all_ids, inputs_embeds=embeds, attention_mask=full_mask, do_sample=False,
                                **kwargs)
        return out[:, all_ids.shape[1]:]

    def forward(self, pixel_values: torch.Tensor, prompts: list[str], targets: list[str],
                questions: list[str] | None = None) -> torch.Tensor:
        """LM loss on `targets` after `prompts` (the prompt and the queries are not scored)."""
        eos = self.cfg.eos_text or ""
        texts = [p + t + eos for p, t in zip(prompts, targets, strict=True)]
        ids, mask = self._tokenize(texts, "right")
        prompt_lens = [len(self.tokenizer(p).input_ids) for p in prompts]
        labels = ids.masked_fill(mask == 0, -100)
        for row, n in enumerate(prompt_lens):
            labels[row, :n] = -100
        soft = self.soft_prompt(self.query_output(pixel_values, **self.question_inputs(questions)))
        embeds, full_mask = self._embed(soft, ids, mask)
        ignore = torch.full(soft.shape[:2], -100, dtype=labels.dtype, device=labels.device)
        out = self.llm(inputs_embeds=embeds, attention_mask=full_mask, labels=torch.cat([ignore, labels], 1))
        return out.loss


class Blip2T5(Blip2LM):
    """Encoder-decoder bridge: [soft prompt; text prompt] -> FlanT5 encoder; the decoder writes the answer."""

    def generate_ids(self, query_output: torch.Tensor, prompts: list[str], **kwargs: Any) -> torch.Tensor:
        ids, mask = self._tokenize(prompts, "right")
        embeds, mask = self._embed(self.soft_prompt(query_output), ids, mask)
        return self.llm.generate(inputs_embeds=embeds, attention_mask=mask, do_sample=False, **kwargs)

    def forward(self, pixel_values: torch.Tensor, prompts: list[str], targets: list[str],
                questions: list[str] | None = None) -> torch.Tensor:
        """Prefix-LM loss: the prompt (prefix) goes to the encoder, the target is decoded."""
        ids, mask = self._tokenize(prompts, "right")
        target_ids, target_mask = self._tokenize(targets, "right")
        soft = self.soft_prompt(self.query_output(pixel_values, **self.question_inputs(questions)))
        embeds, full_mask = self._embed(soft, ids, mask)
        labels = target_ids.masked_fill(target_mask == 0, -100)
        out = self.llm(inputs_embeds=embeds, attention_mask=full_mask, decoder_attention_mask=target_mask,
                       labels=labels)
        return out.loss
