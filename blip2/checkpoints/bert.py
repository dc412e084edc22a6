"""bert-base-uncased as the stage-1 Q-Former's starting point (paper Sec. 3.1).

The paper initialises the Q-Former with BERT-base's weights and the cross-attention layers at random;
the released code also starts each layer's query FFN from that layer's text FFN, and the ITG head from
BERT's masked-LM head, with the vocabulary grown by one for `[DEC]`. This module maps a BERT checkpoint
with that head (transformers' `BertForPreTraining` / `BertForMaskedLM` names, as `bert-base-uncased`
ships) onto ours and says which weights stay at their init.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .keymap import Rule, map_state_dict
from .qformer_rules import qformer_layer_rules
from .weights_io import read_weight_files

BERT_HUB_ID = "bert-base-uncased"

_WB = r"(weight|bias)"

BERT_RULES: list[Rule] = [
    (rf"bert\.embeddings\.LayerNorm\.{_WB}", r"qformer.embed_norm.\1"),
    (r"bert\.embeddings\.(word|position)_embeddings\.weight", r"qformer.\1_embeddings.weight"),
    *qformer_layer_rules("bert", "self"),
    (rf"cls\.predictions\.transform\.dense\.{_WB}", r"itg_head.dense.\1"),
    (rf"cls\.predictions\.transform\.LayerNorm\.{_WB}", r"itg_head.norm.\1"),
    (r"cls\.predictions\.bias", "itg_head.bias"),
]

# BERT weights the Q-Former has no place for, each for a stated reason.
BERT_DROP = [
    r"bert\.embeddings\.position_ids",  # a buffer (arange), not a weight
    r"bert\.embeddings\.token_type_embeddings\.weight",  # the Q-Former has no segment embeddings
    r"bert\.pooler\..*",  # next-sentence pooler, unused by BLIP-2
    r"cls\.seq_relationship\..*",  # next-sentence head
    r"cls\.predictions\.decoder\.(weight|bias)",  # tied to the word embeddings and predictions.bias
]

# What BERT gives a stage-1 model; everything else (cross-attention, queries, ITC projections, ITM head,
# temperature, the image encoder) keeps its own init.
FROM_BERT = re.compile(
    r"qformer\.(word_embeddings|position_embeddings|embed_norm)\..*"
    r"|qformer\.layers\.\d+\.(self_attn|text_ffn|query_ffn)\..*"
    r"|itg_head\.(dense|norm)\..*|itg_head\.bias"
)
_VOCAB_ROWS = ("qformer.word_embeddings.weight", "itg_head.bias")


def _standard_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The 2018 checkpoints' LayerNorm `gamma` / `beta` as `weight` / `bias` (bert-base-uncased's files
    still use them; transformers renames them on load)."""
    out = {}
    for key, value in state.items():
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key))
        out[key] = value
    return out


def bert_qformer_state(folder: Path, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The stage-1 model's weights that come from the BERT checkpoint in `folder`, under our names.

    Query FFNs are copies of the text FFNs. Rows for tokens BERT lacks (`[DEC]`) keep the model's own
    values. Raises, naming the folder, when a BERT weight has no place in the model, a weight that should
    come from BERT is absent (fewer layers), or a shape differs (another width).
    """
    raw, _ = read_weight_files(Path(folder))
    if not any(k.startswith("bert.") for k in raw) and any(k.startswith("embeddings.") for k in raw):
        raise ValueError(f"{folder}: a bare BertModel, with no masked-LM head (cls.predictions.*) for ITG; "
                         "save BertForPreTraining or BertForMaskedLM, as bert-base-uncased ships")
    mapped, unmatched = map_state_dict(_standard_names(raw), BERT_RULES, BERT_DROP)
    for key in [k for k in mapped if ".text_ffn." in k]:
        mapped[key.replace(".text_ffn.", ".query_ffn.")] = mapped[key]
    own = model.state_dict()
    unmatched += [k for k in mapped if k not in own]
    if unmatched:
        raise ValueError(f"{folder}: BERT weights with no place in the Q-Former: {sorted(unmatched)[:10]}; "
                         "is it a BERT checkpoint?")
    missing = [k for k in own if FROM_BERT.fullmatch(k) and k not in mapped]
    if missing:
        head = [k for k in missing if k.startswith("itg_head")]
        layers = sorted({int(k.split(".")[2]) for k in missing if k.startswith("qformer.layers.")})
        why = []
        if head:
            why.append("no masked-LM head (cls.predictions.*: save BertForPreTraining or BertForMaskedLM, not "
                       "BertModel)")
        if layers:
            why.append(f"no layer(s) {layers} (the Q-Former has {len(model.qformer.layers)})")
        if not why:
            why.append(f"no {sorted(missing)[:5]}")
        raise ValueError(f"{folder}: not a BERT checkpoint the Q-Former can start from: " + "; ".join(why))
    state = {}
    for key, value in mapped.items():
        target = own[key]
        if key in _VOCAB_ROWS and value.shape[1:] == target.shape[1:] and value.shape[0] <= target.shape[0]:
            value = torch.cat([value.to(target.dtype), target[value.shape[0]:]])
        if value.shape != target.shape:
            raise ValueError(f"{folder}: {key} is {tuple(value.shape)} in the BERT checkpoint but "
                             f"{tuple(target.shape)} in the Q-Former; the Q-Former must have BERT's width, "
                             "heads and intermediate size (BERT-base: 768, 12, 3072)")
        state[key] = value.to(target.dtype)
    return state


def load_bert_tokenizer(folder: Path):
    """BERT's tokenizer with `[DEC]` added as bos (30523 ids for bert-base-uncased), as BLIP-2's Q-Former
    uses for ITG."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    if tokenizer.bos_token_id is None:
        tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    return tokenizer
