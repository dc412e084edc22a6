"""Prediction files that ``bench score`` reads, and writers for them.

VQA ``[{"question_id": int, "answer": str}]``; GQA ``[{"questionId": str, "prediction": str}]`` (official)
or the VQA form; captions ``[{"image_id": int, "caption": str}]``; retrieval an ``.npz`` holding score
matrices ``i2t`` [images x texts] and ``t2i`` [texts x images]. Readers reject duplicate ids and
wrong types, naming the entry; coverage of the split is checked when scoring.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tasks.atomic import atomic_write
from tasks.errors import PredictionError
from tasks.formats.common import JsonFile, format_ids, write_json

VQA_LAYOUT = 'VQA predictions [{"question_id": int, "answer": str}, ...]'
GQA_LAYOUT = (
    'GQA predictions [{"questionId": str, "prediction": str}, ...] (official) or '
    '[{"question_id": str|int, "answer": str}, ...]'
)
CAPTION_LAYOUT = 'caption predictions [{"image_id": int, "caption": str}, ...]'
RETRIEVAL_LAYOUT = "an .npz file with float arrays i2t [images x texts] and t2i [texts x images]"


def parse_prediction_records(
    records: Any,
    *,
    forms: Sequence[tuple[str, str]],
    id_types: tuple[type, ...],
    layout: str,
    source: str = "predictions",
) -> dict[Any, Any]:
    """Turn ``[{id_key: id, text_key: text}]`` into ``{id: text}``, rejecting bad entries and duplicates.

    ``forms`` lists the accepted (id key, text key) pairs, e.g. GQA's official and VQA-style keys. Ids
    of GQA are strings; integer ids are converted when ``str`` is the first accepted id type.
    """
    file = JsonFile(source, layout, error=PredictionError)
    file.expect(records, list, "top level")
    parsed: dict[Any, Any] = {}
    duplicates: list[Any] = []
    for index, item in enumerate(records):
        where = f"entry {index}"
        file.expect(item, dict, where)
        form = next((f for f in forms if f[0] in item), None)
        if form is None:
            wanted = " or ".join(f"'{k}'" for k, _ in forms)
            file.fail(
                where, f"has no id field {wanted} (fields present: {', '.join(map(str, item)) or 'none'})"
            )
        id_key, text_key = form
        sample_id = file.field(item, id_key, id_types, where)
        if id_types[0] is str:
            sample_id = str(sample_id)
        if text_key not in item:
            file.fail(f"{where} ({id_key}={sample_id!r})", f"field '{text_key}' is missing")
        text = file.expect(item[text_key], str, f"{where} ({id_key}={sample_id!r}).{text_key}")
        if sample_id in parsed:
            duplicates.append(sample_id)
        parsed[sample_id] = text
    if duplicates:
        raise PredictionError(
            f"{source}: duplicate prediction id(s) {format_ids(duplicates)}; each id must appear once"
        )
    return parsed


def _read_records(path: str | os.PathLike[str], layout: str) -> Any:
    return JsonFile(path, layout, error=PredictionError).load()


def read_vqa_predictions(path: str | os.PathLike[str]) -> dict[int, str]:
    """``{question_id: answer}`` from a VQA results file."""
    return parse_prediction_records(
        _read_records(path, VQA_LAYOUT),
        forms=[("question_id", "answer")],
        id_types=(int,),
        layout=VQA_LAYOUT,
        source=str(path),
    )


def read_gqa_predictions(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{questionId: prediction}`` from a GQA results file (official or VQA-style keys)."""
    return parse_prediction_records(
        _read_records(path, GQA_LAYOUT),
        forms=[("questionId", "prediction"), ("question_id", "answer")],
        id_types=(str, int),
        layout=GQA_LAYOUT,
        source=str(path),
    )


def read_caption_predictions(path: str | os.PathLike[str]) -> dict[int, str]:
    """``{image_id: caption}`` from a COCO-style caption results file."""
    return parse_prediction_records(
        _read_records(path, CAPTION_LAYOUT),
        forms=[("image_id", "caption")],
        id_types=(int,),
        layout=CAPTION_LAYOUT,
        source=str(path),
    )


def write_caption_results(path: str | os.PathLike[str], captions: Mapping[int, str]) -> Path:
    """Write ``[{"image_id", "caption"}]``, the COCO caption results format."""
    return write_json(path, [{"image_id": i, "caption": c} for i, c in captions.items()])


def _read_npz(path: Path, expected: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``; a missing or unreadable file is an error that says what was `expected`."""
    if not path.is_file():
        raise PredictionError(f"missing file {path}. Expected {expected}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise PredictionError(f"{path}: not a readable .npz ({exc}). Expected {expected}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):  # np.load reads a .npy as one bare array
        raise PredictionError(
            f"{path}: a single .npy array, not an .npz archive of named arrays. Save the scores with "
            f"numpy.savez (e.g. np.savez('scores.npz', i2t=i2t, t2i=t2i)). Expected {expected}"
        )
    try:
        with loaded as archive:
            return {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise PredictionError(f"{path}: not a readable .npz ({exc}). Expected {expected}") from None


def read_retrieval_scores(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Load and check ``i2t`` / ``t2i`` from an ``.npz``: present, 2-D, numeric, finite."""
    path = Path(path)
    arrays = _read_npz(path, RETRIEVAL_LAYOUT)
    return check_score_matrices(arrays.get("i2t"), arrays.get("t2i"), source=str(path), found=list(arrays))


def read_itc_scores(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(i2t, t2i) from the raw ``itc`` similarity matrix [images x texts] of a run's ``scores.npz``: the
    ranking before ITM re-ranking, to see what the re-ranking adds."""
    path = Path(path)
    arrays = _read_npz(path, "a run's scores.npz with an 'itc' array")
    itc = arrays.get("itc")
    if itc is None:
        raise PredictionError(f"{path}: array 'itc' is missing (arrays present: {', '.join(arrays) or 'none'}); "
                              "`bench run` writes it to every retrieval run's scores.npz")
    itc = np.asarray(itc)
    if itc.ndim != 2:
        raise PredictionError(f"{path}: array 'itc' must be 2-D [images x texts], got shape {itc.shape}")
    return check_score_matrices(itc, itc.T, source=f"{path} (itc)")


def check_score_matrices(
    i2t: Any, t2i: Any, *, source: str = "retrieval scores", found: Iterable[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two score matrices (also for in-memory scores handed over by the runner)."""
    checked = []
    for key, value in (("i2t", i2t), ("t2i", t2i)):
        if value is None:
            present = f" (arrays present: {', '.join(found) or 'none'})" if found is not None else ""
            raise PredictionError(f"{source}: array '{key}' is missing{present}. Expected {RETRIEVAL_LAYOUT}")
        array = np.asarray(value)
        if array.ndim != 2:
            raise PredictionError(
                f"{source}: array '{key}' must be 2-D, got shape {array.shape}. Expected {RETRIEVAL_LAYOUT}"
            )
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise PredictionError(f"{source}: array '{key}' must be numeric, got dtype {array.dtype}")
        array = array.astype(np.float64, copy=False)
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            row, col = (int(x) for x in bad[0])
            nans = int(np.isnan(array).sum())
            kind = "NaN" if nans == len(bad) else "inf" if nans == 0 else "non-finite (NaN or inf)"
            raise PredictionError(
                f"{source}: array '{key}' holds {len(bad)} {kind} score(s), first at [{row}, {col}] = "
                f"{array[row, col]}; every image-text pair needs a finite score. "
                "Recompute the scores (an overflow in fp16 gives inf), or mask with a large finite value"
            )
        checked.append(array)
    return checked[0], checked[1]


def write_retrieval_scores(path: str | os.PathLike[str], i2t: Any, t2i: Any, **extra: Any) -> Path:
    """Write ``i2t`` / ``t2i`` (and any ``extra`` arrays, e.g. the raw ``itc``) to an ``.npz`` atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, i2t=np.asarray(i2t), t2i=np.asarray(t2i), **{k: np.asarray(v) for k, v in extra.items()})
    data = buffer.getvalue()
    return atomic_write(path, lambda handle: handle.write(data))
