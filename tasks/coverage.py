"""How much of a split a result covers, and whose split that is: the paper's, or a toy data root's own.

A number is comparable with the paper only when it was computed on the paper's whole split. ``--limit``,
skipped images, missing predictions, trimmed or other annotation files all give honest numbers of
something smaller; :class:`Coverage` says which, with the counts, so that the leaderboard and the CI gate
never judge such a number against the paper.

A generated data root (the toy world) carries a ``manifest.json`` with the sha256 of every file it wrote.
Its splits are complete on their own terms: a run over all of a split whose files still match the
manifest is complete "against the toy root", and never against the paper.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.splits import LoadedSplit

if TYPE_CHECKING:
    from tasks.task import Task

MANIFEST = "manifest.json"
PAPER = "paper"
TOY_ROOT = "toy root"
UNITS = {"vqa": "questions", "caption": "images", "retrieval": "images"}


@dataclass(frozen=True)
class Coverage:
    """``evaluated`` samples of a split whose files hold ``split_size``; complete means ``official_size``.

    ``against`` names whose size ``official_size`` is: the paper's (from the registry's
    ``SplitSpec.official_size``; None when not recorded) or the toy root's (its own files, when they match
    its manifest). ``reasons`` is empty exactly when the result covers the whole split.
    """

    evaluated: int
    split_size: int
    official_size: int | None
    against: str
    unit: str
    reasons: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        return bool(self.reasons)

    @property
    def reason(self) -> str | None:
        return "; ".join(self.reasons) if self.reasons else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "split_size": self.split_size,
            "official_size": self.official_size,
            "against": self.against,
            "unit": self.unit,
            "reason": self.reason,
        }


def read_generated_manifest(root: Path) -> dict[str, str] | None:
    """The ``{relative path: sha256}`` table of a generated data root, or None for an ordinary root."""
    try:
        manifest = json.loads((Path(root) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("generator"), str):
        return None
    hashes = manifest.get("sha256")
    return hashes if isinstance(hashes, dict) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _changed_files(loaded: LoadedSplit, hashes: dict[str, str]) -> list[str]:
    """The split's files that are not byte-for-byte what the generator wrote."""
    changed = []
    for path in loaded.files:
        try:
            relative = Path(path).relative_to(loaded.data_root).as_posix()
        except ValueError:
            changed.append(str(path))
            continue
        if hashes.get(relative) != _sha256(Path(path)):
            changed.append(relative)
    return changed


def coverage(task: Task, loaded: LoadedSplit, evaluated: int) -> Coverage:
    """How ``evaluated`` scored samples of ``loaded`` stand against the split's complete size."""
    unit = UNITS.get(loaded.kind, "samples")
    where = f"{task.name} {loaded.split}"
    reasons = []
    if evaluated < loaded.total:
        limit = f" (--limit {loaded.limit})" if loaded.limit is not None and loaded.limit < loaded.total else ""
        reasons.append(f"scored {evaluated} of {loaded.total} {unit} in the data files{limit}")
    hashes = read_generated_manifest(loaded.data_root)
    if hashes is not None:
        changed = _changed_files(loaded, hashes)
        if changed:
            reasons.append(
                f"{', '.join(changed)} differ(s) from the toy root's {MANIFEST} (edited or trimmed after it was "
                "generated), so this split's full size is unknown; regenerate the toy root"
            )
        return Coverage(evaluated, loaded.total, None if changed else loaded.total, TOY_ROOT, unit, tuple(reasons))
    official = task.split(loaded.split).official_size
    if official is None:
        reasons.append(
            f"the size of the paper's {where} is not recorded (SplitSpec.official_size), so no run of it can be "
            "confirmed complete against the paper"
        )
    elif loaded.total != official:
        reasons.append(
            f"the data files hold {loaded.total} {unit} but the paper's {where} has {official} "
            "(trimmed or other annotation files)"
        )
    return Coverage(evaluated, loaded.total, official, PAPER, unit, tuple(reasons))
