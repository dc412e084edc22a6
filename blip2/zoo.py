"""The model zoo: the paper's BLIP-2 models by name.

Each entry keeps the architecture (a `Blip2Config` factory) apart from where the
weights come from (a Hugging Face repo and/or LAVIS files), as timm does. The
LLM shapes are those of the public `facebook/opt-*` and `google/flan-t5-*`
configs, so full-size models can be built on the meta device with no download.

Other packages add their own models through :func:`register` (the toy world registers its miniature
BLIP-2 models there); the zoo itself knows nothing of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import Blip2Config, LLMConfig, QFormerConfig, VisionConfig

# --- frozen LLMs ---------------------------------------------------------------------------------


def _opt(hidden: int, ffn: int) -> dict:
    return dict(
        model_type="opt", vocab_size=50272, hidden_size=hidden, word_embed_proj_dim=hidden, ffn_dim=ffn,
        num_hidden_layers=32, num_attention_heads=32, max_position_embeddings=2048, activation_function="relu",
        do_layer_norm_before=True, enable_bias=True, pad_token_id=1, bos_token_id=2, eos_token_id=2,
    )


def _flant5(d_model: int, d_ff: int, heads: int) -> dict:
    return dict(
        model_type="t5", vocab_size=32128, d_model=d_model, d_ff=d_ff, d_kv=64, num_heads=heads,
        num_layers=24, num_decoder_layers=24, feed_forward_proj="gated-gelu", dense_act_fn="gelu_new",
        is_gated_act=True, tie_word_embeddings=False, relative_attention_num_buckets=32,
        relative_attention_max_distance=128, layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0,
    )


LLMS: dict[str, LLMConfig] = {
    "opt2.7b": LLMConfig("opt", "facebook/opt-2.7b", _opt(2560, 10240)),
    "opt6.7b": LLMConfig("opt", "facebook/opt-6.7b", _opt(4096, 16384)),
    "flant5xl": LLMConfig("t5", "google/flan-t5-xl", _flant5(2048, 5120, 32)),
    "flant5xxl": LLMConfig("t5", "google/flan-t5-xxl", _flant5(4096, 10240, 64)),
}

# --- frozen image encoders -----------------------------------------------------------------------


def vision_config(vit: str, image_size: int, ln_vision_eps: float = 1e-5) -> VisionConfig:
    """EVA ViT-g/14 (39 of 40 blocks) or CLIP ViT-L/14 (23 of 24 blocks, QuickGELU, ln_pre)."""
    if vit == "vitg":
        return VisionConfig("eva_vit_g", image_size, 14, 1408, 39, 16, 6144, 1e-6, ln_vision_eps)
    if vit == "vitl":
        return VisionConfig("clip_vit_l", image_size, 14, 1024, 23, 16, 4096, 1e-5, ln_vision_eps)
    raise ValueError(f"unknown image encoder {vit!r}; expected 'vitg' or 'vitl'")


def architecture(vit: str, llm: str | None, image_size: int, vqa: bool = False) -> Blip2Config:
    """The full-size BLIP-2 architecture; `llm=None` gives the stage-1 Q-Former with its heads."""
    vision = vision_config(vit, image_size)
    qformer = QFormerConfig(vision_width=vision.width, with_text=llm is None or vqa)
    llm_cfg = LLMS[llm] if llm else None
    eos = "\n" if llm_cfg is not None and llm_cfg.family == "opt" else None
    return Blip2Config(vision=vision, qformer=qformer, llm=llm_cfg, qformer_text_input=vqa, eos_text=eos)


# --- the zoo ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZooEntry:
    """A named model: architecture, weight sources and the paper rows it answers to."""

    name: str
    vit: str
    llm: str | None
    image_size: int
    hf_id: str | None = None
    lavis_file: str | None = None
    paper_rows: tuple[str, ...] = ()
    vqa: bool = False
    note: str = ""
    # An architecture of its own (a registered package's model); None builds the paper's from vit/llm/size.
    arch: Callable[[], Blip2Config] | None = None
    # Weights shipped with a package, in our own format (an absolute folder), and how to rebuild them.
    local_dir: Path | None = None
    rebuild: str = ""

    def config(self) -> Blip2Config:
        if self.arch is not None:
            return self.arch()
        return architecture(self.vit, self.llm, self.image_size, vqa=self.vqa)

    @property
    def released(self) -> bool:
        return bool(self.hf_id or self.lavis_file or self.local_dir)


def _e(name, vit, llm, size, hf=None, lavis=None, rows=(), **kw) -> ZooEntry:
    return ZooEntry(name, vit, llm, size, hf, lavis, tuple(rows), **kw)


_HF = "Salesforce/blip2-"
ZOO: dict[str, ZooEntry] = {
    e.name: e
    for e in [
        # Stage-2 pretrained: zero-shot VQA, Table 2.
        _e("vitl-opt2.7b", "vitl", "opt2.7b", 224, None, None, ["Table 2: BLIP-2 ViT-L OPT2.7B"],
           note="no released checkpoint: neither LAVIS nor the hub has a ViT-L OPT model"),
        _e("vitg-opt2.7b", "vitg", "opt2.7b", 224, _HF + "opt-2.7b", "blip2_pretrained_opt2.7b.pth",
           ["Table 2: BLIP-2 ViT-g OPT2.7B"]),
        _e("vitg-opt6.7b", "vitg", "opt6.7b", 224, _HF + "opt-6.7b", "blip2_pretrained_opt6.7b.pth",
           ["Table 2: BLIP-2 ViT-g OPT6.7B"]),
        _e("vitl-flant5xl", "vitl", "flant5xl", 224, None, "blip2_pretrained_flant5xl_vitL.pth",
           ["Table 2: BLIP-2 ViT-L FlanT5XL"]),
        _e("vitg-flant5xl", "vitg", "flant5xl", 224, _HF + "flan-t5-xl", "blip2_pretrained_flant5xl.pth",
           ["Table 2: BLIP-2 ViT-g FlanT5XL"]),
        _e("vitg-flant5xxl", "vitg", "flant5xxl", 224, _HF + "flan-t5-xxl", "blip2_pretrained_flant5xxl.pth",
           ["Table 2: BLIP-2 ViT-g FlanT5XXL"]),
        # Caption fine-tuned on COCO: Table 3 (and NoCaps zero-shot transfer).
        _e("vitg-opt2.7b-coco", "vitg", "opt2.7b", 364, _HF + "opt-2.7b-coco", "blip2_caption_opt2.7b.pth",
           ["Table 3: BLIP-2 ViT-g OPT2.7B"]),
        _e("vitg-opt6.7b-coco", "vitg", "opt6.7b", 364, _HF + "opt-6.7b-coco", "blip2_caption_opt6.7b.pth",
           ["Table 3: BLIP-2 ViT-g OPT6.7B"]),
        _e("vitg-flant5xl-coco", "vitg", "flant5xl", 364, _HF + "flan-t5-xl-coco", "blip2_caption_flant5xl.pth",
           ["Table 3: BLIP-2 ViT-g FlanT5XL"]),
        # Stage 1, and retrieval fine-tuned on COCO: Table 5 (Table 6 ablation).
        _e("vitg-qformer", "vitg", None, 224, _HF + "itm-vit-g", "blip2_pretrained.pth",
           ["Table 1: BLIP-2 (188M trainable)"]),
        _e("vitl-qformer", "vitl", None, 224, None, "blip2_pretrained_vitL.pth"),
        _e("vitg-qformer-coco", "vitg", None, 364, _HF + "itm-vit-g-coco", "blip2_finetune_coco.pth",
           ["Table 5: BLIP-2 ViT-g", "Table 6: ITC+ITM+ITG"]),
        _e("vitl-qformer-coco", "vitl", None, 364, None, None, ["Table 5: BLIP-2 ViT-L"],
           note="no released checkpoint; train it with the retrieval recipe"),
        # VQA fine-tuned (question also enters the Q-Former): Table 4. Nothing was released.
        _e("vitg-opt2.7b-vqa", "vitg", "opt2.7b", 490, rows=["Table 4: BLIP-2 ViT-g OPT2.7B"], vqa=True,
           note="no released checkpoint; train it with the VQA recipe"),
        _e("vitg-opt6.7b-vqa", "vitg", "opt6.7b", 490, rows=["Table 4: BLIP-2 ViT-g OPT6.7B"], vqa=True,
           note="no released checkpoint; train it with the VQA recipe"),
        _e("vitg-flant5xl-vqa", "vitg", "flant5xl", 490, rows=["Table 4: BLIP-2 ViT-g FlanT5XL"], vqa=True,
           note="no released checkpoint; train it with the VQA recipe"),
    ]
}


def register(entry: ZooEntry) -> ZooEntry:
    """Add a model to the zoo (the one registration point for models defined outside `blip2`).

    Registering the same entry again is a no-op (a module imported twice); another entry under a taken
    name is refused, so no package can silently replace a paper model."""
    if entry.name in ZOO and ZOO[entry.name] != entry:
        raise ValueError(f"the zoo already has a model called {entry.name!r}")
    ZOO[entry.name] = entry
    return entry


def get(name: str) -> ZooEntry:
    """A zoo entry by exact name; unknown names list the known ones."""
    try:
        return ZOO[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; the zoo has: {', '.join(ZOO)}") from None


def names() -> list[str]:
    return list(ZOO)

