"""The toy scene world: 1-3 coloured shapes on a background, sampled from a seeded RNG and drawn with PIL.

A scene is plain data (so questions, captions and labels for a later attribute classifier all come
from the same facts) and :func:`render` is the only place that turns it into pixels. Shapes are drawn
at 4x and box-downsampled, so 64 px images have clean edges that survive JPEG.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64
_SCALE = 4

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "diamond")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (35, 70, 230),
    "yellow": (245, 220, 30),
    "purple": (140, 40, 190),
    "orange": (250, 140, 20),
    "gray": (128, 128, 128),
}
SIZES: dict[str, int] = {"small": 5, "big": 9}  # radius in px at 64x64
# Centres chosen so that any set of distinct positions never overlaps, even with big shapes.
POSITIONS: dict[str, tuple[int, int]] = {
    "left": (13, 32),
    "right": (51, 32),
    "top": (32, 12),
    "bottom": (32, 52),
    "center": (32, 32),
}
# Background base colours, each with a name a caption can use.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 240),
    "black": (15, 15, 20),
    "beige": (225, 210, 175),
    "dark blue": (20, 25, 70),
    "light pink": (250, 205, 215),
    "dark green": (15, 55, 30),
    "light blue": (190, 220, 245),
}
BACKGROUND_STYLES: tuple[str, ...] = ("solid", "gradient", "noise")
_MIN_CONTRAST = 120.0  # Euclidean RGB distance between any shape and any background colour it sits on

Combo = tuple[str, str]  # (shape, colour)


@dataclass(frozen=True)
class ToyObject:
    shape: str
    colour: str
    size: str
    position: str
    dx: int = 0
    dy: int = 0

    @property
    def combo(self) -> Combo:
        return (self.shape, self.colour)


@dataclass(frozen=True)
class Background:
    style: str
    colour: str
    colour2: str | None = None  # the other end of a gradient
    noise_seed: int = 0


@dataclass(frozen=True)
class Scene:
    objects: tuple[ToyObject, ...]
    background: Background

    def to_dict(self) -> dict:
        """JSON-ready facts of the scene (labels for later training; not an official file)."""
        return {"background": asdict(self.background), "objects": [asdict(o) for o in self.objects]}

    @classmethod
    def from_dict(cls, data: dict) -> Scene:
        """Inverse of :meth:`to_dict` (extra keys such as the scene's set are ignored)."""
        return cls(tuple(ToyObject(**o) for o in data["objects"]), Background(**data["background"]))

    @property
    def combos(self) -> set[Combo]:
        return {o.combo for o in self.objects}

    def uniquely_named(self) -> list[ToyObject]:
        """The objects whose colour and shape are the scene's alone, in order: only these can a question call
        "the <colour> <shape>"."""
        return [o for o in self.objects if sum(x.combo == o.combo for x in self.objects) == 1]


def all_combos() -> list[Combo]:
    return [(shape, colour) for shape in SHAPES for colour in COLOURS]


def held_out_combos(seed: int, per_shape: int = 2) -> list[Combo]:
    """Shape x colour pairs never shown in training; each shape and colour still appears elsewhere.

    Colours are assigned in a rotated pattern so every shape loses ``per_shape`` colours and no colour
    is held out for more than ``per_shape`` shapes: the novelty is the combination, not a new word.
    """
    colours = list(COLOURS)
    offset = random.Random(f"held-out:{seed}").randrange(len(colours))
    step = len(colours) // per_shape
    return [
        (shape, colours[(offset + i + k * step) % len(colours)])
        for i, shape in enumerate(SHAPES)
        for k in range(per_shape)
    ]


def _segment_distance(point: Sequence[int], a: Sequence[int], b: Sequence[int]) -> float:
    """Distance from ``point`` to the RGB segment a-b (a gradient passes through every colour on it)."""
    p, a_, b_ = (np.asarray(v, dtype=np.float64) for v in (point, a, b))
    span = b_ - a_
    length = float(span @ span)
    t = 0.0 if length == 0 else float(np.clip((p - a_) @ span / length, 0.0, 1.0))
    return float(np.linalg.norm(p - (a_ + t * span)))


def _background(rng: random.Random, colours: Sequence[str]) -> Background:
    """A background whose colours all contrast with every shape colour in the scene."""
    rgb = [COLOURS[c] for c in colours]
    usable = [name for name, value in BACKGROUNDS.items() if all(math.dist(value, c) >= _MIN_CONTRAST for c in rgb)]
    if not usable:  # cannot happen with the palettes above, but never draw an invisible shape
        raise ValueError(f"no background contrasts with {colours}")
    style = rng.choice(BACKGROUND_STYLES)
    first = rng.choice(usable)
    second = None
    if style == "gradient":
        ends = [
            name
            for name in usable
            if all(_segment_distance(c, BACKGROUNDS[first], BACKGROUNDS[name]) >= _MIN_CONTRAST for c in rgb)
        ]
        second = rng.choice(ends)  # never empty: ``first`` itself qualifies
    return Background(style, first, second, rng.getrandbits(32) if style == "noise" else 0)


def sample_scene(
    rng: random.Random,
    combos: Sequence[Combo],
    *,
    n_objects: int | None = None,
    required: Sequence[Combo] = (),
) -> Scene:
    """Sample a scene whose objects use only ``combos`` (plus every combo in ``required``).

    Positions are distinct, so "the shape on the left" always names one object.
    """
    n = n_objects if n_objects is not None else rng.choice((1, 1, 2, 2, 2, 3, 3))
    n = max(n, len(required))
    chosen = list(required) + [rng.choice(combos) for _ in range(n - len(required))]
    rng.shuffle(chosen)
    positions = rng.sample(list(POSITIONS), n)
    objects = tuple(
        ToyObject(shape, colour, rng.choice(tuple(SIZES)), position, rng.randint(-1, 1), rng.randint(-1, 1))
        for (shape, colour), position in zip(chosen, positions, strict=True)
    )
    return Scene(objects, _background(rng, [o.colour for o in objects]))


def _background_pixels(background: Background) -> np.ndarray:
    base = np.array(BACKGROUNDS[background.colour], dtype=np.float32)
    if background.style == "gradient":
        end = np.array(BACKGROUNDS[background.colour2 or background.colour], dtype=np.float32)
        t = np.linspace(0.0, 1.0, IMAGE_SIZE, dtype=np.float32)[:, None, None]
        pixels = np.broadcast_to(base + (end - base) * t, (IMAGE_SIZE, IMAGE_SIZE, 3))
    elif background.style == "noise":
        noise = np.random.default_rng(background.noise_seed).normal(0.0, 18.0, (IMAGE_SIZE, IMAGE_SIZE, 3))
        pixels = base + noise.astype(np.float32)
    else:
        pixels = np.broadcast_to(base, (IMAGE_SIZE, IMAGE_SIZE, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.45
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def _draw(draw: ImageDraw.ImageDraw, obj: ToyObject) -> None:
    x, y = POSITIONS[obj.position]
    cx, cy = (x + obj.dx) * _SCALE, (y + obj.dy) * _SCALE
    r = SIZES[obj.size] * _SCALE
    fill = COLOURS[obj.colour]
    if obj.shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif obj.shape == "square":
        s = r * 0.85
        draw.rectangle((cx - s, cy - s, cx + s, cy + s), fill=fill)
    elif obj.shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=fill)
    elif obj.shape == "star":
        draw.polygon(_star(cx, cy, r * 1.1), fill=fill)
    elif obj.shape == "cross":
        w = r * 0.35
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
    elif obj.shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r * 0.8, cy), (cx, cy + r), (cx - r * 0.8, cy)], fill=fill)
    else:
        raise ValueError(f"unknown shape {obj.shape!r}")


def render(scene: Scene) -> Image.Image:
    """Draw ``scene`` as a 64x64 RGB image (deterministic: no global RNG is used)."""
    big = IMAGE_SIZE * _SCALE
    image = Image.fromarray(_background_pixels(scene.background)).resize((big, big), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        _draw(draw, obj)
    return image.reduce(_SCALE)
