"""The rows of a run's sample browser: each sample's record from ``samples.jsonl`` joined with its task's data.

A run keeps, per sample, its prediction, its references or answers and its own score (``samples.jsonl``); the
question text and the image file live in the task's annotation files under the data root, so they are read back
with the task's own loader (the same split, with the run's ``--limit``) and joined by sample id. Without the data
root the browser still shows every record, with a note saying what is missing and how to add it.

Each table also carries its *facets*: per sample, which value of each filter it has (its score class, its answer
type or domain, ...). The filter counts the page shows are counted here, in Python, from those codes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tasks
from bench.compare import Record, read_samples, sample_key
from bench.errors import BenchError
from bench.report.inputs import ReportRun, recorded_data_root
from bench.report.retrieval import retrieval_table
from bench.report.rows import CAPTION, RETRIEVAL, VQA, Facet, SampleTable, Thumb, fmt
from bench.runner.folder import SAMPLES
from tasks.errors import TaskInputError
from tasks.splits import GenerationSplit, LoadedSplit, RetrievalSplit


def kind_of(records: Sequence[Record]) -> str | None:
    """Which browser a run gets, read from its records as :func:`bench.compare.changed_samples` reads them."""
    if not records:
        return None
    first = records[0]
    return RETRIEVAL if "rank" in first else CAPTION if "CIDEr" in first else VQA if "accuracy" in first else None


def load_split(run: ReportRun, data_root: Path | None) -> tuple[LoadedSplit | None, str | None]:
    """The run's split as its task reads it, or a note saying why not. An explicit ``--data-root`` that does not
    hold the split is an error; the recorded data root that no longer does is only a note."""
    root = data_root or recorded_data_root(run)
    settings = run.record.get("settings") if isinstance(run.record.get("settings"), dict) else {}
    limit = settings.get("limit") if isinstance(settings.get("limit"), int) else None
    try:
        return tasks.get(run.result.task).load(root, run.result.split, limit, check_images=False), None
    except TaskInputError as exc:
        if data_root is not None:
            raise BenchError(f"--data-root {data_root}: cannot read {run.label} from it ({exc})") from None
        first = str(exc).split(". ")[0]  # the loaders' messages go on with how to get the data; the file is enough
        return None, (f"questions and images are not shown: the data root {root} does not hold this split "
                      f"({first}); pass --data-root DIR to name the one the run used")


@dataclass
class RunSamples:
    """One run's records joined with its loaded split (None without a data root)."""

    run: ReportRun
    records: list[Record] | None
    loaded: LoadedSplit | None
    notes: list[str]

    @classmethod
    def read(cls, run: ReportRun, data_root: Path | None) -> RunSamples:
        records = read_samples(run.folder / SAMPLES)
        if records is None:
            return cls(run, None, None, [f"no {SAMPLES} in {run.folder} (a run made before per-sample records were "
                                         "kept): rerun it with this version of bench run to browse its samples"])
        if kind_of(records) is None:
            return cls(run, None, None, [f"{run.result.task}: its {SAMPLES} records have no score the browser "
                                         "knows (accuracy, CIDEr or rank)"])
        loaded, note = load_split(run, data_root)
        return cls(run, records, loaded, [note] if note else [])

    @property
    def kind(self) -> str | None:
        return kind_of(self.records or [])

    def image_paths(self) -> list[Path]:
        """Every image this run's browser shows, in the order it shows them (thumbnails are made in this order)."""
        if self.loaded is None or self.records is None:
            return []
        if isinstance(self.loaded, RetrievalSplit):
            return list(self.loaded.image_paths)
        by_id = _samples_by_id(self.loaded)
        return [by_id[str(r["id"])].image_path for r in self.records if str(r["id"]) in by_id]

    def table(self, thumb: Thumb) -> SampleTable | None:
        if self.records is None:
            return None
        if self.kind == RETRIEVAL:
            loaded = self.loaded if isinstance(self.loaded, RetrievalSplit) else None
            table = retrieval_table(self.run.folder, self.records, loaded, thumb)
        else:
            loaded = self.loaded if isinstance(self.loaded, GenerationSplit) else None
            build = caption_table if self.kind == CAPTION else vqa_table
            table = build(self.records, loaded, thumb)
            prompt = (self.run.record.get("settings") or {}).get("prompt")
            if isinstance(prompt, str):
                table.header.append(("prompt", prompt))
        table.notes = self.notes + table.notes
        return table


def _samples_by_id(loaded: GenerationSplit) -> dict[str, Any]:
    return {str(sample.sample_id): sample for sample in loaded.samples}


def _joined(records: Sequence[Record], loaded: GenerationSplit | None) -> tuple[list[Any], list[str]]:
    """Each record's loaded sample (None when absent), and a note when some have none."""
    if loaded is None:
        return [None] * len(records), []
    by_id = _samples_by_id(loaded)
    joined = [by_id.get(str(r["id"])) for r in records]
    missing = sum(sample is None for sample in joined)
    notes = [f"{missing} sample(s) are not in the split read from the data root (other annotation files?), so "
             "show no question or image"] if missing else []
    return joined, notes


def _answer_counts(answers: Sequence[Any]) -> list[list[Any]]:
    """VQA's ten human answers as [answer, how many gave it], most given first."""
    return [[str(answer), count] for answer, count in Counter(str(a) for a in answers).most_common()]


def _facet(key: str, label: str, values: Sequence[Any]) -> Facet | None:
    """A facet over a record field (answer type, domain, ...); None when no record has the field."""
    present = sorted({str(v) for v in values if v is not None})
    if not present:
        return None
    index = {value: i for i, value in enumerate(present)}
    return Facet(key, label, tuple(present), [index[str(v)] if v is not None else -1 for v in values])


def vqa_table(records: Sequence[Record], loaded: GenerationSplit | None, thumb: Thumb) -> SampleTable:
    """VQAv2, OK-VQA and GQA: "wrong" is an accuracy of 0; "right" is 100 (every annotator agreed)."""
    joined, notes = _joined(records, loaded)
    rows, classes = [], []
    for record, sample in zip(records, joined, strict=True):
        accuracy = float(record["accuracy"])
        cls = 0 if accuracy == 0 else 2 if accuracy >= 100 else 1
        classes.append(cls)
        row: dict[str, Any] = {"id": f"question {record['id']}", "p": str(record.get("prediction", "")),
                               "s": f"accuracy {fmt(accuracy)}", "sc": ("bad", "mid", "good")[cls]}
        if sample is not None:
            row["th"] = thumb(sample.image_path)
            row["q"] = sample.question or ""
        if "answers" in record:
            row["ans"] = _answer_counts(record["answers"])
        elif "answer" in record:
            row["a1"] = str(record["answer"])
        tags = [str(record[k]) for k in ("answer_type", "question_type") if record.get(k) is not None]
        row["tag"] = " · ".join([f"image {record.get('image', '')}", *tags])
        rows.append(row)
    facets = [Facet("score", "score", ("wrong (accuracy 0)", "partly right (0 < accuracy < 100)",
                                       "right (accuracy 100)"), classes)]
    facets += [f for f in (_facet("answer_type", "answer type", [r.get("answer_type") for r in records]),
                           _facet("question_type", "question type", [r.get("question_type") for r in records]))
               if f is not None]
    columns = [{"key": "q", "label": "question", "type": "text"}, {"key": "p", "label": "prediction", "type": "text"},
               {"key": "ans", "label": "answers", "type": "counts"},
               {"key": "a1", "label": "answer", "type": "text"}]
    return SampleTable(VQA, columns, rows, facets, [sample_key(r) for r in records],
                       [float(r["accuracy"]) for r in records], notes)


def lowest_decile_threshold(ciders: Sequence[float]) -> float:
    """The CIDEr at the lowest decile's edge: the ceil(n/10)-th lowest. A caption at or below it is "wrong"."""
    return sorted(ciders)[max(1, math.ceil(len(ciders) / 10)) - 1]


def caption_table(records: Sequence[Record], loaded: GenerationSplit | None, thumb: Thumb) -> SampleTable:
    """COCO and NoCaps captioning: "wrong" is a caption in its run's lowest CIDEr decile (ties at the edge in)."""
    joined, notes = _joined(records, loaded)
    ciders = [float(r["CIDEr"]) for r in records]
    edge = lowest_decile_threshold(ciders)
    rows, classes = [], []
    for record, sample, cider in zip(records, joined, ciders, strict=True):
        cls = 0 if cider <= edge else 1
        classes.append(cls)
        others = [f"{name} {fmt(float(record[name]))}" for name in ("ROUGE-L", "METEOR")
                  if isinstance(record.get(name), int | float)]
        row: dict[str, Any] = {"id": f"image {record.get('image', record['id'])}",
                               "p": str(record.get("prediction", "")), "refs": [str(c) for c in record["references"]],
                               "s": f"CIDEr {fmt(cider)}", "sc": ("bad", "")[cls], "o": " · ".join(others)}
        if record.get("domain"):
            row["tag"] = str(record["domain"])
        if sample is not None:
            row["th"] = thumb(sample.image_path)
        rows.append(row)
    facets = [Facet("score", "score", (f"wrong: lowest CIDEr decile (CIDEr ≤ {fmt(edge)})", "the other captions"),
                    classes)]
    domain = _facet("domain", "domain", [r.get("domain") for r in records])
    facets += [domain] if domain is not None else []
    columns = [{"key": "p", "label": "prediction", "type": "text"},
               {"key": "o", "label": "scores", "type": "text"},
               {"key": "refs", "label": "references", "type": "list"}]
    return SampleTable(CAPTION, columns, rows, facets, [sample_key(r) for r in records], ciders, notes)

