"""How often ITM's hard negatives are in fact true of their image, in the toy world.

Stage 1 gives ITM, for each image, a "wrong" caption and, for each caption, a "wrong" image, both sampled
by ITC similarity from the rest of the batch (paper Sec. 3.2, after ALBEF). Where a sampled caption is
true of the image anyway, ITM is taught a wrong label. The toy generator knows every caption a scene can
get (`toyworld.analyses.ceiling.caption_pool`), so here that rate can be measured rather than guessed: it says whether
a toy ITM head that stays at its prior is held back by noisy labels or by something else.

    python -m bench toy-itm-negatives [--model toy-qformer] [--batches 8] [--seed 0] [--data-root D]
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from blip2 import api
from blip2.models.blip2_qformer import recorded_itm_negatives
from blip2.training.data import collate
from blip2.training.objectives import stage1_loss
from blip2.training.recipe import load_recipe
from blip2.training.run import recipe_dataset
from toyworld.analyses.ceiling import caption_pool, normal_caption, read_scenes, scene_key
from toyworld.data.scenes import Scene
from toyworld.errors import ToyError

RECIPE = "toy_stage1"  # its data (Karpathy train + restval), text length and batch size


def count_true_negatives(texts: Sequence[str], images: Sequence[str], image_ids: Sequence[object], *,
                         neg_image: Sequence[int], neg_text: Sequence[int],
                         pools: Mapping[str, set[str]]) -> dict[str, float]:
    """Counts over one batch: sampled negative texts true of the anchor image, anchor texts true of the
    sampled negative image, and (the baseline) the expected count for a uniformly drawn caption of another
    image. `images[i]` keys `pools` (the captions the scene can get, normalised); a pool that misses its
    own image's caption is refused, since the counts would then be lower bounds."""
    counts = {"pairs": len(texts), "negative_text_true": 0, "negative_image_true": 0, "random_text_true": 0.0}
    normal = [normal_caption(t) for t in texts]
    for i, text in enumerate(normal):
        pool = pools[images[i]]
        if text not in pool:
            raise ValueError(f"the caption pool of {images[i]} misses its own caption {texts[i]!r}: the toy "
                             "generator's caption templates and `ceiling.caption_pool` disagree")
        counts["negative_text_true"] += normal[neg_text[i]] in pool
        counts["negative_image_true"] += text in pools[images[neg_image[i]]]
        others = [j for j in range(len(texts)) if image_ids[j] != image_ids[i]]
        if not others:
            raise ValueError("a batch whose captions all belong to one image has no negatives")
        counts["random_text_true"] += sum(normal[j] in pool for j in others) / len(others)
    return counts


def measure(root: str | Path, model_name: str = "toy-qformer", batches: int = 8, batch_size: int | None = None,
            seed: int = 0) -> dict[str, float]:
    """Percent of sampled ITM negatives that are true, over `batches` random training batches (of the
    stage-1 recipe's size unless given), with the model's mean ITM loss on them x100 (a head at its prior,
    one match in three: 63.65). The negatives are those the given model samples, not those it met while
    training (earlier in training they are closer to random)."""
    if batches < 1:
        raise ToyError(f"--batches must be at least 1, not {batches}")
    root = Path(root).absolute()
    scenes = read_scenes(root)
    recipe = load_recipe(RECIPE)
    batch_size = recipe.batch_size if batch_size is None else batch_size
    if batch_size < 2:
        raise ToyError(f"the batch size must be at least 2 (an anchor and a negative), not {batch_size}")
    model = api.load_model(model_name).eval()
    if model.cfg.llm is not None:
        raise ToyError(f"{model_name}: a model with an LLM ({model.cfg.llm.family}); ITM negatives need a "
                         "stage-1 or retrieval model (e.g. toy-qformer, toy-qformer-coco)")
    dataset = recipe_dataset(recipe, root, model)
    if len(dataset) < batch_size:
        raise ToyError(f"{root}: {len(dataset)} training captions, fewer than one batch of {batch_size}")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    pools: dict[str, set[str]] = {}
    totals: dict[str, float] = {}
    itm = []
    for _ in range(batches):
        rows = rng.sample(range(len(dataset)), batch_size)
        batch = collate([dataset[i] for i in rows])
        images = [scene_key(root, dataset.examples[i].image_path, scenes, "ITM negatives") for i in rows]
        for key in images:
            if key not in pools:
                pools[key] = caption_pool(Scene.from_dict(scenes[key]))
        with torch.no_grad(), recorded_itm_negatives() as drawn:
            _, parts = stage1_loss(model, batch, recipe)
        itm.append(parts["itm"])
        neg_image, neg_text = (t.tolist() for t in drawn[-1])
        counts = count_true_negatives(batch["text"], images, batch["image_id"], neg_image=neg_image,
                                      neg_text=neg_text, pools=pools)
        totals = {k: totals.get(k, 0) + v for k, v in counts.items()}
    pct = {k: round(100 * v / totals["pairs"], 2) for k, v in totals.items() if k != "pairs"}
    return {**pct, "pairs": totals["pairs"], "itm_loss": round(100 * sum(itm) / len(itm), 2)}
