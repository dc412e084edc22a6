"""Where a recipe's starting weights come from: from-scratch Q-Former init (random, or BERT as the paper
does), stage 1 -> stage 2 transfer, and frozen backbones (image encoder, LLM, Q-Former tokenizer) loaded
from released files or their own folders."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import transformers
from safetensors.torch import load_file

from ..checkpoints.bert import bert_qformer_state, load_bert_tokenizer
from ..checkpoints.hub import hf_snapshot, lavis_file
from ..checkpoints.lavis import lavis_vision_state
from ..config import Blip2Config
from ..models.blip2_lm import Blip2LM
from ..models.blip2_qformer import Blip2Qformer
from ..models.build import build_model

VISION_WEIGHTS = "vision.safetensors"


def resolve(source: str, runs_root: Path) -> Path:
    """"run:<path>" is a folder under the training output root; anything else is a plain path."""
    return runs_root / source.removeprefix("run:") if source.startswith("run:") else Path(source)


def resolve_released(source: str, runs_root: Path, hub: bool = False) -> Path:
    """Released starting weights: "lavis:<file>" (the LAVIS folder, else downloaded), "run:<path>" or a
    local path, else (with `hub`) a hub id (the HF cache, else downloaded). Raises `WeightsUnavailable`
    when a released file cannot be had and `FileNotFoundError` for a local path that does not exist."""
    if source.startswith("lavis:"):
        return lavis_file(source.removeprefix("lavis:"))
    path = resolve(source, runs_root).expanduser()
    if path.exists():
        return path
    if hub and not source.startswith(("run:", "/", ".", "~")):
        return hf_snapshot(source)
    raise FileNotFoundError(f"{path} does not exist")


BERT_BASE_WIDTH = 768


def init_std(hidden: int) -> float:
    """BERT's init std (0.02) for a Q-Former of width `hidden`, rescaled by sqrt(768 / hidden).

    At BERT-base width this is exactly 0.02. A narrow Q-Former (the toy's is 96 wide) initialised at 0.02
    lets ~10x less of the image through its cross-attention than BERT-base does (the value and output
    projections each shrink the signal by sqrt(width)), so every image starts with the same query output
    and stage 1 sits on a long plateau; the rescaled std keeps BERT-base's signal scales.
    """
    return 0.02 * (BERT_BASE_WIDTH / hidden) ** 0.5


def init_trainable(model: nn.Module, seed: int = 0, std: float | None = None) -> None:
    """BERT-style init (normal, `init_std` of the Q-Former's width; 0.02 at BERT-base width) of the
    Q-Former, its queries and heads: a from-scratch stage 1, or stage 2 without stage 1 (paper Fig. 5).
    The ViT and the LLM are left alone: they are loaded."""
    if std is None:
        std = init_std(model.cfg.qformer.hidden) if hasattr(model, "cfg") else 0.02
    gen = torch.Generator().manual_seed(seed)
    modules = [model] if not list(model.named_children()) else [m for n, m in model.named_children()
                                                               if n not in ("vision", "llm")]
    with torch.no_grad():
        for part in modules:
            for m in part.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * std)
                    if getattr(m, "bias", None) is not None:
                        m.bias.zero_()
                elif isinstance(m, nn.LayerNorm):
                    m.weight.fill_(1.0)
                    m.bias.zero_()
        queries = getattr(getattr(model, "qformer", None), "query_tokens", None)
        if queries is not None:
            queries.copy_(torch.randn(queries.shape, generator=gen) * std)


def from_stage1(stage1: Blip2Qformer, cfg: Blip2Config) -> Blip2LM:
    """A stage-2 model whose image encoder and Q-Former (queries, attention, query FFNs) are the stage-1
    model's, as LAVIS does; the text branch is dropped and the projection to the LLM starts fresh."""
    model = build_model(cfg)
    model.vision.load_state_dict(stage1.vision.state_dict())
    source = stage1.qformer.state_dict()
    target = model.qformer.state_dict()
    missing = [k for k in target if k not in source or source[k].shape != target[k].shape]
    if missing:
        raise ValueError(f"stage-1 Q-Former does not fit the stage-2 architecture: {missing[:5]}")
    model.qformer.load_state_dict({k: source[k] for k in target})
    init_trainable(model.llm_proj, std=init_std(cfg.qformer.hidden))
    return model


def load_vision(model: nn.Module, source: Path) -> None:
    """Copy an image encoder into the model, strictly: a LAVIS ViT file (the released frozen encoders;
    trunk only, `ln_vision` keeps its init) or a folder of a trained one (trunk + ln_vision)."""
    source = Path(source)
    if source.is_file():
        state = lavis_vision_state(source, model.cfg)
        model.vision.trunk.load_state_dict({k.removeprefix("vision.trunk."): v for k, v in state.items()},
                                           strict=True)
    else:
        model.vision.load_state_dict(load_file(str(source / VISION_WEIGHTS)), strict=True)


def load_bert(model: nn.Module, folder: Path) -> list[str]:
    """Start a from-scratch stage-1 Q-Former from BERT (paper Sec. 3.1) with BERT's tokenizer plus `[DEC]`;
    returns the trainable weights left at their own init (cross-attention, queries, heads)."""
    if not isinstance(model, Blip2Qformer):
        raise ValueError(f"qformer_init {folder}: BERT initialises a stage-1 model's Q-Former (text branch "
                         f"included); this recipe builds a {type(model).__name__}")
    tokenizer = load_bert_tokenizer(folder)
    if len(tokenizer) > model.cfg.qformer.vocab_size:
        raise ValueError(f"{folder}: its tokenizer with [DEC] has {len(tokenizer)} ids, more than the "
                         f"Q-Former's vocabulary of {model.cfg.qformer.vocab_size}")
    state = bert_qformer_state(folder, model)
    model.load_state_dict(state, strict=False)
    model.tokenizer = tokenizer
    model.bos_token_id = tokenizer.bos_token_id
    return [k for k, p in model.named_parameters() if k not in state and not k.startswith("vision.")]


def load_llm(model: Blip2LM, folder: Path) -> None:
    """Copy a transformers LLM (saved with `save_pretrained`) into the bridge, strictly, with its tokenizer."""
    cls = transformers.AutoModelForCausalLM if model.cfg.llm.family == "opt" else transformers.AutoModelForSeq2SeqLM
    llm = cls.from_pretrained(folder)
    missing, unexpected = model.llm.load_state_dict(llm.state_dict(), strict=False)
    tied = {k for k in missing if k.endswith("lm_head.weight")}
    if set(missing) - tied or unexpected:
        raise ValueError(f"{folder}: LLM weights do not fit the architecture (missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]})")
    model.tokenizer = transformers.AutoTokenizer.from_pretrained(folder)


def load_qformer_tokenizer(model: nn.Module, folder: Path) -> None:
    """Attach the Q-Former's tokenizer (with its [DEC] bos for ITG)."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    if isinstance(model, Blip2Qformer):
        model.tokenizer = tokenizer
        model.bos_token_id = tokenizer.bos_token_id
    else:
        model.qformer_tokenizer = tokenizer
