"""Caption metrics on bootstrap resamples of images: BLEU-1..4, CIDEr-D and ROUGE-L, overall and per NoCaps domain.

The unit is an image with all its reference captions. A resample that draws image i ``w_i`` times must give
what pycocoevalcap would give on a data set holding ``w_i`` copies of it (that is what a bootstrap resample
*is*), so each metric is recomputed the way the official code aggregates:

* **BLEU** (``BleuScorer.compute_score``, option "closest") is a corpus metric: candidate lengths, closest
  reference lengths, n-gram guesses and clipped matches are summed over images, then combined (with its
  ``tiny``/``small`` guards and the brevity penalty). The per-image statistics come from pycocoevalcap's own
  cooking (:func:`tasks.scoring.caption.bleu_image_stats`), so only the weighted sums and the combination live
  here.
* **CIDEr-D** depends on the whole set through its document frequencies: see :mod:`tasks.stats.caption_cider`.
* **ROUGE-L** is the mean of per-image scores.
* **METEOR** is a corpus metric of the jar's summed per-image statistics: see :mod:`tasks.stats.meteor`.

NoCaps scores each domain on its own (its own CIDEr document frequencies and ``ref_len``), so each domain's
metrics are recomputed from that domain's images in the resample; a resample that draws none of them gives NaN,
which the percentile interval leaves out.

Per-image inputs are read from the per-sample records a run keeps (``samples.jsonl``), written by
:func:`caption_records` from the scorers' outputs (:class:`tasks.scoring.caption.CaptionScores`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tasks.errors import TaskInputError
from tasks.stats.caption_cider import CiderD, ngram_counts
from tasks.stats.meteor import STATS as METEOR_STATS
from tasks.stats.meteor import meteor_from_sums
from tasks.stats.resample import MetricPath

BLEU_ORDER = 4
# BleuScorer.compute_score's guards (local variables there, so they cannot be imported): "tiny" keeps a zero
# match count from giving log(0), "small" keeps a zero guess count from dividing by zero
BLEU_TINY = 1e-15
BLEU_SMALL = 1e-9
BLEU_METRICS: tuple[str, ...] = tuple(f"BLEU-{k}" for k in range(1, BLEU_ORDER + 1))
METRICS: tuple[str, ...] = (*BLEU_METRICS, "CIDEr", "ROUGE-L")
UNIT_LABEL = "image, with all its reference captions"
DOMAIN_PATH = "by_domain"


def corpus_bleu(totals: np.ndarray) -> np.ndarray:
    """BLEU-1..4 (x1) from summed statistics ``[rows, 2 + 2 * 4]`` (testlen, reflen, guesses, matches).

    The same arithmetic, in the same order, as ``BleuScorer.compute_score`` applies to its totals.
    """
    totals = np.asarray(totals, dtype=np.float64)
    testlen, reflen = totals[:, 0], totals[:, 1]
    guess, correct = totals[:, 2:2 + BLEU_ORDER], totals[:, 2 + BLEU_ORDER:]
    out = np.empty((len(totals), BLEU_ORDER))
    product = np.ones(len(totals))
    for k in range(BLEU_ORDER):
        product = product * ((correct[:, k] + BLEU_TINY) / (guess[:, k] + BLEU_SMALL))
        out[:, k] = product ** (1.0 / (k + 1))
    ratio = (testlen + BLEU_TINY) / (reflen + BLEU_SMALL)
    brevity = np.exp(1 - 1 / np.where(ratio < 1, ratio, 1.0))  # exactly 1 where the official code skips it
    return out * brevity[:, None]


def _bleu_row(stats: Mapping[str, Any]) -> list[float]:
    guess, correct = list(stats["guess"]), list(stats["correct"])
    if len(guess) != BLEU_ORDER or len(correct) != BLEU_ORDER:
        raise ValueError(f"BLEU guess and correct need {BLEU_ORDER} counts each")
    return [float(stats["testlen"]), float(stats["reflen"]), *map(float, guess), *map(float, correct)]


class CaptionStatistic:
    """BLEU-1..4, CIDEr-D and ROUGE-L (x100) of a captioning run, recomputable on bootstrap weights of its images.

    ``keys`` name the images (the units), ``candidates`` and ``references`` are PTB-tokenized (tokens joined by
    spaces, as pycocoevalcap consumes them), ``rouge_l`` is each image's ROUGE-L x100. ``bleu`` is each image's
    BLEU statistics (``{"testlen", "reflen", "guess", "correct"}``, see
    :class:`tasks.scoring.caption.CaptionScores`); when absent they are cooked here by pycocoevalcap.
    ``domains`` (NoCaps) adds ``("by_domain", domain, metric)`` paths, each domain scored on its own.
    ``meteor`` is each image's 23 METEOR statistics (:func:`tasks.stats.meteor.parse_stats`); with them the
    statistic gives METEOR too.
    """

    unit_label = UNIT_LABEL

    def __init__(self, keys: Sequence[str], candidates: Sequence[str], references: Sequence[Sequence[str]],
                 rouge_l: Sequence[float], *, bleu: Sequence[Mapping[str, Any]] | None = None,
                 domains: Sequence[str] | None = None, meteor: Sequence[Sequence[float]] | None = None) -> None:
        n = len(keys)
        lengths = {"candidates": len(candidates), "references": len(references), "rouge_l": len(rouge_l)}
        if bleu is not None:
            lengths["bleu"] = len(bleu)
        if domains is not None:
            lengths["domains"] = len(domains)
        if meteor is not None:
            lengths["meteor"] = len(meteor)
        for name, size in lengths.items():
            if size != n:
                raise ValueError(f"{n} image keys but {size} {name}")
        if n == 0:
            raise ValueError("no images to score")
        if len(set(keys)) != n:
            repeated = sorted(k for k, count in Counter(keys).items() if count > 1)[:3]
            raise ValueError(f"image keys must be unique; repeated: {repeated}")
        for key, refs in zip(keys, references, strict=True):
            if not refs:
                raise ValueError(f"image {key!r} has no reference captions")
        self.units: dict[str, tuple[str, ...]] = {"image": tuple(keys)}
        if bleu is None:
            from tasks.scoring.caption import bleu_image_stats

            cooked = bleu_image_stats({i: list(refs) for i, refs in enumerate(references)},
                                      {i: [cand] for i, cand in enumerate(candidates)})
            bleu = [cooked[i] for i in range(n)]
        self._bleu = np.asarray([_bleu_row(stats) for stats in bleu], dtype=np.float64)
        self._rouge = np.asarray(rouge_l, dtype=np.float64)
        self._meteor = None if meteor is None else np.asarray(meteor, dtype=np.float64).reshape(n, METEOR_STATS)
        cand_counts = [ngram_counts(c) for c in candidates]
        ref_counts = [[ngram_counts(r) for r in refs] for refs in references]
        # (path prefix, image columns or None for all, CIDEr-D of those images)
        self._groups: list[tuple[MetricPath, np.ndarray | None, CiderD]] = [((), None, CiderD(cand_counts,
                                                                                           ref_counts))]
        for domain in sorted(set(domains or ())):
            columns = np.flatnonzero(np.asarray([d == domain for d in domains]))  # type: ignore[union-attr]
            cider = CiderD([cand_counts[i] for i in columns], [ref_counts[i] for i in columns])
            self._groups.append(((DOMAIN_PATH, domain), columns, cider))
        self._point: dict[MetricPath, float] | None = None

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> CaptionStatistic:
        """Build from per-image records (``samples.jsonl`` lines, as :func:`caption_records` writes them)."""
        keys: list[str] = []
        candidates: list[str] = []
        references: list[list[str]] = []
        rouge: list[float] = []
        bleu: list[Mapping[str, Any]] = []
        domains: list[str | None] = []
        meteor: list[Any] = []
        for position, record in enumerate(records, start=1):
            try:
                tokens = record["tokens"]
                key, cand, refs = record["image"], tokens["prediction"], list(tokens["references"])
                stats, score = record["BLEU"], float(record["ROUGE-L"])
                _bleu_row(stats)
                domain = record.get("domain")
                if not isinstance(key, str) or not isinstance(cand, str) or not all(isinstance(r, str) for r in refs):
                    raise ValueError("'image', 'tokens.prediction' and 'tokens.references' must be strings")
                if not refs:
                    raise ValueError("it has no tokenized references")
                if domain is not None and not isinstance(domain, str):
                    raise ValueError("'domain' must be a string")
                meteor_stats = record.get("METEOR_stats")
                if meteor_stats is not None and (not isinstance(meteor_stats, list)
                                                 or len(meteor_stats) != METEOR_STATS):
                    raise ValueError(f"'METEOR_stats' must be a list of {METEOR_STATS} numbers")
            except (KeyError, TypeError, ValueError) as exc:
                what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                label = record.get("id", "?") if isinstance(record, Mapping) else "?"
                raise TaskInputError(f"caption sample record {position} (id {label!r}): {what}; "
                                     "re-run the evaluation to rewrite the per-sample records") from None
            keys.append(key)
            candidates.append(cand)
            references.append(refs)
            rouge.append(score)
            bleu.append(stats)
            domains.append(domain)
            meteor.append(meteor_stats)
        if not keys:
            raise TaskInputError("no caption sample records to build intervals from")
        labelled = [d is not None for d in domains]
        if any(labelled) and not all(labelled):
            missing = keys[labelled.index(False)]
            raise TaskInputError(f"caption sample records mix images with and without a 'domain' (image "
                                 f"{missing!r} has none); re-run the evaluation to rewrite the per-sample records")
        try:
            return cls(keys, candidates, references, rouge, bleu=bleu,
                       domains=[str(d) for d in domains] if all(labelled) else None,
                       meteor=meteor if all(m is not None for m in meteor) else None)
        except ValueError as exc:
            raise TaskInputError(f"caption sample records: {exc}") from None

    def point(self) -> dict[MetricPath, float]:
        """Every metric at unit weights: what pycocoevalcap gives on the run's images (x100)."""
        if self._point is None:
            ones = np.ones((1, len(self.units["image"])))
            self._point = {path: float(values[0]) for path, values in self.values({"image": ones}).items()}
        return dict(self._point)

    def values(self, weights: Mapping[str, np.ndarray]) -> dict[MetricPath, np.ndarray]:
        """Every metric (x100) on each row of image weights ``[resamples, images]``: ``{path: [resamples]}``."""
        all_weights = np.asarray(weights["image"], dtype=np.float64)
        if all_weights.ndim != 2 or all_weights.shape[1] != len(self.units["image"]):
            raise ValueError(f"image weights must be [resamples, {len(self.units['image'])}], "
                             f"got {all_weights.shape}")
        out: dict[MetricPath, np.ndarray] = {}
        for prefix, columns, cider in self._groups:
            w = all_weights if columns is None else all_weights[:, columns]
            bleu_stats = self._bleu if columns is None else self._bleu[columns]
            rouge = self._rouge if columns is None else self._rouge[columns]
            total = w.sum(axis=1)
            empty = total <= 0
            bleu = 100 * corpus_bleu(w @ bleu_stats)
            bleu[empty] = np.nan
            for k, name in enumerate(BLEU_METRICS):
                out[(*prefix, name)] = bleu[:, k]
            out[(*prefix, "CIDEr")] = 100 * cider.corpus(w)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[(*prefix, "ROUGE-L")] = np.where(empty, np.nan, (w @ rouge) / np.where(empty, 1.0, total))
            if self._meteor is not None:
                meteor = self._meteor if columns is None else self._meteor[columns]
                out[(*prefix, "METEOR")] = np.where(empty, np.nan, 100 * meteor_from_sums(w @ meteor))
        return out


def caption_records(
    ids: Sequence[Hashable],
    predictions: Mapping[Hashable, str],
    references: Mapping[Hashable, Sequence[str]],
    gts_tok: Mapping[Hashable, Sequence[str]],
    res_tok: Mapping[Hashable, Sequence[str]],
    per_image: Mapping[str, Mapping[Hashable, Any]],
    *,
    domains: Mapping[Hashable, str] | None = None,
    images: Mapping[Hashable, str] | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready record per id (in ``ids`` order): the ``samples.jsonl`` lines of a captioning run.

    ``gts_tok``/``res_tok`` are the PTB-tokenized references and one-element candidate lists that were scored,
    ``per_image`` is :attr:`tasks.scoring.caption.CaptionScores.per_image` of that scoring, ``domains`` NoCaps'
    domain of each id, ``images`` the unit key of each id (default ``str(id)``). Each record holds ``id``,
    ``image``, ``prediction``, ``references``, ``tokens`` ``{"prediction", "references"}``, ``CIDEr``,
    ``ROUGE-L``, ``BLEU`` ``{"testlen", "reflen", "guess", "correct"}``, ``METEOR`` with ``METEOR_stats`` (the
    jar's 23 statistics) and ``SPICE`` when scored,
    and ``domain`` when given; :meth:`CaptionStatistic.from_records` reads them back.
    """
    records = []
    for key in ids:
        tokens = res_tok[key]
        if len(tokens) != 1:
            raise ValueError(f"id {key!r} must have exactly one tokenized candidate, got {len(tokens)}")
        record: dict[str, Any] = {
            "id": key,
            "image": str(key) if images is None else images[key],
            "prediction": predictions[key],
            "references": list(references[key]),
            "tokens": {"prediction": tokens[0], "references": list(gts_tok[key])},
            "CIDEr": per_image["CIDEr"][key],
            "ROUGE-L": per_image["ROUGE-L"][key],
            "BLEU": dict(per_image["BLEU"][key]),
        }
        for extra in ("METEOR", "SPICE"):
            if extra in per_image:
                value = per_image[extra][key]
                record[extra] = None if value is None or math.isnan(value) else value
        if "METEOR_stats" in per_image:
            record["METEOR_stats"] = list(per_image["METEOR_stats"][key])
        if domains is not None:
            record["domain"] = domains[key]
        records.append(record)
    return records
