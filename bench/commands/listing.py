"""``python -m bench list [tasks|models]``: the registry and the zoo, with their defaults and sources."""

from __future__ import annotations

import argparse
from pathlib import Path

import tasks
from blip2 import zoo
from blip2.checkpoints.hub import WeightsUnavailable, hf_snapshot, lavis_cache_dir, lavis_file
from blip2.param_report import parameter_rows

NAME = "list"
HELP = "list the tasks (splits, defaults) or the model zoo (sources, local cache, parameters, paper rows)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=["tasks", "models"], default=None,
                        help="tasks or models (default: both)")


def run(args: argparse.Namespace) -> int:
    if args.what in (None, "tasks"):
        print(format_tasks())
    if args.what is None:
        print()
    if args.what in (None, "models"):
        print(format_models())
    return 0


def format_tasks() -> str:
    lines = ["| task | kind | splits (default first) | image | defaults | paper |", "|---|---|---|---|---|---|"]
    for name in tasks.names():
        task = tasks.get(name)
        splits = [task.default_split] + [s for s in task.split_names if s != task.default_split]
        if task.kind == "retrieval":
            s = task.settings()
            defaults = f"k={s.k_test}, text <= {s.max_text_tokens} tokens"
        else:
            opt, t5 = task.settings("opt"), task.settings("t5")
            defaults = (f"beams {opt.num_beams}, new tokens {opt.min_new_tokens}-{opt.max_new_tokens}, "
                        f"len. penalty {opt.length_penalty}; prompt OPT {opt.prompt!r} / T5 {t5.prompt!r}")
        paper = "; ".join(sorted({f"{t} {r}" for spec in task.splits for t, r in spec.paper}))
        lines.append(f"| {name} | {task.kind} | {', '.join(splits)} | {task.image_size} | {defaults} | {paper} |")
    return "\n".join(lines)


def _cached(entry: zoo.ZooEntry) -> str:
    if entry.local_dir:
        return "yes (committed)" if (entry.local_dir / "model.safetensors").is_file() else "no"
    found = []
    for source, fetch, label in ((entry.hf_id, hf_snapshot, "hf"), (entry.lavis_file, lavis_file, "lavis")):
        if source:
            try:
                fetch(source, local_only=True)
                found.append(label)
            except WeightsUnavailable:
                pass
    return ", ".join(found) if found else "no"


def _shipped(folder) -> str:
    """A shipped weights folder, relative to the working folder when it lies below it."""
    try:
        return str(folder.relative_to(Path.cwd()))
    except ValueError:
        return str(folder)


def _params(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e8 else f"{n / 1e6:.1f}M"


def format_models() -> str:
    counts = {r["model"]: r for r in parameter_rows(zoo.names())}
    lines = ["| model | image | sources | cached locally | trainable (paper) | total (paper) | paper rows |",
             "|---|---|---|---|---|---|---|"]
    for name in zoo.names():
        e = zoo.get(name)
        sources = ", ".join(filter(None, [e.hf_id and f"hf:{e.hf_id}", e.lavis_file and f"lavis:{e.lavis_file}",
                                          e.local_dir and f"shipped:{_shipped(e.local_dir)}"]))
        c = counts[name]
        lines.append(f"| {name} | {e.image_size} | {sources or 'no released checkpoint'} | {_cached(e)} | "
                     f"{c['trainable'] / 1e6:.1f}M ({c['paper_trainable']}) | {_params(c['total'])} "
                     f"({c['paper_total']}) | {'; '.join(e.paper_rows)} |")
    lines.append("\nTrainable: what BLIP-2 trains (Q-Former, queries, projection, ln_vision; for a stage-1 model "
                 "everything but the ViT). Counts are computed from each model's config (blip2.param_count); "
                 "(paper) is Table 2 / Sec. 3.1, - where the paper gives none.")
    lines.append(f"LAVIS files are looked for in {lavis_cache_dir()} (set BLIP2_LAVIS_DIR to change it).")
    return "\n".join(lines)
