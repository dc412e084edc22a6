"""References for the toy numbers, from the other side than the chance levels (`toyworld.analyses.chance`).

- VQA, the text reference: each toy LLM answers the questions from the scene *in words* (the complete
  description its training documents put before a question), no image involved. A zero-shot BLIP-2
  answers from a soft visual prompt that stands in for that description, through the same frozen LLM,
  so this is what the LLM can do with everything the image holds, in the form it learned. Scored by the
  tasks' own scorers.
- Retrieval, the caption-ambiguity ceiling: many toy captions are true of several test images ("two
  shapes on a grainy background"); a ranker that knows exactly which texts are true of which images, and
  breaks ties at random, still has an expected R@1 below 100.

    python -m bench toy-ceiling [--data-root D] [--model toy-opt,toy-t5]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from PIL import Image

import tasks
from blip2 import api
from toyworld.backbones.corpus import scene_in_words
from toyworld.backbones.llms import answer_from_text
from toyworld.data.config import SCENES
from toyworld.data.language import caption_variants
from toyworld.data.scenes import Scene
from toyworld.errors import ToyError
from toyworld.zoo import ZERO_SHOT_MODELS

MODELS = ZERO_SHOT_MODELS


def read_scenes(root: Path) -> dict[str, dict]:
    """The toy root's scenes file, keyed by image path under the root."""
    path = root / SCENES
    if not path.is_file():
        raise ToyError(f"{path}: no toy scene file; the toy references need a toy data root "
                                "(`python -m bench toy-data --out DIR`)")
    return json.loads(path.read_text(encoding="utf-8"))


def scene_key(root: Path, image_path: str | Path, known: Mapping[str, object], what: str) -> str:
    """The scenes-file key of an image of a loaded split, checked to be there."""
    key = Path(image_path).relative_to(root).as_posix()
    if key not in known:
        raise KeyError(f"{root / SCENES}: no scene for image {key} ({what})")
    return key


def scene_words(root: Path) -> dict[str, str]:
    """Every toy image's complete description, keyed by its path under the data root."""
    return {key: scene_in_words(Scene.from_dict(s)) for key, s in read_scenes(root).items()}


def ceiling_metrics(root: str | Path, model_name: str, limit: int | None = None,
                    words: Mapping[str, str] | None = None, from_captions: bool = False
                    ) -> dict[tuple[str, str], dict]:
    """{(task, split): metrics} of `model_name`'s frozen LLM answering each VQA-kind task from the scene in
    words, on the task's default split. `words` replaces the descriptions (tests give wrong ones);
    `from_captions` replaces them with the model's own zero-shot captions of the images (`own_captions`)."""
    model = api.load_model(model_name)
    if model.cfg.llm is None:
        raise ToyError(f"{model_name}: a stage-1 model with no LLM; the ceiling needs a model with an LLM")
    if from_captions:
        words = own_captions(root, model, limit)
    return text_reference(root, model.llm, model.tokenizer, model.cfg.llm.family, limit, words)


def own_captions(root: str | Path, model, limit: int | None = None, batch: int = 32) -> dict[str, str]:
    """{image key: caption} of every VQA-kind test image, written by `model` zero-shot with COCO captioning's
    settings for its LLM, as a sentence.

    Answering from these instead of the description splits the zero-shot gap in two: what the soft prompt
    carries (a caption says no more than the prompt that wrote it) and how the LLM reads it."""
    root = Path(root).absolute()
    family = model.cfg.llm.family
    settings = tasks.get("coco_caption").settings(family)
    generate = _generation(settings)
    paths = sorted({Path(s.image_path) for name in tasks.names() if tasks.get(name).kind == "vqa"
                    for s in tasks.get(name).load(root, limit=limit).samples})
    captions: dict[str, str] = {}
    model.eval()
    for start in range(0, len(paths), batch):
        chunk = paths[start:start + batch]
        images = []
        for path in chunk:
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
        with torch.no_grad():
            written = api.caption(model, images, settings.prompt, **generate)
        for path, text in zip(chunk, written, strict=True):
            captions[path.relative_to(root).as_posix()] = text.strip().rstrip(".") + "."
    return captions


def text_reference(root: str | Path, llm, tokenizer, family: str, limit: int | None = None,
                   words: Mapping[str, str] | None = None) -> dict[tuple[str, str], dict]:
    """{(task, split): metrics} of a toy LLM (`family` "opt" or "t5") answering each VQA-kind task from the
    scene in words, with the zero-shot run's own generation settings, scored by the task's scorer."""
    root = Path(root).absolute()
    words = scene_words(root) if words is None else words
    out = {}
    for name in tasks.names():
        task = tasks.get(name)
        if task.kind != "vqa":
            continue
        loaded = task.load(root, limit=limit)
        generate = _generation(task.settings(family))
        predictions = {}
        for s in loaded.samples:
            key = scene_key(root, s.image_path, words, f"question {s.sample_id}")
            predictions[s.sample_id] = answer_from_text(llm, tokenizer, words[key], s.question or "", family,
                                                        **generate)
        out[(name, loaded.split)] = task.score(predictions, loaded, allow_empty=True)["metrics"]
    return out


def _generation(settings) -> dict[str, object]:
    """The decoding of a task's zero-shot run (beams, token limits, length penalty), as `generate` keywords."""
    return {"num_beams": settings.num_beams, "max_new_tokens": settings.max_new_tokens,
            "min_new_tokens": settings.min_new_tokens, "length_penalty": settings.length_penalty}


def caption_pool(scene: Scene) -> set[str]:
    """Every caption the toy generator can write for `scene` (`language.caption_variants`), normalised as
    `normal_caption` does."""
    return {normal_caption(c) for c in caption_variants(scene)}


def normal_caption(text: str) -> str:
    """A caption lower-cased with single spaces: how the caption pools and the texts are compared."""
    return " ".join(text.lower().split())


def retrieval_ceiling(root: str | Path, task_name: str) -> dict[str, float]:
    """Expected TR@1 / IR@1 (percent) of an oracle that knows which test texts are true of which test
    images, ties broken at random, and the share of texts that are true of more than one image.

    TR@1: the oracle ranks the texts true of an image by how few images they are true of, so R@1 is the
    chance that the most specific ones are the image's own. IR@1: 1 / (images the text is true of).
    """
    root = Path(root).absolute()
    scenes = read_scenes(root)
    loaded = tasks.get(task_name).load(root)
    pools = [caption_pool(Scene.from_dict(scenes[scene_key(root, path, scenes, task_name)]))
             for path in loaded.image_paths]
    true_of = []
    for t, text in enumerate(loaded.texts):
        normal = normal_caption(text)
        true_of.append({i for i, pool in enumerate(pools) if normal in pool} | {loaded.txt2img[t]})
    ir = [1 / len(images) for images in true_of]
    tr = []
    for i in range(len(pools)):
        candidates = [(len(images), loaded.txt2img[t] == i) for t, images in enumerate(true_of) if i in images]
        best = min(n for n, _ in candidates)
        top = [own for n, own in candidates if n == best]
        tr.append(sum(top) / len(top))
    return {"TR@1": round(100 * sum(tr) / len(tr), 2), "IR@1": round(100 * sum(ir) / len(ir), 2),
            "ambiguous_texts": round(100 * sum(len(x) > 1 for x in true_of) / len(true_of), 2)}
