"""Comparing a toy rebuild with the committed build: loss traces step by step, weights tensor by tensor."""

from __future__ import annotations

import json

import pytest
import torch

from bench.cli import main
from toyworld.errors import ToyError
from toyworld.reproduce import compare_traces, compare_weights, loss_traces, read_reference


def test_traces_name_the_first_differing_step():
    ref = {"toy_stage1": [3.0, 2.5, 2.25], "backbone_vit": [1.0], "toy_retrieval": [1.0, 0.5]}
    now = {"toy_stage1": [3.0, 2.5, 2.2500002], "backbone_vit": [1.0], "toy_retrieval": [1.0]}
    verdicts = compare_traces(ref, now)
    assert verdicts["backbone_vit"] == "identical (1 steps)"
    assert verdicts["toy_stage1"] == "first differs at step 3 (loss 2.25 -> 2.2500002)"
    assert verdicts["toy_retrieval"] == "same first 1 steps, but 2 vs 1 steps"
    assert compare_traces({}, {"x": [1.0]}) == {"x": "not in the reference build"}


def test_weights_compare_tensor_by_tensor():
    old = {"a": torch.ones(3, dtype=torch.float16), "b": torch.zeros(2)}
    assert compare_weights(old, {k: v.clone() for k, v in old.items()}) == "identical (2 tensors)"
    moved = {"a": torch.tensor([1.0, 1.0, 1.25], dtype=torch.float16), "b": torch.zeros(2)}
    assert compare_weights(old, moved) == "1 of 2 tensors differ (max |difference| 0.25)"
    assert compare_weights(old, {"a": old["a"]}).startswith("different tensor names")
    assert compare_weights(old, {"a": old["a"], "b": torch.zeros(3)}) == "1 of 2 tensors differ, 1 in shape"
    nan = float("nan")
    assert compare_traces({"x": [1.0, nan]}, {"x": [1.0, nan]}) == {"x": "identical (2 steps)"}


def test_traces_are_read_from_the_build_logs(tmp_path):
    (tmp_path / "toy_backbones").mkdir()
    (tmp_path / "toy_backbones" / "log.jsonl").write_text(
        "\n".join(json.dumps(r) for r in [{"backbone": "vit", "step": 1, "loss": 4.0},
                                          {"backbone": "OPT", "step": 1, "loss": 9.0},
                                          {"backbone": "vit", "step": 2, "loss": 3.5}]))
    (tmp_path / "toy_stage1").mkdir()
    (tmp_path / "toy_stage1" / "log.jsonl").write_text('{"step": 1, "loss": 11.5, "itc": 4.0}\n')
    traces = loss_traces(tmp_path, ["toy_stage1", "toy_caption_opt"])
    assert traces == {"backbone_vit": [4.0, 3.5], "backbone_opt": [9.0], "toy_stage1": [11.5]}


@pytest.mark.parametrize("text, why", [
    ("{not json", "Expecting property name"),
    ('{"scale": 1.0}', "losses"),  # a record from before loss traces were kept
    ("[1, 2]", "has no attribute"),
    ('{"losses": []}', "must map each step name"),
    ('{"losses": {"toy_stage1": 5}}', "must map each step name"),
])
def test_a_broken_reference_record_is_named(tmp_path, text, why):
    assert read_reference(tmp_path / "none.json") is None
    bad = tmp_path / "toy_build.json"
    bad.write_text(text)
    with pytest.raises(ToyError, match=rf"toy_build.json: .*{why}.*git checkout"):
        read_reference(bad)


def test_the_build_refuses_a_broken_record_before_training(small_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "toy_build.json").write_text('{"losses": {"toy_stage1": "x"}}')
    code = main(["train", "--recipe", "toy", "--data-root", str(small_root), "--output", "out", "--quiet",
                 "--set", "scale=0.004", "--set", "export=false"])
    assert code == 2
    assert "results/toy_build.json: not a toy build record" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
