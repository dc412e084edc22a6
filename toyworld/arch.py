"""The toy BLIP-2 architecture: the paper's model at miniature widths, for the toy data world.

Every toy model is an ordinary `Blip2Config` (EVA-style ViT, Q-Former, OPT or T5), so it builds,
saves, loads and evaluates through exactly the code paths of the full-size models. The sizes are
fixed here (not derived from trained tokenizers), so the architecture stays apart from the weights:
vocabularies are padded to a round size that every project-made toy tokenizer fits into.
"""

from __future__ import annotations

from blip2.config import Blip2Config, LLMConfig, QFormerConfig, VisionConfig

IMAGE_SIZE = 64
LLM_VOCAB = 1024  # the toy BPE tokenizers have fewer tokens; unused rows are never produced by the tokenizer
QFORMER_VOCAB = 512  # the toy WordPiece vocabulary (words of the toy world + characters) fits in it
NUM_QUERIES = 16


def vision() -> VisionConfig:
    """EVA-style ViT (q/v bias, no final norm): 64 px, 8 px patches, width 96, 4 blocks."""
    return VisionConfig("eva_vit_g", IMAGE_SIZE, 8, 96, 4, 4, 384, 1e-6, 1e-5)


def qformer(with_text: bool) -> QFormerConfig:
    """A 4-layer Q-Former (cross-attention every other layer) with 16 queries, without dropout: at 1.4M
    parameters and a few hundred steps it underfits, and on CPU dropout costs a third of each step (the
    masks, and attention that cannot take the fused kernel)."""
    return QFormerConfig(hidden=96, layers=4, heads=4, ffn_dim=384, cross_attention_every=2, vision_width=96,
                         num_queries=NUM_QUERIES, with_text=with_text, vocab_size=QFORMER_VOCAB, max_positions=64,
                         dropout=0.0, attention_dropout=0.0)


def _opt() -> dict:
    return dict(model_type="opt", vocab_size=LLM_VOCAB, hidden_size=128, word_embed_proj_dim=128, ffn_dim=512,
                num_hidden_layers=4, num_attention_heads=8, max_position_embeddings=160, activation_function="relu",
                do_layer_norm_before=True, enable_bias=True, dropout=0.0, attention_dropout=0.0,
                pad_token_id=1, bos_token_id=2, eos_token_id=2)


def _t5() -> dict:
    return dict(model_type="t5", vocab_size=LLM_VOCAB, d_model=128, d_ff=320, d_kv=16, num_heads=8, num_layers=4,
                num_decoder_layers=2, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new", is_gated_act=True,
                tie_word_embeddings=False, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                layer_norm_epsilon=1e-6, dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
                decoder_start_token_id=0)


LLMS: dict[str, LLMConfig] = {
    "toy-opt": LLMConfig("opt", None, _opt()),
    "toy-t5": LLMConfig("t5", None, _t5()),
}


def architecture(llm: str | None) -> Blip2Config:
    """The toy BLIP-2: stage-1 Q-Former with its heads when `llm` is None, else the OPT / T5 bridge."""
    llm_cfg = LLMS[llm] if llm else None
    eos = "\n" if llm_cfg is not None and llm_cfg.family == "opt" else None
    return Blip2Config(vision=vision(), qformer=qformer(with_text=llm is None), llm=llm_cfg, embed_dim=64,
                       eos_text=eos)
