"""What a full evaluation costs: passes of each part, their multiply-adds, and GPU hours at a stated utilisation.

Multiply-adds (MACs) are counted per matrix product from the architecture config, layer by layer; FLOPs are
2 x MACs. The counts are those of the fast runner (`bench.runner`): each image goes through the ViT once, the
Q-Former once per image (once per question for fine-tuned VQA), and retrieval scores the union of the i2t
and t2i top-k pairs once, with each image's cross-attention keys/values computed once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from blip2.config import Blip2Config, QFormerConfig, VisionConfig

# Dense (no sparsity) fp16/bf16 tensor-core peaks from the vendors' datasheets, TFLOPS. NVIDIA's datasheets
# print the sparse figure with an asterisk; dense is half of it: H100 SXM 1,979 -> 989.4 (132 SMs x 1,830 MHz
# boost x 4,096 FLOP/clock), H100 PCIe 1,513 -> 756, H200 (same compute as H100 SXM) 989.4, A100 312.
GPU_PEAK_TFLOPS: dict[str, float] = {
    "T4": 65.0, "V100": 125.0, "A10": 125.0, "L4": 121.0, "A100-40GB": 312.0, "A100-80GB": 312.0,
    "L40S": 362.0, "H100-PCIe": 756.0, "H100": 989.4, "H200": 989.4,
}
PEAK_SOURCE = ("vendor datasheets, dense fp16/bf16 tensor-core TFLOPS (half the sparse figure): NVIDIA H100 "
               "(SXM 989.4, PCIe 756), H200 (989.4), A100 (312)")
DEFAULT_UTILIZATION = 0.4  # `bench cost`'s default: the fraction of peak a full evaluation reaches on average

# Question length the estimate assumes (tokens); retrieval texts are counted at the task's max_text_tokens cap
# (an upper bound).
QUESTION_TOKENS = 10


@dataclass(frozen=True)
class SplitSize:
    """Sizes of a full split: unique images and samples (questions, captions to write, or texts)."""

    images: int
    samples: int
    note: str = ""


# --- multiply-adds per pass ----------------------------------------------------------------------


def vit_tokens(v: VisionConfig) -> int:
    return v.num_patches + 1


def vit_macs(v: VisionConfig) -> int:
    """Patch embedding + `depth` blocks of (qkv, QK^T, AV, proj, 2-layer MLP)."""
    n, w = vit_tokens(v), v.width
    block = 4 * n * w * w + 2 * n * n * w + 2 * n * w * v.mlp_dim
    return v.num_patches * 3 * v.patch_size**2 * w + v.depth * block


def cross_layers(q: QFormerConfig) -> int:
    return sum(1 for i in range(q.layers) if i % q.cross_attention_every == 0)


def image_kv_macs(q: QFormerConfig, image_tokens: int) -> int:
    """Keys and values of the image features in every cross-attention layer (shared by all texts of an image)."""
    return cross_layers(q) * 2 * image_tokens * q.vision_width * q.hidden


def qformer_macs(q: QFormerConfig, image_tokens: int, queries: int, text: int, with_image_kv: bool = True) -> int:
    """One Q-Former pass over [queries; text]; the queries cross-attend to `image_tokens` features."""
    h, length = q.hidden, queries + text
    total = q.layers * (4 * length * h * h + 2 * length * length * h + 2 * length * h * q.ffn_dim)
    if queries:
        total += cross_layers(q) * (2 * queries * h * h + 2 * queries * image_tokens * h)
        if with_image_kv:
            total += image_kv_macs(q, image_tokens)
    return total


def opt_macs(c: dict, prompt: int, new_tokens: int, beams: int) -> int:
    """OPT generation: prefill of the prompt, then one token per step with the KV cache, for every beam."""
    h, f, layers, vocab = c["hidden_size"], c["ffn_dim"], c["num_hidden_layers"], c["vocab_size"]
    prefill = layers * (4 * prompt * h * h + 2 * prompt * prompt * h + 2 * prompt * h * f) + h * vocab
    steps = sum(layers * (4 * h * h + 2 * h * f + 2 * (prompt + s) * h) + h * vocab for s in range(1, new_tokens))
    return beams * (prefill + steps)


def t5_macs(c: dict, prompt: int, new_tokens: int, beams: int) -> int:
    """FlanT5: the encoder once per sample; the decoder per beam, with cross-attention keys computed once."""
    d, f, inner = c["d_model"], c["d_ff"], c["num_heads"] * c["d_kv"]
    ffn = (3 if c.get("is_gated_act", True) else 2) * d * f
    encoder = c["num_layers"] * prompt * (4 * d * inner + 2 * prompt * inner + ffn)
    layers = c.get("num_decoder_layers") or c["num_layers"]
    cross_kv = layers * 2 * prompt * d * inner
    step = sum(layers * (6 * d * inner + 2 * s * inner + 2 * prompt * inner + ffn) + d * c["vocab_size"]
               for s in range(1, new_tokens + 1))
    return encoder + beams * (cross_kv + step)


# --- a whole split --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassCount:
    name: str
    count: int
    macs_each: int

    @property
    def flops(self) -> int:
        return 2 * self.count * self.macs_each


@dataclass
class Estimate:
    """Passes and FLOPs of one (model, task, split); `hours` projects them onto a GPU."""

    title: str
    passes: list[PassCount]
    assumptions: list[str] = field(default_factory=list)

    @property
    def flops(self) -> int:
        return sum(p.flops for p in self.passes)

    def hours(self, gpu: str, utilization: float) -> float:
        return self.flops / (peak_flops(gpu) * utilization) / 3600


def peak_flops(gpu: str) -> float:
    if gpu not in GPU_PEAK_TFLOPS:
        raise ValueError(f"unknown GPU {gpu!r}; known: {', '.join(GPU_PEAK_TFLOPS)}")
    return GPU_PEAK_TFLOPS[gpu] * 1e12


def itm_pair_bounds(images: int, texts: int, k: int) -> tuple[int, int]:
    """(lower, upper) bound of the union of every image's top-k texts and every text's top-k images."""
    a, b = images * min(k, texts), texts * min(k, images)
    return max(a, b), min(a + b, images * texts)


def generation_estimate(cfg: Blip2Config, size: SplitSize, prompt_tokens: int, beams: int, new_tokens: int,
                        question_in_qformer: bool = False) -> list[PassCount]:
    """ViT once per image; Q-Former once per image (per sample when it reads the question); LLM per sample."""
    v, q, nq = cfg.vision, cfg.qformer, cfg.qformer.num_queries
    n_img = vit_tokens(v)
    llm_width = cfg.llm.config.get("hidden_size") or cfg.llm.config["d_model"]
    proj = nq * q.hidden * llm_width
    passes = [PassCount(f"ViT ({v.arch}, {v.image_size} px)", size.images, vit_macs(v))]
    if question_in_qformer:
        passes.append(PassCount(f"Q-Former ({nq} queries + question)", size.samples,
                                qformer_macs(q, n_img, nq, QUESTION_TOKENS) + proj))
    else:
        passes.append(PassCount(f"Q-Former ({nq} queries)", size.images, qformer_macs(q, n_img, nq, 0) + proj))
    context = nq + prompt_tokens
    fn = opt_macs if cfg.llm.family == "opt" else t5_macs
    passes.append(PassCount(f"LLM generate ({cfg.llm.family}, {beams} beams, <= {new_tokens} new tokens)",
                            size.samples, fn(cfg.llm.config, context, new_tokens, beams)))
    return passes


def retrieval_estimate(cfg: Blip2Config, size: SplitSize, k: int, text_tokens: int) -> list[PassCount]:
    """ViT and Q-Former once per image; ITC text pass per text; ITM once per candidate pair (upper bound)."""
    v, q, nq = cfg.vision, cfg.qformer, cfg.qformer.num_queries
    n_img = vit_tokens(v)
    _, pairs = itm_pair_bounds(size.images, size.samples, k)
    return [
        PassCount(f"ViT ({v.arch}, {v.image_size} px)", size.images, vit_macs(v)),
        PassCount(f"Q-Former image pass ({nq} queries, ITC)", size.images,
                  qformer_macs(q, n_img, nq, 0) + nq * q.hidden * cfg.embed_dim),
        PassCount(f"Q-Former text pass (ITC, {text_tokens} tokens)", size.samples,
                  qformer_macs(q, n_img, 0, text_tokens) + q.hidden * cfg.embed_dim),
        PassCount("ITM keys/values (once per image)", size.images, image_kv_macs(q, n_img)),
        PassCount(f"ITM pass (top-{k} union, upper bound)", pairs,
                  qformer_macs(q, n_img, nq, text_tokens, with_image_kv=False) + nq * q.hidden * 2),
    ]


def prompt_token_estimate(prompt: str, has_question: bool) -> int:
    """Template words x 1.5 (sub-word pieces, punctuation) + a begin/end token + the question's tokens."""
    template = prompt.replace("{}", " ").split()
    return math.ceil(1.5 * len(template)) + 1 + (QUESTION_TOKENS if has_question else 0)


def format_estimate(est: Estimate, gpu: str, utilization: float) -> str:
    """The table `bench cost` prints."""
    lines = [est.title, "", f"{'pass':<58} {'count':>12} {'GFLOPs each':>12} {'PFLOPs total':>13}"]
    for p in est.passes:
        lines.append(f"{p.name:<58} {p.count:>12,} {2 * p.macs_each / 1e9:>12.2f} {p.flops / 1e15:>13.2f}")
    lines.append(f"{'total':<58} {'':>12} {'':>12} {est.flops / 1e15:>13.2f}")
    peak = GPU_PEAK_TFLOPS[gpu]
    hours = est.hours(gpu, utilization)
    lines += ["", f"projected: {hours:.2f} h ({hours * 60:.1f} min) on one {gpu} "
              f"(peak {peak:g} TFLOPS dense fp16/bf16) at {utilization:.0%} utilisation", "",
              "peak dense fp16/bf16 TFLOPS used (vendor datasheets): "
              + ", ".join(f"{k} {v:g}" for k, v in GPU_PEAK_TFLOPS.items()), "", "assumptions:"]
    lines += [f"- {a}" for a in est.assumptions]
    return "\n".join(lines)


# --- a zoo model on a registered task ---------------------------------------------------------------


def split_size(task_name: str, split: str, data_root: str | None = None) -> SplitSize:
    """The split's published size, or the exact counts of the local files when `data_root` is given."""
    if data_root is not None:
        import tasks

        loaded = tasks.get(task_name).load(data_root, split, check_images=False)
        if loaded.kind == "retrieval":
            return SplitSize(len(loaded.image_paths), len(loaded.texts), f"counted in {data_root}")
        return SplitSize(len({s.image_path for s in loaded.samples}), len(loaded.samples), f"counted in {data_root}")
    import tasks

    task = tasks.get(task_name)
    spec = task.split(split)
    official, other, note = spec.official_size, spec.official_other, spec.description
    if official is None or (other is None and task.kind != "caption"):
        raise ValueError(f"no published size for {task_name} {split}; pass --data-root to count the local files")
    if task.kind == "caption":
        return SplitSize(official, official, note)
    return SplitSize(other, official, note) if task.kind == "vqa" else SplitSize(official, other, note)


def estimate_for(task_name: str, model_name: str, split: str | None = None, data_root: str | None = None,
                 cfg: Blip2Config | None = None) -> Estimate:
    """The cost of running zoo model `model_name` (or `cfg`) on a task's full split, with the task's settings."""
    import tasks
    from blip2 import zoo

    task = tasks.get(task_name)
    split = split or task.default_split
    cfg = cfg or zoo.get(model_name).config()
    size = split_size(task_name, split, data_root)
    samples = "texts" if task.kind == "retrieval" else "questions" if task.kind == "vqa" else "captions"
    title = (f"cost: {model_name} on {task_name} {split} ({size.samples:,} {samples} on {size.images:,} images; "
             f"{size.note})")
    if task.kind == "retrieval":
        if not cfg.is_stage1:
            raise ValueError(f"{task_name} is a retrieval task and needs a stage-1 model (e.g. vitg-qformer-coco)")
        settings = task.settings()
        k, text_tokens = settings.k_test, settings.max_text_tokens
        low, high = itm_pair_bounds(size.images, size.samples, k)
        notes = [f"ITM pairs: the union of i2t and t2i top-{k} lies in [{low:,}, {high:,}]; the upper bound is "
                 f"counted (LAVIS scores {size.images * k + size.samples * k:,} pairs, every one twice "
                 "when both directions pick it)",
                 f"texts counted at {text_tokens} tokens (the cap; the runner pads only to the longest in a batch)"]
        return Estimate(title, retrieval_estimate(cfg, size, k, text_tokens), notes + _common_notes(cfg))
    if cfg.is_stage1:
        raise ValueError(f"{task_name} needs a generative model (e.g. vitg-opt2.7b); {model_name} is a stage-1 model")
    variant = "finetuned" if cfg.qformer_text_input and "finetuned" in task.variants else None
    settings = task.settings(cfg.llm.family, variant=variant)
    prompt = prompt_token_estimate(settings.prompt, task.kind == "vqa")
    passes = generation_estimate(cfg, size, prompt, settings.num_beams, settings.max_new_tokens,
                                 question_in_qformer=variant == "finetuned")
    notes = [f"prompt of about {prompt} tokens after the {cfg.qformer.num_queries} soft-prompt tokens"
             + (f" (questions counted as {QUESTION_TOKENS} tokens)" if task.kind == "vqa" else ""),
             f"every beam runs to max_new_tokens={settings.max_new_tokens} (an upper bound: most stop earlier)"]
    return Estimate(title, passes, notes + _common_notes(cfg))


def _common_notes(cfg: Blip2Config) -> list[str]:
    return [f"images at {cfg.vision.image_size} px ({vit_tokens(cfg.vision)} ViT tokens)",
            "FLOPs = 2 x multiply-adds of the matrix products; norms, softmax and other element-wise work "
            "are left out",
            "the Q-Former runs in fp32 on GPU, so its real share of time is larger than its share of FLOPs"]
