"""The Task: declarative data about one benchmark plus the functions that act on it (loader, scorer).

Like lm-evaluation-harness tasks, everything that decides a number (files, split, image size,
prompt, decoding, scorer, the paper row it is compared with) is declared on the task and
serialisable (the scorer by its name), so a result can record exactly what produced it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from tasks import evaluation
from tasks.data_root import resolve_data_root
from tasks.errors import TaskError
from tasks.loaders import check_image_files
from tasks.scorers import Scorer
from tasks.settings import LLM_FAMILIES, GenerationSettings, RetrievalSettings
from tasks.splits import GenerationSplit, LoadedSplit, RetrievalSplit, Sample
from tasks.text import preprocess_caption, preprocess_question

Kind = Literal["vqa", "caption", "retrieval"]
Loader = Callable[[str, "SplitSpec", Path, "int | None"], LoadedSplit]


def frozen_mapping(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class SplitSpec:
    """One split: the files it reads (relative to the data root) and the paper rows it answers to.

    ``files`` maps each file's role (what the loader reads it as: "questions", "annotations",
    "captions", "karpathy") to its path; all are required. ``alternative_files`` are accepted in their
    place (the LAVIS JSON, role "lavis", used only when the original Karpathy file is absent).
    ``options`` holds the loader's other settings (image name prefix, Karpathy split name, ...), never
    a path, so each path is written once.
    ``official_size`` is the paper's split size (questions for VQA, images otherwise): only a run over
    exactly that many is compared with the paper; None means not recorded, so never confirmed complete.
    ``official_other`` is the split's other published count, for planning (``bench cost``): the images of a
    VQA split, the captions of a retrieval split; a captioning split has none.
    """

    name: str
    description: str
    files: Mapping[str, str]
    image_folder: str
    paper: tuple[tuple[str, str], ...] = ()
    has_answers: bool = True
    alternative_files: Mapping[str, str] = field(default_factory=frozen_mapping)
    options: Mapping[str, Any] = field(default_factory=frozen_mapping)
    official_size: int | None = None
    official_other: int | None = None

    def __post_init__(self) -> None:
        for name in ("files", "alternative_files", "options"):
            object.__setattr__(self, name, frozen_mapping(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "files": list(self.files.values()),
            "alternative_files": list(self.alternative_files.values()),
            "image_folder": self.image_folder,
            "has_answers": self.has_answers,
            "official_size": self.official_size,
            "official_other": self.official_other,
            "paper": [list(row) for row in self.paper],
        }


@dataclass(frozen=True)
class Task:
    """A registered benchmark. Build settings with :meth:`settings`, data with :meth:`load`, score with
    :meth:`score`."""

    name: str
    kind: Kind
    description: str
    splits: tuple[SplitSpec, ...]
    default_split: str
    image_size: int
    metrics: tuple[str, ...]
    scorer: Scorer  # called by score(); its name is what to_dict records
    prediction_format: str  # "vqa" | "gqa" | "caption" | "retrieval"
    loader: Loader
    variants: Mapping[str, Mapping[str, GenerationSettings]] = field(default_factory=frozen_mapping)
    default_variant: str = "default"
    retrieval_settings: RetrievalSettings | None = None
    notes: tuple[str, ...] = ()

    # --- declarative lookups -------------------------------------------------------------------
    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.splits)

    def split(self, name: str | None = None) -> SplitSpec:
        """The split spec ``name`` (default split when None); unknown names list the valid ones."""
        wanted = self.default_split if name is None else name
        for spec in self.splits:
            if spec.name == wanted:
                return spec
        raise TaskError(
            f"task {self.name} has no split {wanted!r}; its splits are: {', '.join(self.split_names)}"
        )

    def settings(
        self,
        family: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        variant: str | None = None,
    ) -> GenerationSettings | RetrievalSettings:
        """Settings for an LLM family ("opt"/"t5"; ignored for retrieval), with ``overrides`` applied.

        ``variant`` picks e.g. "finetuned" (the VQA-fine-tuned models' settings) instead of the
        default "zero-shot". The returned object is new and frozen; the registry is never mutated.
        """
        if self.kind == "retrieval":
            if variant not in (None, self.default_variant):
                raise TaskError(f"task {self.name} has no settings variant {variant!r}")
            assert self.retrieval_settings is not None
            return self.retrieval_settings.with_overrides(overrides)
        chosen_variant = variant or self.default_variant
        if chosen_variant not in self.variants:
            raise TaskError(
                f"task {self.name} has no settings variant {chosen_variant!r}; "
                f"variants: {', '.join(self.variants)}"
            )
        if family not in LLM_FAMILIES:
            raise TaskError(
                f"task {self.name} needs an LLM family, one of {', '.join(LLM_FAMILIES)}; got {family!r}"
            )
        settings = self.variants[chosen_variant][family].with_overrides(overrides)
        if self.kind == "vqa" and settings.prompt.count("{}") != 1:
            raise TaskError(
                f"a {self.name} prompt needs exactly one '{{}}' where the question goes; "
                f"got {settings.prompt!r}"
            )
        return settings

    def to_dict(self) -> dict[str, Any]:
        """JSON description of the task (for ``bench list`` and result records)."""
        description: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "default_split": self.default_split,
            "splits": [spec.to_dict() for spec in self.splits],
            "image_size": self.image_size,
            "metrics": list(self.metrics),
            "scorer": self.scorer.name,
            "prediction_format": self.prediction_format,
            "notes": list(self.notes),
        }
        if self.kind == "retrieval":
            assert self.retrieval_settings is not None
            description["settings"] = self.retrieval_settings.to_dict()
        else:
            description["default_variant"] = self.default_variant
            description["settings"] = {
                variant: {family: s.to_dict() for family, s in by_family.items()}
                for variant, by_family in self.variants.items()
            }
        return description

    # --- data ------------------------------------------------------------------------------------
    def load(
        self,
        data_root: str | os.PathLike[str] | None = None,
        split: str | None = None,
        limit: int | None = None,
        *,
        check_images: bool = True,
        allow_outside_data_root: bool = False,
    ) -> LoadedSplit:
        """Read and check a split (files, fields, ids, image files) before any model runs.

        ``data_root`` None follows the usual precedence ($BLIP2_DATA, then ./data). ``limit`` keeps the
        first N samples (images for retrieval) in file order and only checks their images.
        ``allow_outside_data_root`` accepts image paths in the annotation files that leave the data root.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise TaskError(f"limit must be a positive integer, got {limit!r}")
        spec = self.split(split)
        root = resolve_data_root(data_root) if data_root is None else Path(os.path.abspath(data_root))
        loaded = self.loader(self.name, spec, root, limit)
        if check_images:
            check_image_files(loaded, spec.image_folder, allow_outside_data_root=allow_outside_data_root)
        return loaded

    def prompt_for(self, sample: Sample, settings: GenerationSettings) -> str:
        """The LLM text prompt for a sample: the question preprocessed as BLIP-2 did, put in the prompt."""
        if sample.question is None:
            return settings.format_prompt(None)
        return settings.format_prompt(preprocess_question(sample.question))

    def texts_for_model(self, loaded: RetrievalSplit, settings: RetrievalSettings) -> list[str]:
        """Retrieval captions preprocessed as BLIP-2 did (tokenizer truncation to max_text_tokens is the
        model's job)."""
        return [preprocess_caption(text, settings.max_caption_words) for text in loaded.texts]

    # --- scoring ---------------------------------------------------------------------------------
    def score(self, predictions: Any, loaded: LoadedSplit, **options: Any) -> dict[str, Any]:
        """Score predictions on a loaded split. See :func:`tasks.evaluation.score_with_samples` for the options."""
        return evaluation.score(self, predictions, loaded, **options)

    def score_with_samples(self, predictions: Any, loaded: LoadedSplit, **options: Any
                           ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """:meth:`score` plus the per-sample records. See :func:`tasks.evaluation.score_with_samples`."""
        return evaluation.score_with_samples(self, predictions, loaded, **options)

    def write_submission(self, predictions: Any, loaded: LoadedSplit, path: str | os.PathLike[str]) -> Path:
        """Write the EvalAI submission ``[{"question_id", "answer"}]`` covering every question."""
        return evaluation.write_submission(self, predictions, loaded, path)

    def validate_submission(self, path: str | os.PathLike[str], loaded: LoadedSplit) -> int:
        """Check a submission file covers every question exactly once, with non-empty answers."""
        return evaluation.validate_submission(self, path, loaded)


__all__ = ["GenerationSplit", "Kind", "RetrievalSplit", "SplitSpec", "Task", "frozen_mapping"]
