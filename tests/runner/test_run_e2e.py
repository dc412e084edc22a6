"""`bench run` end to end on all seven tasks, with tiny transformers checkpoints and tiny official data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from PIL import Image

import blip2
import tasks
from bench.cli import main
from tests.registry.fixture_data import build_data_root

GENERATION_TASKS = ["vqav2", "okvqa", "gqa", "nocaps", "coco_caption"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return build_data_root(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_dir, data_root):
    """Run every task once per tiny model; returns {family: run folder}."""
    out = tmp_path_factory.mktemp("runs")
    folders = {}
    for family, task_list in (("opt", GENERATION_TASKS), ("t5", GENERATION_TASKS), ("itm", ["flickr30k",
                                                                                         "coco_retrieval"])):
        model = tiny_dir(family, "base")
        args = ["run", "--task", ",".join(task_list), "--model", str(model), "--data-root", str(data_root),
                "--output-dir", str(out), "--batch-size", "2", "--quiet"]
        if family != "itm":  # a generation flag on a retrieval task is refused, not ignored
            args += ["--max-new-tokens", "9"]
        assert main(args) == 0
        folders[family] = out / model.name
    return folders


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_generation_runs_write_all_three_files(runs, family):
    for name in GENERATION_TASKS:
        split = tasks.get(name).default_split
        folder = runs[family] / f"{name}-{split}"
        lines = [json.loads(x) for x in (folder / "predictions.jsonl").read_text().splitlines()]
        official = json.loads((folder / "predictions.json").read_text())
        record = json.loads((folder / "metrics.json").read_text())
        assert len(lines) == len(official) == record["n"] > 0
        assert {"task", "split", "model", "scorer", "n", "metrics", "settings", "provenance",
                "timing"} <= record.keys()
        assert record["task"] == name and record["split"] == split
        assert record["settings"]["max_new_tokens"] == 9  # the override is recorded
        assert record["settings"]["image_size"] == 28  # the checkpoint's size, not the task's default
        assert record["provenance"]["checkpoint"]["files"][0]["sha256"]
        assert record["provenance"]["versions"]["transformers"] == transformers.__version__
        assert record["timing"]["samples_per_s"] > 0
        # scoring the official file again gives exactly the run's metrics (one caption task: Java is slow)
        if tasks.get(name).kind == "vqa" or (family, name) == ("opt", "coco_caption"):
            loaded = tasks.get(name).load(record["provenance"]["data_root"], split)
            assert tasks.get(name).score(official, loaded)["metrics"] == record["metrics"]


def test_vqa_metrics_keys_and_prompt(runs):
    record = json.loads((runs["t5"] / "vqav2-val" / "metrics.json").read_text())
    assert set(record["metrics"]) == set(tasks.get("vqav2").metrics)
    assert set(record["metrics"]) == {"accuracy", "accuracy_by_answer_type", "accuracy_by_question_type"}
    assert record["scorer"] == "lavis"
    first = json.loads((runs["t5"] / "vqav2-val" / "predictions.jsonl").read_text().splitlines()[0])
    assert first["prompt"] == "Question: is there a dog? Short answer:"


def test_nocaps_reports_each_domain(runs):
    metrics = json.loads((runs["opt"] / "nocaps-val" / "metrics.json").read_text())["metrics"]
    assert set(metrics["by_domain"]) == {"in-domain", "near-domain", "out-domain"}
    assert "CIDEr" in metrics and metrics["SPICE"] is None


def test_vqav2_test_dev_writes_the_evalai_file(tiny_dir, data_root, tmp_path):
    assert main(["run", "--task", "vqav2", "--split", "test-dev", "--model", str(tiny_dir("opt", "base")),
                 "--data-root", str(data_root), "--output-dir", str(tmp_path), "--quiet"]) == 0
    folder = tmp_path / tiny_dir("opt", "base").name / "vqav2-test-dev"
    submission = json.loads((folder / "predictions.json").read_text())
    assert sorted(r["question_id"] for r in submission) == [201, 202]
    assert json.loads((folder / "metrics.json").read_text())["metrics"] == {}


def test_retrieval_writes_scores_and_metrics(runs):
    for name in ("flickr30k", "coco_retrieval"):
        folder = runs["itm"] / f"{name}-test"
        scores = np.load(folder / "scores.npz")
        record = json.loads((folder / "metrics.json").read_text())
        assert scores["i2t"].shape == scores["t2i"].T.shape == scores["itc"].shape
        assert set(record["metrics"]) >= {"TR@1", "TR@5", "TR@10", "IR@1", "IR@5", "IR@10", "R_mean"}


@pytest.mark.parametrize("family", ["opt", "t5"])
def test_predictions_equal_transformers_generate(runs, tiny_dir, data_root, family):
    """The answers in predictions.jsonl are what Blip2ForConditionalGeneration.generate gives."""
    path = tiny_dir(family, "base")
    ref = transformers.Blip2ForConditionalGeneration.from_pretrained(path).eval()
    processor = transformers.Blip2Processor.from_pretrained(path)
    processor.tokenizer.padding_side = "left" if family == "opt" else "right"
    model = blip2.load_model(path)
    task = tasks.get("vqav2")
    loaded = task.load(data_root, "val")
    settings = task.settings(family, {"max_new_tokens": 9})
    prompts = [task.prompt_for(s, settings) for s in loaded.samples]
    pixels = blip2.image_transform(model).batch([Image.open(s.image_path) for s in loaded.samples])
    enc = processor(images=[Image.open(s.image_path) for s in loaded.samples], text=prompts, padding=True,
                    return_tensors="pt")
    extra = {"eos_token_id": model.eos_token_id()} if family == "opt" else {}
    with torch.no_grad():
        out = ref.generate(pixel_values=pixels, input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                           num_beams=5, max_new_tokens=9, min_new_tokens=1, length_penalty=-1.0, **extra)
    if family == "opt":
        out = out[:, enc.input_ids.shape[1]:]
    expected = [t.strip() for t in processor.tokenizer.batch_decode(out, skip_special_tokens=True)]
    lines = [json.loads(x) for x in (runs[family] / "vqav2-val" / "predictions.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [s.sample_id for s in loaded.samples]
    assert [line["prediction"] for line in lines] == expected


def test_retrieval_scores_equal_transformers(runs, tiny_dir, data_root):
    """scores.npz's ITC part is Blip2ForImageTextRetrieval's ITC; the re-ranked part adds its ITM logit."""
    path = tiny_dir("itm", "base")
    ref = transformers.Blip2ForImageTextRetrieval.from_pretrained(path).eval()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = blip2.load_model(path)
    task = tasks.get("flickr30k")
    loaded = task.load(data_root, "test")
    texts = task.texts_for_model(loaded, task.settings())
    pixels = blip2.image_transform(model).batch([Image.open(p) for p in loaded.image_paths])
    enc = tok(texts, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
    scores = np.load(runs["itm"] / "flickr30k-test" / "scores.npz")
    with torch.no_grad():
        itc = ref(pixel_values=pixels, input_ids=enc.input_ids, attention_mask=enc.attention_mask)
        np.testing.assert_allclose(scores["itc"], itc.logits_per_image.numpy(), atol=1e-5)
        for i in range(len(pixels)):  # tiny split: every pair is a candidate (k=128 > n)
            itm = ref(pixel_values=pixels[i:i + 1].expand(len(texts), -1, -1, -1), input_ids=enc.input_ids,
                      attention_mask=enc.attention_mask, use_image_text_matching_head=True).logits_per_image
            np.testing.assert_allclose(scores["i2t"][i] - scores["itc"][i], itm[:, 1].numpy(), atol=1e-5)
            np.testing.assert_allclose(scores["t2i"][:, i] - scores["itc"][i], itm[:, 1].numpy(), atol=1e-5)


def test_zoo_model_without_weights_or_data_exits_2_with_the_fix(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BLIP2_LAVIS_DIR": str(tmp_path / "lavis"),
           "BLIP2_DATA": str(tmp_path / "nodata"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--task", "nocaps", "--model", "vitg-opt2.7b"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr
    assert "nocaps_val_4500_captions.json" in message and "nocaps.org" in message  # what data, from where
    assert str(tmp_path / "nodata") in message  # where to put it
    assert "Salesforce/blip2-opt-2.7b" in message and "blip2_pretrained_opt2.7b.pth" in message
    assert "Traceback" not in message


def test_retrieval_task_with_generative_model_is_explained(tiny_dir, data_root, tmp_path):
    code = main(["run", "--task", "flickr30k", "--model", str(tiny_dir("opt", "base")), "--data-root",
                 str(data_root), "--output-dir", str(tmp_path), "--quiet"])
    assert code == 2


def test_leaderboard_and_regress_on_real_runs(runs, tmp_path, capsys):
    """The runs written above feed the leaderboard and the CI gate: 0 on a rerun, 1 on a drop, 2 on a gap.

    The fixture's files are far smaller than the paper's splits, so every run is partial: the gate fails
    them (exit 1) unless --allow-partial, and then judges them as usual."""
    import csv
    import shutil

    runs_dir = tmp_path / "runs"
    shutil.copytree(runs["opt"].parent, runs_dir)
    assert main(["leaderboard", "--runs", str(runs_dir), "--out", str(tmp_path / "board")]) == 0
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.png"):
        assert (tmp_path / "board" / name).stat().st_size > 0
    rows = list(csv.DictReader(open(tmp_path / "board" / "leaderboard.csv")))
    assert any(r["run"] == runs["opt"].name and r["task"] == "nocaps" and r["metric"] == "CIDEr" for r in rows)

    baseline = tmp_path / "baseline.csv"
    assert main(["regress", "--write-baseline", str(baseline), "--runs", str(runs_dir)]) == 0
    capsys.readouterr()
    assert main(["regress", "--baseline", str(baseline), "--runs", str(runs_dir)]) == 1  # partial runs
    report = capsys.readouterr().out
    assert "❌ partial run" in report and "✅ pass" not in report
    assert "the data files hold 6 images but the paper's nocaps val has 4500" in report
    allow = ["--allow-partial"]
    assert main(["regress", "--baseline", str(baseline), "--runs", str(runs_dir), *allow]) == 0  # identical rerun
    assert "✅ pass (partial run)" in capsys.readouterr().out

    metrics_file = runs_dir / runs["opt"].name / "vqav2-val" / "metrics.json"
    record = json.loads(metrics_file.read_text())
    record["metrics"]["accuracy"] -= 5.0  # an injected drop
    metrics_file.write_text(json.dumps(record))
    assert main(["regress", "--baseline", str(baseline), "--runs", str(runs_dir), *allow]) == 1
    assert "❌ regression (partial run)" in capsys.readouterr().out

    with open(baseline, "a") as handle:  # the baseline names a metric the runs lack
        handle.write(f",{runs['opt'].name},vqav2,val,all,TR@1,50.0\n")
    assert main(["regress", "--baseline", str(baseline), "--runs", str(runs_dir), *allow]) == 2


def test_a_models_empty_answer_is_scored_wrong_and_reported(tiny_dir, data_root, tmp_path, monkeypatch):
    """A model that generates nothing for a question gave a wrong answer: the run finishes and says so."""
    from blip2.models.blip2_lm import Blip2LM

    original = Blip2LM.generate

    def first_answer_empty(self, *args, **kwargs):
        texts = original(self, *args, **kwargs)
        return ["" if i == 0 else t for i, t in enumerate(texts)]

    monkeypatch.setattr(Blip2LM, "generate", first_answer_empty)
    model = tiny_dir("opt", "base")
    args = ["run", "--task", "vqav2", "--model", str(model), "--data-root", str(data_root), "--output-dir",
            str(tmp_path), "--batch-size", "8", "--quiet", "--max-new-tokens", "3"]
    assert main(args) == 0
    record = json.loads((tmp_path / model.name / "vqav2-val" / "metrics.json").read_text())
    official = json.loads((tmp_path / model.name / "vqav2-val" / "predictions.json").read_text())
    empty = [p["question_id"] for p in official if p["answer"] == ""]
    assert record["empty_predictions"] == len(empty) == 1
    assert str(empty[0]) in record["notes"]["empty_predictions"]
    # the official file re-scores to the same numbers with `bench score --allow-empty`
    out = tmp_path / "rescored.json"
    assert main(["score", "--task", "vqav2", "--data-root", str(data_root), "--allow-empty", "--output", str(out),
                 "--predictions", str(tmp_path / model.name / "vqav2-val" / "predictions.json")]) == 0
    assert json.loads(out.read_text())["metrics"] == record["metrics"]
