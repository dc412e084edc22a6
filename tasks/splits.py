"""The runner's uniform view of one loaded (task, split): what to feed the model and what to score against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One generation input, in the split's deterministic order.

    ``sample_id`` keys the prediction (VQA question_id, GQA questionId, caption image_id); ``question``
    is the raw question text (None for captioning); ``domain`` is NoCaps' in/near/out-domain label.
    """

    sample_id: int | str
    image_id: int | str
    image_path: Path
    question: str | None = None
    domain: str | None = None


@dataclass(frozen=True)
class GenerationSplit:
    """A loaded VQA or captioning split.

    ``references`` maps sample id to what the scorer needs: a VQA annotation record, a GQA answer or a
    tuple of reference captions. It is empty when the split has no public answers (VQAv2 test-dev).
    ``total`` is the split's full size; ``len(samples)`` is smaller when a ``limit`` was applied.
    """

    task: str
    split: str
    kind: str
    data_root: Path
    files: tuple[Path, ...]
    samples: tuple[Sample, ...]
    references: Mapping[Any, Any]
    has_answers: bool
    total: int
    limit: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ids(self) -> list[Any]:
        return [sample.sample_id for sample in self.samples]

    def __len__(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class RetrievalSplit:
    """A loaded retrieval split: images, texts (raw) and the ground-truth links between them.

    ``img2txt[i]`` lists the text indices of image ``i``; ``txt2img[t]`` is the image index of text ``t``.
    Score matrices are ``i2t`` [len(image_paths) x len(texts)] and ``t2i`` [len(texts) x len(image_paths)].
    """

    task: str
    split: str
    data_root: Path
    files: tuple[Path, ...]
    image_paths: tuple[Path, ...]
    image_ids: tuple[int | str, ...]
    texts: tuple[str, ...]
    img2txt: tuple[tuple[int, ...], ...]
    txt2img: tuple[int, ...]
    total: int
    limit: int | None = None
    notes: tuple[str, ...] = field(default=())
    kind: str = "retrieval"
    has_answers: bool = True

    def __len__(self) -> int:
        return len(self.image_paths)


LoadedSplit = GenerationSplit | RetrievalSplit
