"""Tiny BLIP-2 checkpoints made offline: random weights, project-made tokenizers, real file formats.

The released weights cannot be downloaded here, so tests, benchmarks and smoke
runs use transformers' own BLIP-2 classes at toy sizes, saved with
`save_pretrained` exactly as a user's fine-tuned checkpoint would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# A small corpus for the toy tokenizers: enough words for captions and VQA prompts.
CORPUS = (
    "a photo of question answer short the an one two three four five red green blue yellow "
    "white black purple circle square triangle star cross left right top bottom small big is there "
    "what color shape how many on in of and with yes no dog cat man woman picture image shows "
    "Question: Answer: Short answer: \n"
).split(" ")


def _byte_level_bpe(vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([" ".join(CORPUS)] * 4, trainer=trainer)
    return tok


def opt_tokenizer(vocab_size: int = 400) -> transformers.PreTrainedTokenizerFast:
    """OPT-style: byte-level BPE, `</s>` (id 2) prepended as bos, pad id 1, "\\n" a single token."""
    tok = _byte_level_bpe(vocab_size)
    tok.post_processor = processors.TemplateProcessing(single="</s> $A", special_tokens=[("</s>", 2)])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="</s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def t5_tokenizer(vocab_size: int = 400) -> transformers.PreTrainedTokenizerFast:
    """T5-style: pad 0, eos 1, unk 2; `</s>` appended to every text."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"],
                                  show_progress=False)
    tok.train_from_iterator([" ".join(CORPUS)] * 4, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def bert_tokenizer(extra_words: list[str] | None = None, with_dec: bool = True) -> transformers.PreTrainedTokenizerFast:
    """bert-base-uncased style WordPiece ([PAD]=0, [CLS], [SEP]) plus `[DEC]` as bos, like BLIP-2's
    (`with_dec=False`: as BERT itself ships it)."""
    words = sorted({w.lower().strip() for w in CORPUS + (extra_words or []) if w.strip()})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {t: i for i, t in enumerate(specials + list("abcdefghijklmnopqrstuvwxyz0123456789?.,:") + words)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]",
    )
    if with_dec:
        fast.add_special_tokens({"bos_token": "[DEC]"})
    return fast


@dataclass
class TinyShape:
    """Sizes of a tiny BLIP-2; defaults keep every test well under a second."""

    image_size: int = 28
    patch_size: int = 14
    vision_width: int = 32
    vision_layers: int = 2
    vision_heads: int = 4
    vision_mlp: int = 48
    qformer_hidden: int = 32
    qformer_layers: int = 2
    qformer_heads: int = 4
    qformer_ffn: int = 40
    cross_every: int = 2
    num_queries: int = 4
    llm_hidden: int = 32
    llm_layers: int = 2
    llm_heads: int = 4
    llm_ffn: int = 48
    embed_dim: int = 16


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random values everywhere (LayerNorm weights near 1), so a wrong key mapping changes outputs.

    transformers initialises query tokens to zero and biases to zero, which would hide mistakes.
    EVA's k bias stays zero: the architecture has none.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1 + 0.1 * noise)
            else:
                p.copy_(0.1 * noise)
            if name.endswith("self_attn.qkv.bias"):
                p.view(3, -1)[1].zero_()
    return model


def _vision_qformer_configs(s: TinyShape, with_text: bool, vocab: int):
    vision = transformers.Blip2VisionConfig(
        hidden_size=s.vision_width, intermediate_size=s.vision_mlp, num_hidden_layers=s.vision_layers,
        num_attention_heads=s.vision_heads, image_size=s.image_size, patch_size=s.patch_size,
    )
    qformer = transformers.Blip2QFormerConfig(
        vocab_size=vocab, hidden_size=s.qformer_hidden, num_hidden_layers=s.qformer_layers,
        num_attention_heads=s.qformer_heads, intermediate_size=s.qformer_ffn,
        cross_attention_frequency=s.cross_every, encoder_hidden_size=s.vision_width,
        use_qformer_text_input=with_text, max_position_embeddings=64,
    )
    return vision, qformer


def _image_processor(size: int) -> transformers.BlipImageProcessor:
    return transformers.BlipImageProcessor(
        size={"height": size, "width": size}, resample=3,
        image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711],
    )


def save_tiny_generation_model(path: Path, family: str = "opt", shape: TinyShape | None = None,
                               seed: int = 0) -> Path:
    """A `Blip2ForConditionalGeneration` folder (config, safetensors, tokenizer, preprocessor)."""
    s = shape or TinyShape()
    tokenizer = opt_tokenizer() if family == "opt" else t5_tokenizer()
    tokenizer.add_tokens([transformers.AddedToken("<image>", normalized=False, special=True)],
                         special_tokens=True)
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    vocab = len(tokenizer)
    if family == "opt":
        text = transformers.OPTConfig(
            vocab_size=vocab, hidden_size=s.llm_hidden, num_hidden_layers=s.llm_layers,
            num_attention_heads=s.llm_heads, ffn_dim=s.llm_ffn, word_embed_proj_dim=s.llm_hidden,
            max_position_embeddings=128, pad_token_id=1, bos_token_id=2, eos_token_id=2,
        )
    elif family == "t5":
        text = transformers.T5Config(
            vocab_size=vocab, d_model=s.llm_hidden, d_kv=s.llm_hidden // s.llm_heads, d_ff=s.llm_ffn,
            num_layers=s.llm_layers, num_decoder_layers=s.llm_layers, num_heads=s.llm_heads,
            feed_forward_proj="gated-gelu", dense_act_fn="gelu_new", is_gated_act=True,
            tie_word_embeddings=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
            bos_token_id=1,
        )
    else:
        raise ValueError(f"family must be 'opt' or 't5', got {family!r}")
    vision, qformer = _vision_qformer_configs(s, with_text=False, vocab=30)
    cfg = transformers.Blip2Config(
        vision_config=vision.to_dict(), qformer_config=qformer.to_dict(), text_config=text.to_dict(),
        num_query_tokens=s.num_queries, image_token_index=image_token,
    )
    torch.manual_seed(seed)
    model = randomize_(transformers.Blip2ForConditionalGeneration(cfg).eval(), seed)
    path = Path(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    processor = transformers.Blip2Processor(_image_processor(s.image_size), tokenizer,
                                            num_query_tokens=s.num_queries)
    processor.save_pretrained(path)
    return path


def save_tiny_retrieval_model(path: Path, shape: TinyShape | None = None, seed: int = 0) -> Path:
    """A `Blip2ForImageTextRetrieval` folder with a BERT-style tokenizer that has `[DEC]`."""
    s = shape or TinyShape()
    tokenizer = bert_tokenizer()
    vision, qformer = _vision_qformer_configs(s, with_text=True, vocab=len(tokenizer))
    cfg = transformers.Blip2Config(
        vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
        num_query_tokens=s.num_queries, image_text_hidden_size=s.embed_dim,
    )
    cfg.architectures = ["Blip2ForImageTextRetrieval"]
    torch.manual_seed(seed)
    model = randomize_(transformers.Blip2ForImageTextRetrieval(cfg).eval(), seed)
    path = Path(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    _image_processor(s.image_size).save_pretrained(path)
    return path
