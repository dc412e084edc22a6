"""The numbers every toy result needs beside it, measured once and committed: chance levels and references.

The toy models' numbers mean little alone (a blind answer prior already gets 37 on toy VQAv2), so the
leaderboard shows each beside the chance level of its task (:mod:`toyworld.analyses.chance`) and a reference
from the other side (:mod:`toyworld.analyses.ceiling`: the toy LLM given the scene in words, the retrieval
oracle). Measuring them scores every task again and runs the LLMs (a minute on 2 CPU cores), far too long
for the default job, so they are measured once into ``bench/data/toy_references.json`` by

    python -m bench toy-ceiling --write bench/data/toy_references.json

and read from there. The file names the toy data root it was measured on (generator, seed, size and a digest
of the manifest's file hashes); the default job's root is that one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tasks
from bench.errors import BenchError
from bench.run_folders import flatten_metrics
from blip2 import zoo
from tasks.atomic import atomic_write_text

REFERENCES_FILE = Path(__file__).parent / "data" / "toy_references.json"
WRITE_COMMAND = "python -m bench toy-ceiling --write bench/data/toy_references.json"
CHANCE, REFERENCE = "chance", "reference"
_KEY = ("task", "split", "subset", "metric")


class ReferencesError(BenchError):
    """A references file that cannot be read; the message names it and the command that rewrites it."""


@dataclass(frozen=True)
class ToyReferences:
    """Chance levels (one per task metric) and references (per toy LLM, or for every model) of the toy tasks.

    ``reference`` rows carry ``llm``: the frozen toy LLM whose text reference they are (a fine-tuned model shares
    its base's LLM, so its reference too), or ``None`` for one that holds for every model (the retrieval oracle).
    """

    chance: tuple[dict[str, Any], ...]
    reference: tuple[dict[str, Any], ...]
    toy_root: dict[str, Any]
    command: str = WRITE_COMMAND

    def lookup(self, model: str, task: str, split: str, subset: str, metric: str) -> tuple[float | None, float | None]:
        """``(chance, reference)`` of one metric for ``model`` (a toy zoo name); None where there is none."""
        key = (task, split, subset, metric)
        chance = next((r["value"] for r in self.chance if tuple(r[k] for k in _KEY) == key), None)
        llm = zoo.get(model).llm if model in zoo.ZOO else None
        reference = next((r["value"] for r in self.reference
                          if tuple(r[k] for k in _KEY) == key and r["llm"] in (None, llm)), None)
        return chance, reference

    def describe(self) -> str:
        """Where the numbers come from, for the leaderboard's note."""
        root = self.toy_root
        return (f"measured on the toy data root of generator seed {root.get('seed')}, size {root.get('size')} "
                f"(`python -m bench toy-data`, the default job's root); regenerate with `{self.command}`")


def manifest_digest(hashes: dict[str, str]) -> str:
    """One sha256 over a toy root manifest's ``sha256`` map (sorted), naming exactly which files were measured."""
    text = "\n".join(f"{path} {digest}" for path, digest in sorted(hashes.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rows(by_split: dict[tuple[str, str], dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    return [{**extra, "task": task, "split": split, "subset": subset, "metric": metric, "value": round(value, 4)}
            for (task, split), metrics in by_split.items()
            for subset, metric, value in flatten_metrics(metrics) if value is not None]


def build(root: Path, ceilings: dict[str, dict[tuple[str, str], dict[str, Any]]],
          oracles: dict[str, dict[str, float]], chance: dict[tuple[str, str], dict[str, Any]]) -> ToyReferences:
    """Assemble the measurements on ``root``: ``ceilings`` by toy model (``ceiling_metrics``), ``oracles`` by
    retrieval task (``retrieval_ceiling``) and ``chance`` (``chance_metrics``)."""
    manifest = json.loads((Path(root) / "manifest.json").read_text(encoding="utf-8"))
    reference: list[dict[str, Any]] = []
    for model, by_split in ceilings.items():
        reference += _rows(by_split, llm=zoo.get(model).llm, how="the toy LLM given the scene in words, no image")
    for task, oracle in oracles.items():
        reference += [{"llm": None, "how": "an oracle that knows which texts are true of which images",
                       "task": task, "split": tasks.get(task).default_split, "subset": "all", "metric": metric,
                       "value": oracle[metric]} for metric in ("TR@1", "IR@1")]
    toy_root = {key: manifest.get(key) for key in ("generator", "version", "seed", "size")}
    toy_root["manifest_sha256"] = manifest_digest(manifest.get("sha256", {}))
    return ToyReferences(tuple(_rows(chance)), tuple(reference), toy_root)


def write(references: ToyReferences, path: Path, chance_seed: int = 0) -> Path:
    """Write ``references`` as JSON (atomically), with what they are and the command that remakes them."""
    document = {
        "about": "Chance levels and references of the toy tasks, shown beside the toy models' numbers in "
                 "results/leaderboard.md and .png. chance: toyworld.analyses.chance (a blind answer prior, random "
                 f"captions, random retrieval scores; seed {chance_seed}); reference: toyworld.analyses.ceiling "
                 "(llm: the toy LLM given the scene in words; null: the retrieval oracle, for every model). toy_root: "
                 "the data root measured, from its manifest.json (manifest_sha256: one sha256 over its files' "
                 "sha256s).",
        "command": references.command,
        "toy_root": references.toy_root,
        CHANCE: list(references.chance),
        REFERENCE: list(references.reference),
    }
    # one row a line: the file is read in diffs when the toy world changes
    lines = [f" {json.dumps(key)}: {json.dumps(value)}," for key, value in document.items()
             if key not in (CHANCE, REFERENCE)]
    for key in (CHANCE, REFERENCE):
        rows = ",\n".join(f"  {json.dumps(row)}" for row in document[key])
        lines.append(f" {json.dumps(key)}: [\n{rows}\n ]" + ("," if key == CHANCE else ""))
    return atomic_write_text(path, "{\n" + "\n".join(lines) + "\n}\n")


def load(path: Path = REFERENCES_FILE) -> ToyReferences:
    """Read a references file written by :func:`write`; a missing or malformed one names the file and the fix."""
    fix = f"rewrite it with `{WRITE_COMMAND}`"
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReferencesError(f"toy references {path}: cannot read it ({exc}); {fix}") from None
    try:
        chance, reference = _checked(document[CHANCE]), _checked(document[REFERENCE], ("llm",))
        return ToyReferences(chance, reference, dict(document["toy_root"]), str(document["command"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ReferencesError(f"toy references {path}: malformed ({exc!r}); {fix}") from None


def _checked(rows: Iterable[dict[str, Any]], extra: tuple[str, ...] = ()) -> tuple[dict[str, Any], ...]:
    out = []
    for row in rows:
        for key in (*_KEY, *extra):
            if key not in row:
                raise KeyError(key)
        out.append({**row, "value": float(row["value"])})
    return tuple(out)
