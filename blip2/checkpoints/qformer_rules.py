"""Key rules for the BERT-style Q-Former, shared by the transformers and LAVIS formats.

Both formats keep BERT's module names inside each layer; they differ in the
prefix and in the name of the self-attention module ("attention" vs "self").
"""

from __future__ import annotations

from .keymap import Rule

_WB = r"(weight|bias)"


def qformer_layer_rules(prefix: str, attn_name: str) -> list[Rule]:
    """Rules from `<prefix>.encoder.layer.N.*` (BERT names) to our `qformer.layers.N.*`."""
    p = prefix.replace(".", r"\.") + r"\.encoder\.layer\.(\d+)\."
    rules: list[Rule] = []
    for theirs, ours in (("attention", "self_attn"), ("crossattention", "cross_attn")):
        rules += [
            (p + theirs + rf"\.{attn_name}\.(query|key|value)\.{_WB}", rf"qformer.layers.\1.{ours}.\2.\3"),
            (p + theirs + rf"\.output\.dense\.{_WB}", rf"qformer.layers.\1.{ours}.out.\2"),
            (p + theirs + rf"\.output\.LayerNorm\.{_WB}", rf"qformer.layers.\1.{ours}.norm.\2"),
        ]
    for suffix, ours in (("_query", "query_ffn"), ("", "text_ffn")):
        rules += [
            (p + rf"intermediate{suffix}\.dense\.{_WB}", rf"qformer.layers.\1.{ours}.fc1.\2"),
            (p + rf"output{suffix}\.dense\.{_WB}", rf"qformer.layers.\1.{ours}.fc2.\2"),
            (p + rf"output{suffix}\.LayerNorm\.{_WB}", rf"qformer.layers.\1.{ours}.norm.\2"),
        ]
    return rules
