"""`bench card`: run folders -> a model card's model-index, read back by huggingface_hub's own parser."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ModelCard

import blip2
from bench.cli import main
from tests.bench.helpers import write_run

VQA = {"accuracy": 65.04, "accuracy_by_answer_type": {"yes/no": 88.1, "number": 44.27, "other": 55.5},
       "accuracy_by_question_type": {"what color": 70.0}}
VQA_CI = {"accuracy": [64.5, 65.6], "accuracy_by_answer_type": {"yes/no": [87.0, 89.0], "number": [43.0, 45.5],
                                                                  "other": [55.0, 56.0]}}
NOCAPS = {"CIDEr": 121.637, "BLEU-4": 43.2, "SPICE": None,
          "by_domain": {"in-domain": {"CIDEr": 123.7, "SPICE": None, "n": 417}, "out-domain": None}}
SOURCE = f"blip2-bench {blip2.__version__}"


def _runs(tmp_path, **kwargs):
    runs = tmp_path / "runs"
    vqa = write_run(runs, "my-blip2", "vqav2", "val", VQA, **kwargs).parent
    record = json.loads((vqa / "metrics.json").read_text())
    (vqa / "metrics.json").write_text(json.dumps({**record, "ci95": VQA_CI}))
    nocaps = write_run(runs, "my-blip2", "nocaps", "val", NOCAPS, **kwargs).parent
    return vqa, nocaps


def _expected() -> set[tuple]:
    """(dataset type, split, metric name, metric type, value, interval) that the two runs must give."""
    return {
        ("vqav2", "val", "accuracy", "accuracy", 65.04, (64.5, 65.6)),
        ("vqav2", "val", "accuracy (yes/no)", "accuracy", 88.1, (87.0, 89.0)),
        ("vqav2", "val", "accuracy (number)", "accuracy", 44.27, (43.0, 45.5)),
        ("vqav2", "val", "accuracy (other)", "accuracy", 55.5, (55.0, 56.0)),
        ("nocaps", "val", "CIDEr", "cider", 121.64, None),
        ("nocaps", "val", "BLEU-4", "bleu", 43.2, None),
        ("nocaps", "val", "CIDEr (in-domain)", "cider", 123.7, None),
    }


def _read_back(card: ModelCard) -> set[tuple]:
    return {(r.dataset_type, r.dataset_split, r.metric_name, r.metric_type, r.metric_value,
             tuple(r.metric_args["ci95"]) if r.metric_args else None) for r in card.data.eval_results}


def test_a_card_for_two_run_folders_reads_back_through_the_hub_parser(tmp_path):
    vqa, nocaps = _runs(tmp_path)
    out = tmp_path / "README.md"
    assert main(["card", str(vqa), str(nocaps), "--model-id", "me/my-blip2", "--output", str(out)]) == 0
    card = ModelCard.load(out)
    assert card.data.model_name == "me/my-blip2"
    assert _read_back(card) == _expected()
    results = card.data.eval_results
    assert {r.task_type for r in results} == {"visual-question-answering", "image-to-text"}
    assert {(r.dataset_type, r.dataset_name) for r in results} == {("vqav2", "VQAv2"), ("nocaps", "NoCaps")}
    assert {(r.source_name, r.source_url) for r in results} == {(SOURCE, "https://huggingface.co/me/my-blip2")}
    assert {r.metric_config for r in results} == {"synthetic"}  # the scorer metrics.json names


PROSE_BEFORE = "---\n"
HAND_WRITTEN = """\
license: bsd-3-clause   # kept as written
tags:
- blip-2
model-index:
- name: me/my-blip2
  results:
  - task: {type: visual-question-answering}
    dataset: {name: VQAv2, type: vqav2, split: test-dev}
    metrics:
      - {type: accuracy, value: 65.0, name: EvalAI test-dev}   # from the server
    source: {name: EvalAI, url: "https://eval.ai"}
"""
PROSE_AFTER = "---\n\n# My BLIP-2\n\nTrained with care.  Trailing spaces stay.  \n\n| a | b |\n|---|---|\n"


def test_an_update_replaces_only_our_entries_and_keeps_every_other_byte(tmp_path):
    vqa, nocaps = _runs(tmp_path)
    out = tmp_path / "README.md"
    out.write_text(PROSE_BEFORE + HAND_WRITTEN + PROSE_AFTER)
    assert main(["card", str(vqa), "--model-id", "me/my-blip2", "--output", str(out)]) == 0
    # a second run with new numbers replaces our first entries instead of adding to them
    record = json.loads((vqa / "metrics.json").read_text())
    (vqa / "metrics.json").write_text(json.dumps({**record, "metrics": {**VQA, "accuracy": 70.0}}))
    assert main(["card", str(vqa), str(nocaps), "--model-id", "me/my-blip2", "--output", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(PROSE_BEFORE + HAND_WRITTEN)  # other keys, comments and the hand-written entry
    assert text.endswith(PROSE_AFTER)  # the prose
    card = ModelCard.load(out)
    ours = {t for t in _read_back(card) if t[2] != "EvalAI test-dev"}
    assert ours == {t if t[2] != "accuracy" else (*t[:4], 70.0, t[5]) for t in _expected()}
    theirs = [r for r in card.data.eval_results if r.source_name == "EvalAI"]
    assert [(r.metric_name, r.metric_value) for r in theirs] == [("EvalAI test-dev", 65.0)]
    assert card.data.license == "bsd-3-clause"
    # a card for one dataset again replaces only that dataset's entries of ours: VQAv2's stay
    assert main(["card", str(nocaps), "--model-id", "me/my-blip2", "--output", str(out)]) == 0
    assert ModelCard.load(out).data.eval_results == card.data.eval_results
    assert out.read_text() == text


def test_a_flow_style_model_index_is_rewritten_with_its_values_and_the_prose_kept(tmp_path):
    vqa, _ = _runs(tmp_path)
    out = tmp_path / "README.md"
    flow = ("license: mit\nmodel-index: [{name: m, results: [{task: {type: t}, dataset: {name: D, type: d}, "
            "metrics: [{type: accuracy, value: 1.5}]}]}]\n")
    out.write_text("---\n" + flow + PROSE_AFTER)
    assert main(["card", str(vqa), "--source-url", "https://example.org/runs", "--output", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("---\nlicense: mit\n") and text.endswith(PROSE_AFTER)
    card = ModelCard.load(out)
    assert card.data.model_name == "m"  # the card's own model-index name is kept
    assert [(r.dataset_type, r.metric_value) for r in card.data.eval_results][0] == ("d", 1.5)
    assert len(card.data.eval_results) == 1 + 4


def test_a_model_index_without_a_name_gets_one(tmp_path):
    vqa, _ = _runs(tmp_path)
    out = tmp_path / "README.md"
    out.write_text("---\nlicense: mit\nmodel-index:\n- results: []\n---\nText.\n")
    assert main(["card", str(vqa), "--model-id", "me/m", "--output", str(out)]) == 0
    assert out.read_text().startswith("---\nlicense: mit\n") and out.read_text().endswith("---\nText.\n")
    card = ModelCard.load(out)
    assert card.data.model_name == "me/m" and len(card.data.eval_results) == 4


def test_a_card_without_metadata_gets_it_in_front_of_its_text(tmp_path):
    vqa, _ = _runs(tmp_path)
    out = tmp_path / "README.md"
    out.write_text("# Only prose\n")
    assert main(["card", str(vqa), "--model-id", "me/m", "--output", str(out)]) == 0
    assert out.read_text().endswith("---\n# Only prose\n")
    assert len(ModelCard.load(out).data.eval_results) == 4


@pytest.mark.parametrize(("kwargs", "flag"), [({"partial": True}, "--allow-partial"),
                                               ({"against": "toy root"}, "--allow-toy")])
def test_partial_and_toy_runs_are_refused_unless_allowed(tmp_path, capsys, kwargs, flag):
    vqa, _ = _runs(tmp_path, **kwargs)
    out = tmp_path / "README.md"
    assert main(["card", str(vqa), "--model-id", "me/m", "--output", str(out)]) == 2
    assert flag in capsys.readouterr().err and not out.exists()
    assert main(["card", str(vqa), "--model-id", "me/m", "--output", str(out), flag]) == 0
    (args,) = {tuple(sorted(r.dataset_args)) for r in ModelCard.load(out).data.eval_results}
    assert args == (("partial",) if flag == "--allow-partial" else ("data",))  # the entry says what it is


def test_bad_requests_are_named(tmp_path, capsys):
    vqa, _ = _runs(tmp_path)
    other = write_run(tmp_path / "runs", "other-model", "gqa", "test-dev", {"accuracy": 44.0}).parent
    out = str(tmp_path / "README.md")
    cases = [
        ([str(vqa), "--output", out], "--model-id"),
        ([str(vqa), "--model-id", "not an id", "--output", out], "org/name"),
        ([str(vqa), str(other), "--model-id", "me/m", "--output", out], "several models"),
        ([str(vqa), str(vqa), "--model-id", "me/m", "--output", out], "both hold vqav2 val"),
        ([str(tmp_path), "--model-id", "me/m", "--output", out], "no metrics.json"),
    ]
    for args, words in cases:
        assert main(["card", *args]) == 2
        assert words in capsys.readouterr().err
    (tmp_path / "README.md").write_bytes(b"\xff\xfe not text")
    assert main(["card", str(vqa), "--model-id", "me/m", "--output", out]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    (tmp_path / "README.md").write_text("---\nmodel-index: 3\n---\nprose\n")
    assert main(["card", str(vqa), "--model-id", "me/m", "--output", out]) == 2
    assert "model-index" in capsys.readouterr().err
    assert (tmp_path / "README.md").read_text() == "---\nmodel-index: 3\n---\nprose\n"
