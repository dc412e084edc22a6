"""The text ceiling of the toy zero-shot VQA numbers: each toy LLM answers the questions from the scene
*in words* (the complete description its training documents put before a question), no image involved.

A zero-shot BLIP-2 answers from a soft visual prompt that stands in for that description, through the
same frozen LLM, so the LLM's own accuracy given the true description is, in practice, a ceiling for it:
the toy numbers sit between the chance level (`toy_chance`) and this. Scored by the tasks' own scorers.

    python -m bench.toy_ceiling [--data-root D] [--model toy-opt,toy-t5]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

import tasks
from bench.default_job import ensure_toy_root
from blip2 import api
from blip2.training.toy_backbones import answer_from_text
from tasks.toy.config import SCENES
from tasks.toy.language import describe
from tasks.toy.scenes import Scene

MODELS: tuple[str, ...] = ("toy-opt", "toy-t5")


def scene_words(root: Path) -> dict[str, str]:
    """Every toy image's complete description, keyed by its path under the data root."""
    path = root / SCENES
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no toy scene file; the text ceiling needs a toy data root "
                                "(`python -m bench toy-data --out DIR`)")
    scenes = json.loads(path.read_text(encoding="utf-8"))
    return {key: describe(Scene.from_dict(s)) + "." for key, s in scenes.items()}


def ceiling_metrics(root: str | Path, model_name: str, limit: int | None = None,
                    words: Mapping[str, str] | None = None) -> dict[tuple[str, str], dict]:
    """{(task, split): metrics} of `model_name`'s frozen LLM answering each VQA-kind task from the scene in
    words, on the task's default split. `words` replaces the descriptions (tests give wrong ones)."""
    root = Path(root).absolute()
    words = scene_words(root) if words is None else words
    model = api.load_model(model_name)
    family = model.cfg.llm.family
    out = {}
    for name in tasks.names():
        task = tasks.get(name)
        if task.kind != "vqa":
            continue
        loaded = task.load(root, limit=limit)
        settings = task.settings(family)  # the zero-shot run's own beams, token limits and length penalty
        generate = {"num_beams": settings.num_beams, "max_new_tokens": settings.max_new_tokens,
                    "min_new_tokens": settings.min_new_tokens, "length_penalty": settings.length_penalty}
        predictions = {}
        for s in loaded.samples:
            key = Path(s.image_path).relative_to(root).as_posix()
            if key not in words:
                raise KeyError(f"{root / SCENES}: no scene for image {key} (question {s.sample_id})")
            predictions[s.sample_id] = answer_from_text(model.llm, model.tokenizer, words[key], s.question or "",
                                                        family, **generate)
        out[(name, loaded.split)] = task.score(predictions, loaded)["metrics"]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.toy_ceiling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=None, help="toy data root (default: data/toy, made if missing)")
    parser.add_argument("--model", default=",".join(MODELS), help="comma-separated toy zoo names")
    args = parser.parse_args(argv)
    root = ensure_toy_root(args.data_root)
    for model_name in args.model.split(","):
        for (task, split), metrics in ceiling_metrics(root, model_name).items():
            print(f"{model_name:8s} {task:8s} {split:10s} accuracy {metrics['accuracy']:6.2f}")


if __name__ == "__main__":
    main()
