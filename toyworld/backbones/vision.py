"""The frozen toy image encoder: the toy architecture's EVA-style ViT, trained as an attribute classifier.

It learns what shape, colour and size sits at each position, and the background, on the toy training
images and freshly drawn scenes, as EVA-CLIP was trained on its own task before BLIP-2 froze it. The
trunk and `ln_vision` are written where the toy recipes' `vision_init` reads them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from blip2.checkpoints.weights_io import save_safetensors
from blip2.models.image_encoder import ImageEncoder
from blip2.processing import ImageTransform
from blip2.training.init import VISION_WEIGHTS
from blip2.training.optim import cosine_lr
from tasks.coverage import MANIFEST
from toyworld import arch
from toyworld.data.config import SCENES, TRAINING_SETS
from toyworld.data.scenes import (
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
    patches, so the pooled features also say what the image shows (as a CLIP-trained encoder's do). The
    layout head reads that mean too and names every position's shape, colour and size: without it the
    tokens say what is drawn but hardly where (the scene layout was 0.62 linearly decodable from their
    mean, against 0.59 for always guessing the commonest class), and the toy LLMs' "where is" answers and
    captions suffered for it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = ImageEncoder(arch.vision())
        cfg = self.encoder.cfg
        self.grid = cfg.image_size // cfg.patch_size
        width = cfg.width
        self.object_head = nn.Linear(width, sum(_HEADS))
        self.background_head = nn.Linear(width, len(BACKGROUNDS) + len(BACKGROUND_STYLES))
        self.content_head = nn.Linear(width, CONTENT_LABELS)
        self.layout_head = nn.Linear(width, len(_POSITIONS) * sum(_HEADS))
        windows = torch.zeros(len(_POSITIONS), self.grid * self.grid)
        for i, (x, y) in enumerate(POSITIONS[p] for p in _POSITIONS):
            col, row = x // cfg.patch_size, y // cfg.patch_size
            for r in range(max(0, row - 1), min(self.grid, row + 2)):
                for c in range(max(0, col - 1), min(self.grid, col + 2)):
                    windows[i, r * self.grid + c] = 1.0
        self.register_buffer("windows", windows / windows.sum(1, keepdim=True), persistent=False)

    def forward(self, pixels: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, list[torch.Tensor]]:
        """Per-label class logits (positions, then background), the multi-hot content logits, and the
        per-position labels' logits again, from the pooled tokens (the layout head)."""
        patches = self.encoder(pixels)[:, 1:]
        per_position = torch.einsum("pn,bnd->bpd", self.windows, patches)
        logits = _per_label(self.object_head(per_position))
        pooled = patches.mean(1)
        background = self.background_head(pooled)
        logits += list(background.split([len(BACKGROUNDS), len(BACKGROUND_STYLES)], dim=-1))
        layout = _per_label(self.layout_head(pooled).view(len(pooled), len(_POSITIONS), sum(_HEADS)))
        return logits, self.content_head(pooled), layout


def _per_label(objects: torch.Tensor) -> list[torch.Tensor]:
    """[B, positions, shape + colour + size] logits as one [B, classes] tensor per label, in `scene_labels`' order."""
    logits = []
    for p in range(objects.shape[1]):
        logits += list(objects[:, p].split(_HEADS, dim=-1))
    return logits


def _pixels(images: Iterable[Image.Image]) -> torch.Tensor:
    """The encoder's input tensor for toy images (64 px, the project's normalisation)."""
    transform = ImageTransform(arch.IMAGE_SIZE)
    return torch.stack([transform(image) for image in images])


def load_images(root: Path, paths: list[str]) -> torch.Tensor:
    """The encoder's input tensor for toy images stored under `root`."""
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
    x = load_images(data_root, [p for p, _ in train])
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
        logits, content_logits, layout_logits = model(x[idx])
        terms = [w * F.cross_entropy(lg, y[idx, i]) for i, (w, lg) in enumerate(zip(weights, logits, strict=True))]
        loss = sum(terms) / len(terms)
        loss = loss + F.binary_cross_entropy_with_logits(content_logits, content[idx])
        layout = [F.cross_entropy(lg, y[idx, i]) for i, lg in enumerate(layout_logits)]
        loss = loss + sum(layout) / len(layout)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if log is not None:
            log({"backbone": "vit", "step": step + 1, "loss": loss.item(), "lr": lr})
    report = attribute_report(model, data_root, held_out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.encoder.state_dict().items()}
    save_safetensors(state, out / VISION_WEIGHTS)
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
    where an object sits (an empty position counts for `empty`), the background colour and style, and every
    position's labels read from the pooled tokens alone (`layout_from_pooled`)."""
    model.eval()
    x = load_images(data_root, list(scenes))
    y = torch.tensor([scene_labels(s) for s in scenes.values()])
    logits, _, layout_logits = model(x)
    right = torch.stack([lg.argmax(-1) == y[:, i] for i, lg in enumerate(logits)], 1).float()
    n = 3 * len(_POSITIONS)
    layout_right = torch.stack([lg.argmax(-1) == y[:, i] for i, lg in enumerate(layout_logits)], 1)
    occupied = y[:, 0:n:3] != 0

    def pct(values: torch.Tensor) -> float:
        return round(values.float().mean().item() * 100, 2)

    report = {"all": pct(right)}
    for k, name in enumerate(("shape", "colour", "size")):
        report[name] = pct(right[:, k:n:3][occupied])
    report["empty"] = pct(right[:, 0:n:3][~occupied])
    report["background_colour"], report["background_style"] = pct(right[:, n]), pct(right[:, n + 1])
    report["layout_from_pooled"] = pct(layout_right)
    return report
