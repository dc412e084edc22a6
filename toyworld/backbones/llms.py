"""The frozen toy LLMs: an OPT-style decoder and a T5-style encoder-decoder from transformers, trained on
toy *text* only (`toyworld.backbones.corpus`), with tokenizers made by the project.

They never see an image or a soft prompt; each is written to a folder that the toy recipes' `llm_init`
and `qformer_tokenizer` read.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn as nn
import transformers
from tqdm import tqdm

from blip2.training.optim import cosine_lr
from toyworld import arch
from toyworld.backbones import corpus


def _batches(n: int, batch: int, steps: int, seed: int) -> Iterator[list[int]]:
    rng = random.Random(seed)
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch:
            extra = list(range(n))
            rng.shuffle(extra)
            order += extra
        yield order[:batch]
        order = order[batch:]


def _pad(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def _fit(model: nn.Module, name: str, steps: int, step_loss: Callable[[list[int]], torch.Tensor], n: int,
         batch: int, seed: int, progress: bool, log: Callable[[dict], None] | None, peak: float = 3e-3) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak, weight_decay=0.01, betas=(0.9, 0.98))
    bar = tqdm(_batches(n, batch, steps, seed), total=steps, desc=f"toy backbone: {name} on toy text",
               disable=not progress)
    model.train()
    loss_value = math.nan
    for step, rows in enumerate(bar):
        lr = cosine_lr(step, steps, peak, max(1, steps // 20), peak / 50)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = step_loss(rows)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss_value = loss.item()
        bar.set_postfix(loss=f"{loss_value:.4f}")
        if log is not None:
            log({"backbone": name, "step": step + 1, "loss": loss_value, "lr": lr})
    model.eval()
    return loss_value


def opt_labels(ids: torch.Tensor, mask: torch.Tensor, scene_tokens: list[int]) -> torch.Tensor:
    """Causal-LM labels with no loss on padding or on each row's leading scene tokens: the scene is given
    to the LLM, as the soft prompt later is, and an LLM that need not also learn to write scenes reads
    them better (measured in docs/toy-models.md)."""
    labels = ids.masked_fill(mask == 0, -100)
    for row, n in enumerate(scene_tokens):
        labels[row, :n] = -100
    return labels


def train_opt(data_root: Path, out: Path, steps: int, batch: int = 64, seed: int = 0, progress: bool = True,
              log: Callable[[dict], None] | None = None, pack: int = 4) -> dict:
    """A small OPTForCausalLM trained on toy text with its project-made BPE tokenizer; saved with
    `save_pretrained` (config, safetensors, tokenizer) like any transformers LLM. Each training sequence
    holds up to `pack` documents about one scene (`corpus.opt_packed_sequences`)."""
    torch.manual_seed(seed)
    docs = corpus.toy_documents(data_root)
    tokenizer = corpus.opt_tokenizer(corpus.corpus_lines(docs))
    sequences = corpus.opt_packed_sequences(tokenizer, docs, pack, seed)
    config = transformers.AutoConfig.for_model(**arch.LLMS["toy-opt"].config)
    model = transformers.OPTForCausalLM(config)

    def step_loss(rows: list[int]) -> torch.Tensor:
        ids, mask = _pad([sequences[i][0] for i in rows], tokenizer.pad_token_id)
        labels = opt_labels(ids, mask, [sequences[i][1] for i in rows])
        return model(input_ids=ids, attention_mask=mask, labels=labels).loss

    final = _fit(model, "OPT", steps, step_loss, len(sequences), batch, seed, progress, log)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"final_loss": final, "documents": len(docs)}


def train_t5(data_root: Path, out: Path, steps: int, batch: int = 64, seed: int = 0, progress: bool = True,
             log: Callable[[dict], None] | None = None) -> dict:
    """A small T5ForConditionalGeneration trained on toy text (scene + prompt -> answer, caption prefix ->
    rest), with its project-made tokenizer."""
    torch.manual_seed(seed)
    docs = corpus.toy_documents(data_root)
    tokenizer = corpus.t5_tokenizer(corpus.corpus_lines(docs))
    config = transformers.AutoConfig.for_model(**arch.LLMS["toy-t5"].config)
    model = transformers.T5ForConditionalGeneration(config)
    from blip2.models.blip2_lm import untie_output_embeddings

    untie_output_embeddings(model)
    rng = random.Random(seed)

    def step_loss(rows: list[int]) -> torch.Tensor:
        pairs = [corpus.t5_pair(tokenizer, docs[i], rng) for i in rows]
        ids, mask = _pad([p[0] for p in pairs], tokenizer.pad_token_id)
        target, target_mask = _pad([p[1] for p in pairs], tokenizer.pad_token_id)
        return model(input_ids=ids, attention_mask=mask, labels=target.masked_fill(target_mask == 0, -100),
                     decoder_attention_mask=target_mask).loss

    final = _fit(model, "T5", steps, step_loss, len(docs), batch, seed, progress, log)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"final_loss": final, "documents": len(docs)}


def save_qformer_tokenizer(data_root: Path, out: Path) -> int:
    """The Q-Former's WordPiece tokenizer over the toy words; returns its vocabulary size."""
    tokenizer = corpus.qformer_tokenizer(corpus.corpus_text(data_root))
    tokenizer.save_pretrained(out)
    return len(tokenizer)


@torch.no_grad()
def answer_from_text(model, tokenizer, context: str, question: str, family: str, **generate: object) -> str:
    """A toy LLM's answer to `question` about the scene `context` in words, in the document format it was
    trained on (`toyworld.backbones.corpus`): the text-only counterpart of zero-shot VQA. `generate` goes to
    transformers' `generate` (beams, token limits, length penalty); greedy, 8 tokens by default."""
    options = {"max_new_tokens": 8, "do_sample": False, "num_beams": 1, **generate}
    if family == "opt":
        prefix = tokenizer(context, add_special_tokens=False).input_ids
        prompt = tokenizer(corpus.OPT_QA.format(question), add_special_tokens=False).input_ids
        ids = torch.tensor([prefix + [tokenizer.bos_token_id] + prompt])
        newline = tokenizer("\n", add_special_tokens=False).input_ids[0]
        gen = model.generate(input_ids=ids, eos_token_id=newline, pad_token_id=tokenizer.pad_token_id,
                             **options)[0, ids.shape[1]:]
    else:
        ids = tokenizer(f"{context} {corpus.T5_QA.format(question)}", return_tensors="pt").input_ids
        gen = model.generate(input_ids=ids, **options)[0]
    return tokenizer.decode(gen, skip_special_tokens=True).strip()
