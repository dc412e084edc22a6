"""The frozen toy backbones, trained once by the harness before BLIP-2's own stages.

- the image encoder: the toy architecture's EVA-style ViT, trained as an attribute classifier on the
  toy training images (what shape, colour and size sits at each position; the background), as EVA-CLIP
  was trained on its own task before BLIP-2 froze it;
- an OPT-style decoder and a T5-style encoder-decoder from transformers, trained on toy *text* only
  (`toy_corpus`), with tokenizers made by the project.

Each is written to a folder that the toy recipes read (`vision_init`, `llm_init`, `qformer_tokenizer`).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import transformers
from PIL import Image
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from tasks.toy.config import MANIFEST, SCENES, TRAINING_SETS
from tasks.toy.scenes import (
    BACKGROUND_STYLES,
    BACKGROUNDS,
    COLOURS,
    POSITIONS,
    SHAPES,
    SIZES,
    Scene,
    all_combos,
    render,
    sample_scene,
)

from .. import toy_arch
from ..models.image_encoder import ImageEncoder
from ..processing import ImageTransform
from . import toy_corpus
from .optim import cosine_lr

VISION_WEIGHTS = "vision.safetensors"


@dataclass(frozen=True)
class BackboneSteps:
    """Optimiser steps of each backbone (the `toy` orchestrator scales these down in tests)."""

    vit: int = 1800
    opt: int = 600
    t5: int = 600
    batch: int = 64
    vit_scenes: int = 16000  # freshly drawn scenes the ViT pre-trains on, besides the toy training images


# --- the image encoder -------------------------------------------------------------------------------

# Per position: shape (or none), colour (or none), size (or none); then background colour and style.
_HEADS = [len(SHAPES) + 1, len(COLOURS) + 1, len(SIZES) + 1]
_POSITIONS = list(POSITIONS)
_SHAPE_WEIGHT = 4.0  # shape is learned last (colour and size within a few hundred steps)


def scene_labels(scene: dict) -> list[int]:
    """Class indices of one scene: 3 per position, then background colour and background style."""
    labels = []
    by_position = {o["position"]: o for o in scene["objects"]}
    for position in _POSITIONS:
        o = by_position.get(position)
        labels += [0, 0, 0] if o is None else [1 + SHAPES.index(o["shape"]), 1 + list(COLOURS).index(o["colour"]),
                                               1 + list(SIZES).index(o["size"])]
    background = scene["background"]
    return labels + [list(BACKGROUNDS).index(background["colour"]), BACKGROUND_STYLES.index(background["style"])]


# What the whole image holds, wherever it is drawn: each shape, each colour, each (shape, colour) pair,
# and the number of objects. EVA-CLIP's features say what an image shows even when pooled over all
# patches; these labels on the pooled patch tokens teach the toy ViT the same.
_PAIRS = [(shape, colour) for shape in SHAPES for colour in COLOURS]
CONTENT_LABELS = len(SHAPES) + len(COLOURS) + len(_PAIRS) + 3


def scene_content(scene: dict) -> list[float]:
    """Multi-hot content of one scene: shapes, colours, (shape, colour) pairs, then 1 / 2 / 3 objects."""
    hot = [0.0] * CONTENT_LABELS
    colours = list(COLOURS)
    for o in scene["objects"]:
        hot[SHAPES.index(o["shape"])] = 1.0
        hot[len(SHAPES) + colours.index(o["colour"])] = 1.0
        hot[len(SHAPES) + len(colours) + _PAIRS.index((o["shape"], o["colour"]))] = 1.0
    hot[CONTENT_LABELS - 3 + min(len(scene["objects"]), 3) - 1] = 1.0
    return hot


class AttributeClassifier(nn.Module):
    """The toy ViT (trunk + ln_vision, as BLIP-2 uses it) with linear attribute heads on its patch tokens.

    Each position's head reads the mean of the 3x3 patch tokens around that position, so the patch
    tokens themselves (what the Q-Former cross-attends to) must say what is drawn where; one head, shared
    by all positions, gives shape, colour and size. The background and content heads read the mean of all
    patches, so the pooled features also say what the image shows (as a CLIP-trained encoder's do).
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = ImageEncoder(toy_arch.vision())
        cfg = self.encoder.cfg
        self.grid = cfg.image_size // cfg.patch_size
        width = cfg.width
        self.object_head = nn.Linear(width, sum(_HEADS))
        self.background_head = nn.Linear(width, len(BACKGROUNDS) + len(BACKGROUND_STYLES))
        self.content_head = nn.Linear(width, CONTENT_LABELS)
        windows = torch.zeros(len(_POSITIONS), self.grid * self.grid)
        for i, (x, y) in enumerate(POSITIONS[p] for p in _POSITIONS):
            col, row = x // cfg.patch_size, y // cfg.patch_size
            for r in range(max(0, row - 1), min(self.grid, row + 2)):
                for c in range(max(0, col - 1), min(self.grid, col + 2)):
                    windows[i, r * self.grid + c] = 1.0
        self.register_buffer("windows", windows / windows.sum(1, keepdim=True), persistent=False)

    def forward(self, pixels: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per-label class logits (positions, then background) and the multi-hot content logits."""
        patches = self.encoder(pixels)[:, 1:]
        per_position = torch.einsum("pn,bnd->bpd", self.windows, patches)
        objects = self.object_head(per_position)  # [B, positions, shape + colour + size]
        logits = []
        for p in range(len(_POSITIONS)):
            logits += list(objects[:, p].split(_HEADS, dim=-1))
        pooled = patches.mean(1)
        background = self.background_head(pooled)
        logits += list(background.split([len(BACKGROUNDS), len(BACKGROUND_STYLES)], dim=-1))
        return logits, self.content_head(pooled)


def _pixels(images: Iterable[Image.Image]) -> torch.Tensor:
    """The encoder's input tensor for toy images (64 px, the project's normalisation)."""
    transform = ImageTransform(toy_arch.IMAGE_SIZE)
    return torch.stack([transform(image) for image in images])


def _load_images(root: Path, paths: list[str]) -> torch.Tensor:
    def opened() -> Iterator[Image.Image]:
        for path in paths:
            with Image.open(root / path) as image:
                yield image

    return _pixels(opened())


def _scenes(root: Path, sets: tuple[str, ...]) -> dict[str, dict]:
    scenes = json.loads((root / SCENES).read_text(encoding="utf-8"))
    return {p: s for p, s in scenes.items() if s["set"] in sets}


def pretraining_scenes(data_root: Path, count: int, seed: int = 0) -> list[dict]:
    """`count` scenes drawn afresh for the ViT's own pre-training, from the shape-colour pairs that the
    toy training sets use (the root's held-out pairs stay unseen, as NoCaps' out-domain needs).

    EVA-CLIP learned to see from far more images than BLIP-2's captioning data holds; likewise the toy ViT
    does not learn shapes from the 2.5k toy training images alone (held-out shape accuracy at chance)."""
    manifest_path = data_root / MANIFEST
    try:
        held_out = {tuple(c) for c in json.loads(manifest_path.read_text(encoding="utf-8"))["held_out_combos"]}
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{manifest_path}: cannot read 'held_out_combos' ({error}); regenerate the toy root "
                         "with `python -m bench toy-data`") from error
    seen = [c for c in all_combos() if c not in held_out]
    rng = random.Random(f"toy-vit-pretraining:{seed}")
    return [sample_scene(rng, seen).to_dict() for _ in range(count)]


def train_vit(data_root: Path, out: Path, steps: int, batch: int = 64, seed: int = 0, progress: bool = True,
              log: Callable[[dict], None] | None = None, fresh_scenes: int = 0, peak_lr: float = 3e-3) -> dict:
    """Train the toy ViT as an attribute classifier on the toy training images and `fresh_scenes` newly
    drawn ones (`pretraining_scenes`); save trunk + ln_vision.

    Shape is the slow attribute (colour and size are learned in a few hundred steps), so its loss weighs
    4x. Returns the held-out attribute accuracies (Karpathy test images), recorded beside the weights.
    """
    torch.manual_seed(seed)
    train = list(_scenes(data_root, TRAINING_SETS).items())
    held_out = _scenes(data_root, ("coco-test",))
    x = _load_images(data_root, [p for p, _ in train])
    scenes = [s for _, s in train]
    if fresh_scenes:
        extra = pretraining_scenes(data_root, fresh_scenes, seed)
        x = torch.cat([x, _pixels(render(Scene.from_dict(s)) for s in extra)])
        scenes += extra
    y = torch.tensor([scene_labels(s) for s in scenes])
    content = torch.tensor([scene_content(s) for s in scenes])
    weights = [_SHAPE_WEIGHT if i < 3 * len(_POSITIONS) and i % 3 == 0 else 1.0 for i in range(y.shape[1])]
    model = AttributeClassifier()
    _init_vit(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.05, betas=(0.9, 0.98))
    gen = torch.Generator().manual_seed(seed)
    bar = tqdm(range(steps), desc="toy backbone: ViT attribute classifier", disable=not progress)
    model.train()
    for step in bar:
        lr = cosine_lr(step, steps, peak_lr, max(1, steps // 20), 1e-5)
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = torch.randint(len(x), (batch,), generator=gen)
        logits, content_logits = model(x[idx])
        terms = [w * F.cross_entropy(lg, y[idx, i]) for i, (w, lg) in enumerate(zip(weights, logits, strict=True))]
        loss = sum(terms) / len(terms)
        loss = loss + F.binary_cross_entropy_with_logits(content_logits, content[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if log is not None:
            log({"backbone": "vit", "step": step + 1, "loss": loss.item(), "lr": lr})
    report = attribute_report(model, data_root, held_out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.encoder.state_dict().items()}
    save_file(state, str(out / VISION_WEIGHTS))
    metrics = {"held_out_attribute_accuracy": report["all"], "held_out": report, "steps": steps,
               "fresh_scenes": fresh_scenes}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return {"attribute_accuracy": report["all"], "held_out": report}


def _init_vit(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    trunk = model.encoder.trunk
    nn.init.trunc_normal_(trunk.pos_embed, std=0.02)
    nn.init.trunc_normal_(trunk.cls_token, std=0.02)


@torch.no_grad()
def attribute_report(model: AttributeClassifier, data_root: Path, scenes: dict[str, dict]) -> dict[str, float]:
    """Accuracy (%) on images the classifier never saw: over all labels, and for shape, colour and size
    where an object sits (an empty position counts for `empty`), and the background colour and style."""
    model.eval()
    x = _load_images(data_root, list(scenes))
    y = torch.tensor([scene_labels(s) for s in scenes.values()])
    logits, _ = model(x)
    right = torch.stack([lg.argmax(-1) == y[:, i] for i, lg in enumerate(logits)], 1).float()
    n = 3 * len(_POSITIONS)
    occupied = y[:, 0:n:3] != 0

    def pct(values: torch.Tensor) -> float:
        return round(values.float().mean().item() * 100, 2)

    report = {"all": pct(right)}
    for k, name in enumerate(("shape", "colour", "size")):
        report[name] = pct(right[:, k:n:3][occupied])
    report["empty"] = pct(right[:, 0:n:3][~occupied])
    report["background_colour"], report["background_style"] = pct(right[:, n]), pct(right[:, n + 1])
    return report


def load_vision_into(model: nn.Module, folder: Path) -> None:
    """Copy the trained toy ViT (trunk + ln_vision) into a BLIP-2 model's image encoder, strictly."""
    state = load_file(str(Path(folder) / VISION_WEIGHTS))
    model.vision.load_state_dict(state, strict=True)


# --- the language models -----------------------------------------------------------------------------


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
              log: Callable[[dict], None] | None = None) -> dict:
    """A small OPTForCausalLM trained on toy text with its project-made BPE tokenizer; saved with
    `save_pretrained` (config, safetensors, tokenizer) like any transformers LLM."""
    torch.manual_seed(seed)
    docs = toy_corpus.toy_documents(data_root)
    tokenizer = toy_corpus.opt_tokenizer(toy_corpus.corpus_text(data_root))
    sequences = [toy_corpus.opt_sequence(tokenizer, d) for d in docs]
    config = transformers.AutoConfig.for_model(**toy_arch.LLMS["toy-opt"].config)
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
    docs = toy_corpus.toy_documents(data_root)
    tokenizer = toy_corpus.t5_tokenizer(toy_corpus.corpus_text(data_root))
    config = transformers.AutoConfig.for_model(**toy_arch.LLMS["toy-t5"].config)
    model = transformers.T5ForConditionalGeneration(config)
    from ..models.blip2_lm import untie_output_embeddings

    untie_output_embeddings(model)
    rng = random.Random(seed)

    def step_loss(rows: list[int]) -> torch.Tensor:
        pairs = [toy_corpus.t5_pair(tokenizer, docs[i], rng) for i in rows]
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
    tokenizer = toy_corpus.qformer_tokenizer(toy_corpus.corpus_text(data_root))
    tokenizer.save_pretrained(out)
    return len(tokenizer)


@torch.no_grad()
def answer_from_text(model, tokenizer, context: str, question: str, family: str, **generate: object) -> str:
    """A toy LLM's answer to `question` about the scene `context` in words, in the document format it was
    trained on (`toy_corpus`): the text-only counterpart of zero-shot VQA. `generate` goes to
    transformers' `generate` (beams, token limits, length penalty); greedy, 8 tokens by default."""
    options = {"max_new_tokens": 8, "do_sample": False, "num_beams": 1, **generate}
    if family == "opt":
        prefix = tokenizer(context, add_special_tokens=False).input_ids
        prompt = tokenizer(toy_corpus.OPT_QA.format(question), add_special_tokens=False).input_ids
        ids = torch.tensor([prefix + [tokenizer.bos_token_id] + prompt])
        newline = tokenizer("\n", add_special_tokens=False).input_ids[0]
        gen = model.generate(input_ids=ids, eos_token_id=newline, pad_token_id=tokenizer.pad_token_id,
                             **options)[0, ids.shape[1]:]
    else:
        ids = tokenizer(f"{context} {toy_corpus.T5_QA.format(question)}", return_tensors="pt").input_ids
        gen = model.generate(input_ids=ids, **options)[0]
    return tokenizer.decode(gen, skip_special_tokens=True).strip()
