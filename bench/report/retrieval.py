"""Retrieval rows of the sample browser: each image with its top-5 texts, each text with its top-5 images.

The ranks come from ``samples.jsonl`` (1 = the true match ranked first); the top-5 lists come from the run's
``scores.npz`` (``i2t`` [images x texts] and ``t2i`` [texts x images], the re-ranked scores the ranks were
taken from), ordered as :mod:`tasks.scoring.retrieval` orders a row (``np.argsort(row)[::-1]``), so the true
match sits in the list at the rank the run recorded. "Wrong" is a query whose true match is not ranked first.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.compare import Record, sample_key
from bench.report.rows import RETRIEVAL, Facet, SampleTable, Thumb

TOP = 5
ROWS_PER_SORT = 256  # rows of a score matrix sorted at once (COCO's i2t is 5,000 x 25,000)
SCORES = "scores.npz"


def _top(matrix: np.ndarray) -> np.ndarray:
    """The TOP best columns of every row, best first, in the scorer's own order."""
    parts = [np.argsort(matrix[start:start + ROWS_PER_SORT], axis=1)[:, ::-1][:, :TOP]
             for start in range(0, len(matrix), ROWS_PER_SORT)]
    return np.concatenate(parts) if parts else np.zeros((0, TOP), dtype=np.int64)


def _matrices(folder: Path, n_images: int, n_texts: int) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """``i2t`` and ``t2i`` from the run's scores.npz, or a note saying why the top-5 lists are missing."""
    path = folder / SCORES
    if not path.is_file():
        return None, None, f"no {SCORES} in {folder}, so no top-5 lists (the ranks are shown)"
    try:
        with np.load(path) as scores:
            i2t, t2i = np.asarray(scores["i2t"]), np.asarray(scores["t2i"])
    except (OSError, KeyError, ValueError) as exc:
        return None, None, f"{path} cannot be read ({exc}), so no top-5 lists (the ranks are shown)"
    if i2t.shape != (n_images, n_texts) or t2i.shape != (n_texts, n_images):
        return None, None, (f"{path} holds i2t {i2t.shape} and t2i {t2i.shape}, but {SCORES}'s run has {n_images} "
                            f"images and {n_texts} texts, so no top-5 lists (the ranks are shown)")
    return i2t, t2i, None


def retrieval_table(folder: Path, records: Sequence[Record], loaded: Any, thumb: Thumb) -> SampleTable:
    """Image queries first, then text queries, as ``samples.jsonl`` lists them. ``loaded`` (the split read from
    the data root, or None) gives the image files; its ids must match the run's gallery to be used."""
    images = sorted((r for r in records if r.get("query") == "image"), key=lambda r: r.get("index", 0))
    texts = sorted((r for r in records if r.get("query") == "text"), key=lambda r: r["id"])
    notes: list[str] = []
    index_of = {json.dumps(r["id"]): i for i, r in enumerate(images)}
    text_list = [str(r.get("text", "")) for r in texts]
    true_texts: dict[str, list[int]] = defaultdict(list)
    for t, record in enumerate(texts):
        true_texts[json.dumps(record.get("image"))].append(t)
    paths: list[Path | None] = [None] * len(images)
    if loaded is not None:
        if [json.dumps(i) for i in loaded.image_ids] == [json.dumps(r["id"]) for r in images]:
            paths = list(loaded.image_paths)
        else:
            notes.append("the split read from the data root has other image ids than the run, so no images are "
                         "shown")
    i2t, t2i, note = _matrices(folder, len(images), len(texts))
    notes += [note] if note else []
    top_i2t = _top(i2t) if i2t is not None else None
    top_t2i = _top(t2i) if t2i is not None else None

    rows: list[dict[str, Any]] = []
    for i, record in enumerate(images):
        mine = true_texts.get(json.dumps(record["id"]), [])
        row = _ranked_row(f"image {record['id']}", record["rank"], thumb(paths[i]))
        row["truth_t"] = [text_list[t] for t in mine]
        if top_i2t is not None and i2t is not None:
            row["top_t"] = [[text_list[t], None, t in mine, round(float(i2t[i, t]), 3)] for t in top_i2t[i]]
        rows.append(row)
    for t, record in enumerate(texts):
        true_image = index_of.get(json.dumps(record.get("image")))
        row = _ranked_row(f"text {record['id']}", record["rank"], thumb(paths[true_image])
                          if true_image is not None else None)
        row["q"] = text_list[t]
        row["thl"] = "its image"
        if top_t2i is not None and t2i is not None:
            row["top_i"] = [[f"image {images[j]['id']}", thumb(paths[j]), int(j) == true_image,
                             round(float(t2i[t, j]), 3)] for j in top_t2i[t]]
        rows.append(row)
    ordered = images + texts
    facets = [
        Facet("score", "score", ("wrong: true match not ranked first", "true match ranked first"),
              [0 if r["rank"] > 1 else 1 for r in ordered]),
        Facet("query", "query", ("image queries (image → text, TR@K)", "text queries (text → image, IR@K)"),
              [0] * len(images) + [1] * len(texts)),
    ]
    columns = [{"key": "q", "label": "query text", "type": "text"},
               {"key": "top_t", "label": "top 5 texts", "type": "ranked"},
               {"key": "truth_t", "label": "true captions", "type": "list"},
               {"key": "top_i", "label": "top 5 images", "type": "ranked"}]
    header = [("top 5", "✓ marks a true match (one of the image's own captions, or the text's own image); the "
                        "small number is the run's re-ranked score from scores.npz")]
    return SampleTable(RETRIEVAL, columns, rows, facets, [sample_key(r) for r in ordered],
                       [float(r["rank"]) for r in ordered], notes, header)


def _ranked_row(title: str, rank: int, thumbnail: str | None) -> dict[str, Any]:
    return {"id": title, "th": thumbnail, "s": f"rank {rank}", "sc": "good" if rank == 1 else "bad"}
