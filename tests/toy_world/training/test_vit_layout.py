"""The committed toy ViT's tokens say what is where, not only what is drawn.

The Q-Former reads the ViT's tokens; a question such as "where is the red circle?" or a caption that names
each object's place can be answered only if the tokens carry the layout. A linear probe of the mean patch
token (after `ln_vision`, as the Q-Former sees it), fitted on training images, must name each position's
shape, colour and size on evaluation images far better than always guessing each label's commonest class.
The ViT trained without its layout head failed this (0.62 against 0.59)."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from blip2.models.image_encoder import ImageEncoder
from blip2.training.init import VISION_WEIGHTS
from toyworld import arch
from toyworld.backbones import WEIGHTS_DIR
from toyworld.backbones.vision import POSITIONS, load_images, scene_labels
from toyworld.data.config import SCENES

FIT, HELD_OUT = 1500, 300
LABELS = 3 * len(POSITIONS)  # shape, colour and size at each position (the background is left out)


@torch.no_grad()
def _pooled_tokens(encoder: ImageEncoder, root, paths: list[str]) -> torch.Tensor:
    return torch.cat([encoder(load_images(root, paths[start:start + 100]))[:, 1:].mean(1)
                      for start in range(0, len(paths), 100)])


def _ridge_probe(x_fit: torch.Tensor, y_fit: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor) -> float:
    """Mean accuracy over the labels of a one-vs-rest ridge regression per label (argmax of its outputs)."""
    mean, std = x_fit.mean(0), x_fit.std(0) + 1e-6
    a = torch.cat([(x_fit - mean) / std, torch.ones(len(x_fit), 1)], 1).double()
    b = torch.cat([(x_test - mean) / std, torch.ones(len(x_test), 1)], 1).double()
    gram_inverse = torch.linalg.inv(a.T @ a + 1.0 * torch.eye(a.shape[1], dtype=torch.float64))
    right = []
    for label in range(y_fit.shape[1]):
        classes = int(max(y_fit[:, label].max(), y_test[:, label].max())) + 1
        target = torch.nn.functional.one_hot(y_fit[:, label], classes).double()
        predicted = (b @ (gram_inverse @ (a.T @ target))).argmax(1)
        right.append((predicted == y_test[:, label]).double().mean())
    return torch.stack(right).mean().item()


def _commonest(y_fit: torch.Tensor, y_test: torch.Tensor) -> float:
    right = [(y_test[:, label] == y_fit[:, label].mode().values).double().mean() for label in range(y_fit.shape[1])]
    return torch.stack(right).mean().item()


def test_the_committed_vit_tokens_say_what_is_where(default_root):
    scenes = json.loads((default_root / SCENES).read_text(encoding="utf-8"))
    fit = [p for p, s in scenes.items() if s["set"] == "coco-train"][:FIT]
    held_out = [p for p, s in scenes.items() if s["set"] in ("coco-test", "vqa-val", "gqa-test-dev")][:HELD_OUT]
    assert len(fit) == FIT and len(held_out) == HELD_OUT
    encoder = ImageEncoder(arch.vision()).eval()
    encoder.load_state_dict(load_file(str(WEIGHTS_DIR / "vit" / VISION_WEIGHTS)))
    y_fit = torch.tensor([scene_labels(scenes[p])[:LABELS] for p in fit])
    y_test = torch.tensor([scene_labels(scenes[p])[:LABELS] for p in held_out])
    probe = _ridge_probe(_pooled_tokens(encoder, default_root, fit), y_fit,
                         _pooled_tokens(encoder, default_root, held_out), y_test)
    commonest = _commonest(y_fit, y_test)
    assert probe > 0.78 and probe > commonest + 0.15, (probe, commonest)
