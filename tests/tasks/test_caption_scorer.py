"""Caption metrics equal pycocoevalcap's scorers on the same tokenised input.

Java is slow to start (METEOR ~8 s), so one module fixture starts a single METEOR and every
Java-backed check reads from it.
"""

from __future__ import annotations

import shutil
import threading
import types

import pytest

from tasks.scoring import caption
from tasks.scoring.caption import (
    METRIC_KEYS,
    SPICE_JARS,
    caption_metrics,
    score_tokenized,
    spice_unavailable_reason,
    tokenize_captions,
)

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="Java is not installed")


REFS = {
    391895: ["A man with a red helmet on a small moped on a dirt road.",
             "Man riding a motor bike on a dirt road on the countryside.",
             "A man riding on the back of a motorcycle.",
             "A dirt path with a young person on a motor bike rests to the foreground."],
    522418: ["A woman wearing a net on her head cutting a cake.",
             "A woman cutting a large white sheet cake.",
             "A woman wearing a hair net cutting a large sheet cake."],
    184613: ["A child holding a flowered umbrella and petting a yak.",
             "A young man holding an umbrella next to a herd of cattle.",
             "a young boy barefoot holding an umbrella touching the horn of a cow"],
    "nocaps-7": ["Two dogs (a puppy and an adult) play in the snow!",
                 "two dogs playing in snow", "A puppy and a dog don't mind the cold."],
}
CANDS = {
    391895: "A man riding a motorcycle on a dirt road.",
    522418: "a woman cutting a cake",
    184613: "A boy with an umbrella next to a cow",
    "nocaps-7": "Two dogs playing in the snow.",
}


@pytest.fixture(scope="module")
def java_run():
    """Reference (pycocoevalcap, COCOEvalCap's two tokenizer calls) and our results, one METEOR."""
    if shutil.which("java") is None:
        pytest.skip("Java is not installed")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    ref_tok = PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in REFS.items()})
    cand_tok = PTBTokenizer().tokenize({k: [{"caption": c}] for k, c in CANDS.items()})
    meteor = Meteor()
    try:
        bleu, _ = Bleu(4).compute_score(ref_tok, cand_tok, verbose=0)
        reference = {
            "BLEU-1": bleu[0], "BLEU-2": bleu[1], "BLEU-3": bleu[2], "BLEU-4": bleu[3],
            "METEOR": meteor.compute_score(ref_tok, cand_tok)[0],
            "ROUGE-L": Rouge().compute_score(ref_tok, cand_tok)[0],
            "CIDEr": Cider().compute_score(ref_tok, cand_tok)[0],
        }
        ours_tok = score_tokenized(ref_tok, cand_tok, meteor=meteor)
        ours_full = caption_metrics(REFS, CANDS, meteor=meteor)
    finally:
        caption._close_meteor(meteor)
    return types.SimpleNamespace(
        ref_tok=ref_tok, cand_tok=cand_tok, reference=reference, ours_tok=ours_tok, ours_full=ours_full
    )


@pytest.mark.slow
@needs_java
def test_scorers_equal_pycocoevalcap_times_100(java_run):
    assert list(java_run.ours_tok) == list(METRIC_KEYS)
    for key, value in java_run.reference.items():
        assert java_run.ours_tok[key] == pytest.approx(100 * value, rel=1e-12, abs=1e-12), key
    # sanity on the scale and that the numbers are not degenerate
    assert 0 < java_run.ours_tok["BLEU-4"] < java_run.ours_tok["BLEU-1"] <= 100
    assert java_run.ours_tok["CIDEr"] > 10


@pytest.mark.slow
@needs_java
def test_end_to_end_equals_cocoevalcap_tokenisation(java_run):
    # caption_metrics tokenises refs and candidates in one JVM call; it must equal two calls
    assert java_run.ours_full == java_run.ours_tok


@pytest.mark.slow
@needs_java
def test_spice_is_none_without_corenlp(java_run):
    reason = spice_unavailable_reason()
    if reason is None:
        pytest.skip("SPICE's CoreNLP jars are installed here")
    assert java_run.ours_tok["SPICE"] is None and java_run.ours_full["SPICE"] is None
    assert "stanford-corenlp-3.6.0.jar" in reason


@pytest.mark.slow
@needs_java
def test_tokenizer_round_trip(java_run):
    assert tokenize_captions(REFS) == java_run.ref_tok
    assert java_run.ref_tok["nocaps-7"] == [
        "two dogs -lrb- a puppy and an adult -rrb- play in the snow",  # lower-cased, so -LRB- survives
        "two dogs playing in snow",
        "a puppy and a dog do n't mind the cold",
    ]


@needs_java
def test_tokenizer_keeps_captions_on_their_image_despite_java_line_breaks():
    # pycocoevalcap only replaces "\n"; Java also breaks lines at \r, \v, \f, U+2028/9, which
    # would shift every later caption onto the wrong image.
    got = tokenize_captions({1: ["a\rb", "c\u2028d"], 2: ["e\x0cf"], 3: ["last one"]})
    assert got == {1: ["a b", "c d"], 2: ["e f"], 3: ["last one"]}


# ---- no Java needed below ----


def test_spice_reason_names_jars_folder_and_fix(tmp_path):
    reason = spice_unavailable_reason(tmp_path)
    assert reason is not None
    for jar in SPICE_JARS:
        assert jar in reason
    assert str(tmp_path) in reason and "get_stanford_models" in reason
    for jar in SPICE_JARS:
        (tmp_path / jar).write_bytes(b"")
    if shutil.which("java") is not None:
        assert spice_unavailable_reason(tmp_path) is None


def test_ids_must_match():
    with pytest.raises(ValueError, match=r"without a candidate caption.*522418"):
        caption_metrics(REFS, {k: v for k, v in CANDS.items() if k != 522418})
    with pytest.raises(ValueError, match=r"not in the references.*999"):
        caption_metrics(REFS, {**CANDS, 999: "extra"})


def test_tokenized_input_is_validated():
    with pytest.raises(ValueError, match="exactly one candidate"):
        score_tokenized({1: ["a b"]}, {1: ["a", "b"]})
    with pytest.raises(ValueError, match="same ids"):
        score_tokenized({1: ["a b"]}, {2: ["a"]})


def test_own_meteor_is_started_once_and_shut_down(monkeypatch):
    events = []
    line = " ".join(["1.0"] * 23)

    class FakeProc:
        """The jar's stdio: a SCORE line answers a statistics line, an EVAL line each segment's score then 0.25."""

        def __init__(self):
            self.stdin = types.SimpleNamespace(close=lambda: events.append("stdin closed"), write=self.write,
                                               flush=lambda: None)
            self.stdout = types.SimpleNamespace(readline=lambda: self.answers.pop(0).encode())
            self.answers: list[str] = []
            self.alive = True

        def write(self, data: bytes):
            text = data.decode()
            if text.startswith("EVAL"):
                events.append("scored")
                self.answers += ["0.25\n"] * text.count("|||") + ["0.25\n"]
            else:
                self.answers.append(line + "\n")

        def poll(self):
            return None if self.alive else 0

        def kill(self):
            self.alive = False
            events.append("killed")

        def wait(self):
            return 0

    class FakeMeteor:
        def __init__(self):
            events.append("started")
            self.meteor_p = FakeProc()
            self.lock = threading.Lock()

        def _stat(self, hypothesis, references):
            self.meteor_p.stdin.write(f"SCORE ||| {' ||| '.join(references)} ||| {hypothesis}\n".encode())
            return self.meteor_p.stdout.readline().decode().strip()

    monkeypatch.setattr(caption, "Meteor", FakeMeteor)
    monkeypatch.setattr(caption, "_require_java", lambda: None)
    gts = {1: ["a dog runs", "a dog is running"], 2: ["a cat"]}
    out = score_tokenized(gts, {1: ["a dog runs"], 2: ["a cat"]})
    assert out["METEOR"] == 25.0
    assert events == ["started", "scored", "stdin closed", "killed"]

    events.clear()
    monkeypatch.setattr(FakeMeteor, "_stat", lambda self, h, r: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        score_tokenized({1: ["a"]}, {1: ["a"]})
    assert events == ["started", "stdin closed", "killed"]
