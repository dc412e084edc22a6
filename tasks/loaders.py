"""Build a :class:`~tasks.splits.LoadedSplit` from the official files under the data root.

Everything a split needs is checked here, before any model runs: the files parse and have the right
fields, every question has its answers, and (:func:`check_image_files`) every image the (possibly
``limit``-ed) split uses is a file inside the data root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.errors import DataError
from tasks.formats import gqa, karpathy, lavis_json, nocaps, vqa
from tasks.formats.common import format_ids
from tasks.sources import DATA_ROOT_HINT, where_published
from tasks.splits import GenerationSplit, LoadedSplit, RetrievalSplit, Sample

if TYPE_CHECKING:
    from tasks.task import SplitSpec


def expected(root: Path, relpath: str, layout: str) -> str:
    """The 'Expected ...' part of an error: format, exact location, where to get it, data-root rule."""
    return f"{layout}, at {root / relpath}. {where_published(relpath)} {DATA_ROOT_HINT}"


def _take(items: list, limit: int | None) -> list:
    return items if limit is None else items[:limit]


def check_image_files(
    loaded: LoadedSplit, folder: str, *, allow_outside_data_root: bool = False
) -> None:
    """Fail, before any model runs, on image paths that leave the data root, are folders, or are missing.

    An annotation file's image path that is absolute or climbs out with ``..`` would make a run read
    files the data root does not hold; it is refused unless the user allows it. The test is on the path as
    written, so a folder inside the data root that is a symlink to elsewhere stays fine.
    """
    root = loaded.data_root
    paths = loaded.image_paths if isinstance(loaded, RetrievalSplit) else [s.image_path for s in loaded.samples]
    unique = list(dict.fromkeys(paths))
    where = f"{loaded.task} {loaded.split}"
    named_in = ", ".join(str(f) for f in loaded.files)
    if not allow_outside_data_root:
        outside = [p for p in unique if not Path(os.path.normpath(p)).is_relative_to(os.path.normpath(root))]
        if outside:
            raise DataError(
                f"{where}: {len(outside)} image path(s) in {named_in} leave the data root {root} (an absolute "
                f"path or '..'), e.g. {format_ids([str(p) for p in outside], limit=3)}. Fix the annotation file "
                f"to name images under {root / folder}/, or, if you trust it, pass --allow-outside-data-root"
            )
    folders = [p for p in unique if p.is_dir()]
    if folders:
        raise DataError(
            f"{where}: {len(folders)} image path(s) in {named_in} are directories, not image files, e.g. "
            f"{format_ids([str(p) for p in folders], limit=3)}. Fix the annotation file or the image folder "
            f"{root / folder}/"
        )
    missing = [path for path in unique if not path.is_file()]
    if missing:
        raise DataError(
            f"{where}: {len(missing)} of {len(unique)} image file(s) missing, e.g. "
            f"{format_ids([str(p) for p in missing], limit=3)}. Expected the images under {root / folder}/. "
            f"{where_published(folder)} {DATA_ROOT_HINT}"
        )


def load_vqa(
    task: str, spec: SplitSpec, root: Path, limit: int | None
) -> GenerationSplit:
    """VQAv2 / OK-VQA: questions (+ annotations when the split has answers), COCO images by image_id."""
    questions_rel = spec.files["questions"]
    questions_path = root / questions_rel
    questions = vqa.read_vqa_questions(questions_path, expected(root, questions_rel, vqa.QUESTIONS_LAYOUT))
    files = [questions_path]
    references: dict[int, dict] = {}
    if spec.has_answers:
        annotations_rel = spec.files["annotations"]
        annotations_path = root / annotations_rel
        annotations = vqa.read_vqa_annotations(
            annotations_path, expected(root, annotations_rel, vqa.ANNOTATIONS_LAYOUT)
        )
        files.append(annotations_path)
        missing = [q.question_id for q in questions if q.question_id not in annotations]
        if missing:
            raise DataError(
                f"{annotations_path}: no annotation for question_id(s) {format_ids(missing)} of "
                f"{questions_path.name}; the two files must come from the same release. "
                f"Expected {expected(root, annotations_rel, vqa.ANNOTATIONS_LAYOUT)}"
            )
        mismatched = [
            q.question_id for q in questions if annotations[q.question_id]["image_id"] != q.image_id
        ]
        if mismatched:
            raise DataError(
                f"{annotations_path}: image_id differs from {questions_path.name} for question_id(s) "
                f"{format_ids(mismatched)}; the two files must come from the same release"
            )
    folder = spec.image_folder
    prefix = spec.options["image_prefix"]
    samples = tuple(
        Sample(q.question_id, q.image_id, root / folder / f"{prefix}{q.image_id:012d}.jpg", q.question)
        for q in _take(questions, limit)
    )
    if spec.has_answers:
        references = {s.sample_id: annotations[s.sample_id] for s in samples}
    return GenerationSplit(
        task,
        spec.name,
        "vqa",
        root,
        tuple(files),
        samples,
        references,
        spec.has_answers,
        len(questions),
        limit,
    )


def load_gqa(
    task: str, spec: SplitSpec, root: Path, limit: int | None
) -> GenerationSplit:
    """GQA: the balanced questions file keyed by questionId; images by imageId."""
    rel = spec.files["questions"]
    path = root / rel
    questions = list(gqa.read_gqa_questions(path, layout=expected(root, rel, gqa.QUESTIONS_LAYOUT)).values())
    folder = spec.image_folder
    samples = tuple(
        Sample(q.question_id, q.image_id, root / folder / f"{q.image_id}.jpg", q.question)
        for q in _take(questions, limit)
    )
    answers = {q.question_id: q.answer for q in questions}
    references = {s.sample_id: answers[s.sample_id] for s in samples}
    return GenerationSplit(
        task, spec.name, "vqa", root, (path,), samples, references, True, len(questions), limit
    )


def load_nocaps(
    task: str, spec: SplitSpec, root: Path, limit: int | None
) -> GenerationSplit:
    """NoCaps: COCO-style captions file with a domain per image."""
    rel = spec.files["captions"]
    path = root / rel
    images, captions = nocaps.read_nocaps(path, expected(root, rel, nocaps.LAYOUT))
    folder = spec.image_folder
    samples = tuple(
        Sample(image.image_id, image.image_id, root / folder / image.file_name, None, image.domain)
        for image in _take(images, limit)
    )
    references = {s.sample_id: tuple(captions[s.sample_id]) for s in samples}
    return GenerationSplit(
        task, spec.name, "caption", root, (path,), samples, references, True, len(images), limit
    )


def _karpathy_or_lavis(
    spec: SplitSpec, root: Path
) -> tuple[Path, list[tuple[int | str, str, tuple[str, ...]]], tuple[str, ...]]:
    """Images of a Karpathy split as (image id, path relative to the image folder, raw captions).

    The Karpathy file wins when present (it is the original); the LAVIS JSON is used only without it,
    and the result notes which file was read.
    """
    karpathy_rel = spec.files["karpathy"]
    lavis_rel = spec.alternative_files["lavis"]
    coco = spec.options["coco"]
    karpathy_path, lavis_path = root / karpathy_rel, root / lavis_rel
    if karpathy_path.exists() or not lavis_path.exists():
        layout = expected(root, karpathy_rel, karpathy.LAYOUT) + (
            f" (or the LAVIS file {lavis_path}: {where_published(lavis_rel)})"
        )
        images = karpathy.read_karpathy(
            karpathy_path, split=spec.options["karpathy_split"], coco=coco, layout=layout
        )
        rows = [
            (
                image.cocoid if coco else image.filename,
                f"{image.filepath}/{image.filename}" if coco else image.filename,
                image.sentences,
            )
            for image in images
        ]
        return karpathy_path, rows, ()
    entries = lavis_json.read_lavis_captions(lavis_path, expected(root, lavis_rel, lavis_json.LAYOUT))
    rows = []
    for index, entry in enumerate(entries):
        if coco:
            if entry.coco_id is None:
                raise DataError(
                    f"{lavis_path}: [{index}].image {entry.image!r} has no COCO id at the end of its name. "
                    f"Expected {expected(root, lavis_rel, lavis_json.LAYOUT)}"
                )
            rows.append((entry.coco_id, entry.image, entry.captions))
        else:
            # LAVIS names Flickr images 'flickr30k-images/<file>'; our folder holds the files directly.
            rows.append((Path(entry.image).name, Path(entry.image).name, entry.captions))
    note = f"read the LAVIS annotation file {lavis_path} because {karpathy_path} is absent"
    return lavis_path, rows, (note,)


def load_karpathy_captions(
    task: str, spec: SplitSpec, root: Path, limit: int | None
) -> GenerationSplit:
    """COCO Karpathy caption splits, keyed by COCO image id."""
    path, rows, notes = _karpathy_or_lavis(spec, root)
    duplicates = [image_id for image_id, n in _counts(r[0] for r in rows).items() if n > 1]
    if duplicates:
        raise DataError(
            f"{path}: image id(s) {format_ids(duplicates)} appear more than once in split {spec.name}"
        )
    folder = spec.image_folder
    samples = tuple(
        Sample(image_id, image_id, root / folder / rel) for image_id, rel, _ in _take(rows, limit)
    )
    captions = {image_id: refs for image_id, _, refs in rows}
    references = {s.sample_id: captions[s.sample_id] for s in samples}
    return GenerationSplit(
        task, spec.name, "caption", root, (path,), samples, references, True, len(rows), limit, notes
    )


def load_karpathy_retrieval(
    task: str, spec: SplitSpec, root: Path, limit: int | None
) -> RetrievalSplit:
    """COCO 5K / Flickr30k 1K retrieval: every caption of every image, with the links between them."""
    path, rows, notes = _karpathy_or_lavis(spec, root)
    folder = spec.image_folder
    kept = _take(rows, limit)
    texts: list[str] = []
    img2txt: list[tuple[int, ...]] = []
    txt2img: list[int] = []
    for image_index, (_, _, captions) in enumerate(kept):
        img2txt.append(tuple(range(len(texts), len(texts) + len(captions))))
        texts.extend(captions)
        txt2img.extend([image_index] * len(captions))
    image_paths = tuple(root / folder / rel for _, rel, _ in kept)
    return RetrievalSplit(
        task=task,
        split=spec.name,
        data_root=root,
        files=(path,),
        image_paths=image_paths,
        image_ids=tuple(image_id for image_id, _, _ in kept),
        texts=tuple(texts),
        img2txt=tuple(img2txt),
        txt2img=tuple(txt2img),
        total=len(rows),
        limit=limit,
        notes=notes,
    )


def _counts(values: Iterable) -> dict:
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
