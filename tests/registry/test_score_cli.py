"""``python -m bench score`` end to end on the tiny data root (one subprocess run, the rest in-process).

Caption scoring starts JVMs (PTB tokenizer, METEOR), so only two tests score captions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from tasks.formats import (
    write_caption_results,
    write_gqa_results,
    write_retrieval_scores,
    write_vqa_results,
)

REPO = Path(__file__).resolve().parents[2]
CAPTION_KEYS = {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "SPICE"}


def run_cli(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["score", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


def test_subprocess_scores_coco_captions_and_writes_output(data_root, tmp_path):
    predictions = write_caption_results(
        tmp_path / "captions.json", {1: "a brown dog sitting on a couch", 2: "two cats sleeping on a bed"}
    )
    output = tmp_path / "out" / "metrics.json"
    env = {**os.environ, "BLIP2_DATA": str(data_root)}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "score",
            "--task",
            "coco_caption",
            "--predictions",
            str(predictions),
            "--output",
            str(output),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)
    assert json.loads(output.read_text()) == printed
    assert (printed["task"], printed["split"], printed["scorer"], printed["n"]) == (
        "coco_caption",
        "karpathy-test",
        "pycocoevalcap",
        2,
    )
    assert set(printed["metrics"]) == CAPTION_KEYS
    assert printed["metrics"]["CIDEr"] > 100  # paper scale, near-copies of the references
    if printed["metrics"]["SPICE"] is None:
        assert "SPICE" in printed["notes"] and "stanford-corenlp-3.6.0" in printed["notes"]["SPICE"]
    assert not [p for p in output.parent.iterdir() if p.name != "metrics.json"]  # no temp file left


def test_nocaps_scores_overall_and_per_domain(data_root, tmp_path, capsys):
    captions = {
        0: "a brown dog running in a field",  # in-domain: copies of references
        1: "a grey cat lying on a couch",
        2: "a red car parked on a street",  # near-domain: one right, one describing another image
        3: "a pink jellyfish swimming",
        4: "a dog runs on the grass",  # out-domain: both wrong
        5: "a cat sleeps on a sofa",
    }
    predictions = write_caption_results(tmp_path / "nocaps.json", captions)
    code, result, err = run_cli(
        capsys, "--task", "nocaps", "--predictions", str(predictions), "--data-root", str(data_root)
    )
    assert code == 0, err
    by_domain = result["metrics"]["by_domain"]
    assert set(by_domain) == {"in-domain", "near-domain", "out-domain"}
    for domain in by_domain.values():
        assert set(domain) == CAPTION_KEYS | {"n"} and domain["n"] == 2
    assert by_domain["in-domain"]["BLEU-1"] == pytest.approx(100.0, abs=0.01)
    cider = [by_domain[d]["CIDEr"] for d in ("in-domain", "near-domain", "out-domain")]
    assert cider[0] > cider[1] > cider[2]
    assert set(result["metrics"]) == CAPTION_KEYS | {"by_domain"}
    assert result["n"] == 6


def test_vqa_via_cli_with_official_scorer_and_output(data_root, tmp_path, capsys):
    predictions = write_vqa_results(tmp_path / "vqa.json", {101: "Yes", 102: "2", 103: "red"})
    output = tmp_path / "result.json"
    code, result, err = run_cli(
        capsys,
        "--task",
        "vqav2",
        "--split",
        "val",
        "--predictions",
        str(predictions),
        "--data-root",
        str(data_root),
        "--vqa-scorer",
        "official",
        "--output",
        str(output),
    )
    assert code == 0, err
    assert result["scorer"] == "official" and result["metrics"]["accuracy"] == 66.67
    assert json.loads(output.read_text()) == result
    assert set(result["ci95"]["accuracy_by_answer_type"]) == set(result["metrics"]["accuracy_by_answer_type"])


def test_score_writes_per_sample_scores_and_takes_bootstrap_flags(data_root, tmp_path, capsys):
    predictions = write_vqa_results(tmp_path / "vqa.json", {101: "Yes", 102: "2", 103: "red"})
    samples = tmp_path / "samples.jsonl"
    base = ["--task", "vqav2", "--predictions", str(predictions), "--data-root", str(data_root)]
    code, result, err = run_cli(capsys, *base, "--samples", str(samples), "--bootstrap-seed", "4")
    assert code == 0, err
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert [line["id"] for line in lines] == [101, 102, 103]
    assert [line["prediction"] for line in lines] == ["Yes", "2", "red"]
    assert sum(line["accuracy"] for line in lines) / 3 == pytest.approx(result["metrics"]["accuracy"], abs=0.005)
    assert result["ci"]["seed"] == 4
    code, result, err = run_cli(capsys, *base, "--bootstrap-iters", "0")
    assert code == 0 and "ci95" not in result and result["ci"]["resamples"] == 0
    code, result, err = run_cli(capsys, *base, "--bootstrap-iters", "-2")
    assert code == 2 and "--bootstrap-iters" in err


def test_gqa_and_retrieval_via_cli(data_root, tmp_path, capsys):
    gqa = write_gqa_results(tmp_path / "gqa.json", {"g1": "left", "g2": "no"})
    code, result, err = run_cli(
        capsys, "--task", "gqa", "--predictions", str(gqa), "--data-root", str(data_root)
    )
    assert code == 0, err
    assert result["metrics"] == {"accuracy": 100.0}

    i2t = np.array([[1.0, 0.9, 0.0, 0.1], [0.0, 0.2, 1.0, 0.8]])
    scores = write_retrieval_scores(tmp_path / "scores.npz", i2t, i2t.T)
    code, result, err = run_cli(
        capsys, "--task", "flickr30k", "--predictions", str(scores), "--data-root", str(data_root)
    )
    assert code == 0, err
    assert result["metrics"]["TR@1"] == 100.0 and result["metrics"]["R_mean"] == 100.0


def test_itc_only_scores_the_runs_raw_similarities(data_root, tmp_path, capsys):
    """`--itc-only` ranks by the 'itc' array (what ITM re-ranking started from), not by i2t / t2i."""
    itc = np.array([[0.1, 0.0, 0.9, 0.2], [0.0, 0.2, 1.0, 0.8]])  # image 0 ranks image 1's text first
    reranked = np.array([[1.0, 0.9, 0.0, 0.1], [0.0, 0.2, 1.0, 0.8]])
    scores = write_retrieval_scores(tmp_path / "scores.npz", reranked, reranked.T, itc=itc)
    args = ["--task", "flickr30k", "--predictions", str(scores), "--data-root", str(data_root)]
    code, result, err = run_cli(capsys, *args)
    assert code == 0, err
    assert result["metrics"]["TR@1"] == 100.0
    code, result, err = run_cli(capsys, *args, "--itc-only")
    assert code == 0, err
    assert result["metrics"]["TR@1"] == 50.0

    no_itc = write_retrieval_scores(tmp_path / "plain.npz", reranked, reranked.T)
    code, _, err = run_cli(capsys, "--task", "flickr30k", "--predictions", str(no_itc), "--data-root",
                           str(data_root), "--itc-only")
    assert code == 2 and "plain.npz: array 'itc' is missing (arrays present: i2t, t2i)" in err
    code, _, err = run_cli(capsys, "--task", "gqa", "--predictions", str(no_itc), "--data-root", str(data_root),
                           "--itc-only")
    assert code == 2 and "--itc-only applies to the retrieval tasks, not gqa" in err


def test_allow_partial_via_cli(data_root, tmp_path, capsys):
    predictions = write_vqa_results(tmp_path / "vqa.json", {101: "yes"})
    code, _, err = run_cli(
        capsys, "--task", "vqav2", "--predictions", str(predictions), "--data-root", str(data_root)
    )
    assert code == 2 and "missing for 2 of 3 ids of vqav2 val: 102, 103" in err
    code, result, err = run_cli(
        capsys,
        "--task",
        "vqav2",
        "--predictions",
        str(predictions),
        "--data-root",
        str(data_root),
        "--allow-partial",
    )
    assert code == 0, err
    assert (result["n"], result["partial"]) == (1, True)


def test_test_dev_is_refused_but_the_submission_is_checked(data_root, tmp_path, capsys):
    good = write_vqa_results(tmp_path / "sub.json", {201: "a dog", 202: "yes"})
    code, _, err = run_cli(
        capsys,
        "--task",
        "vqav2",
        "--split",
        "test-dev",
        "--predictions",
        str(good),
        "--data-root",
        str(data_root),
    )
    assert code == 2
    assert "cannot be scored locally" in err and "valid EvalAI submission covering all 2 questions" in err
    bad = write_vqa_results(tmp_path / "bad.json", {201: "a dog"})
    code, _, err = run_cli(
        capsys,
        "--task",
        "vqav2",
        "--split",
        "test-dev",
        "--predictions",
        str(bad),
        "--data-root",
        str(data_root),
    )
    assert code == 2 and "missing for 1 of 2 ids of vqav2 test-dev: 202" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "vqa"], "unknown task 'vqa'; known tasks: vqav2, okvqa, gqa"),
        (["--task", "vqav2", "--split", "test"], "task vqav2 has no split 'test'"),
        (["--task", "gqa", "--vqa-scorer", "official"], "--vqa-scorer applies to the VQA-accuracy tasks"),
        (["--task", "vqav2"], "missing file"),
    ],
)
def test_user_errors_exit_2_with_one_line(data_root, tmp_path, capsys, args, message):
    code, _, err = run_cli(
        capsys, *args, "--predictions", str(tmp_path / "absent.json"), "--data-root", str(data_root)
    )
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err


def test_bad_predictions_name_the_id_and_missing_data_names_the_file(data_root, tmp_path, capsys):
    predictions = write_vqa_results(tmp_path / "vqa.json", {101: "yes", 102: "2", 103: "red", 555: "x"})
    code, _, err = run_cli(
        capsys, "--task", "vqav2", "--predictions", str(predictions), "--data-root", str(data_root)
    )
    assert code == 2 and "not in vqav2 val: 555" in err
    code, _, err = run_cli(
        capsys, "--task", "okvqa", "--predictions", str(predictions), "--data-root", str(tmp_path / "empty")
    )
    assert code == 2
    assert f"missing file {tmp_path / 'empty' / 'okvqa/OpenEnded_mscoco_val2014_questions.json'}" in err
    assert "okvqa.allenai.org" in err


def test_subprocess_error_has_no_traceback(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "score",
            "--task",
            "nocaps",
            "--predictions",
            str(tmp_path / "p.json"),
            "--data-root",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.startswith("error: missing file") and "nocaps.org" in completed.stderr
