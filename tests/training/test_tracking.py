"""`--log-with`: a few-step recipe logs its loss curve, learning rate and throughput to TensorBoard, W&B (offline)
and MLflow (local file store), each read back with that tracker's own reader; `bench run` logs final metrics."""

from __future__ import annotations

import dataclasses
import glob
import json
import struct

import numpy as np
import pytest

from bench.cli import main
from bench.run_tracking import log_final_metrics
from blip2.training import tracking
from tests.bench.helpers import write_run
from tests.training.test_trainer import _model_and_data, make_caption_root, tiny_recipe

STEPS = 4


@pytest.fixture
def recipe_file(tiny_dir, tmp_path):
    """A tiny caption recipe of a few steps, as a JSON file `bench train --recipe` takes, and its data root."""
    recipe = tiny_recipe(tiny_dir("opt", "base"), max_steps=STEPS, name="tiny_tracked")
    path = tmp_path / "tiny_tracked.json"
    path.write_text(json.dumps(dataclasses.asdict(recipe)))
    return path, make_caption_root(tmp_path / "data")


def _logged_losses(out):
    return [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]


def test_tensorboard_event_files_hold_the_loss_curve(recipe_file, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path, root = recipe_file
    assert main(["train", "--recipe", str(path), "--data-root", str(root), "--output", str(tmp_path / "out"),
                 "--log-with", "tensorboard", "--quiet"]) == 0
    out = tmp_path / "out/tiny_tracked"
    (events,) = {p.parent for p in (out / "logs").rglob("events.out.tfevents.*") if p.parent.name == "tiny_tracked"}
    reader = EventAccumulator(str(events))
    reader.Reload()
    loss = reader.Scalars("train/loss")
    assert [e.step for e in loss] == list(range(1, STEPS + 1))
    np.testing.assert_allclose([e.value for e in loss], _logged_losses(out), rtol=1e-6)  # float32 in the file
    assert len(reader.Scalars("train/lr")) == STEPS
    assert all(e.value > 0 for e in reader.Scalars("train/samples_per_s"))


def _wandb_history(run_file):
    """History rows of a W&B offline run file (a LevelDB-style log of protobuf records after a 7-byte header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block, pos, chunk, rows = open(run_file, "rb").read(), 32768, 7, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        room = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if room >= 7 else (0, 0, 0)
        if room < 7 or (length == 0 and kind == 0):
            pos += room
            continue
        chunk, pos = chunk + data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(chunk)
            chunk = b""
            if record.WhichOneof("record_type") == "history":
                rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item})
    return rows


def test_wandb_offline_run_holds_the_loss_curve(tiny_dir, recipe_file, tmp_path, monkeypatch):
    from blip2.training.trainer import train

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    path, root = recipe_file
    recipe = tiny_recipe(tiny_dir("opt", "base"), max_steps=STEPS, name="tiny_tracked")
    model, data = _model_and_data(tiny_dir("opt", "base"), root, recipe)
    train(recipe, model, data, tmp_path / "out", progress=False, log_with="wandb")
    import wandb

    wandb.teardown()  # the run file is written by W&B's service process: wait for it to finish
    (run_file,) = glob.glob(str(tmp_path / "out/logs/wandb/offline-run-*/run-*.wandb"))
    rows = [r for r in _wandb_history(run_file) if "train/loss" in r]
    assert [r["_step"] for r in rows] == list(range(1, STEPS + 1))
    np.testing.assert_allclose([r["train/loss"] for r in rows], _logged_losses(tmp_path / "out"), rtol=1e-12)


def test_mlflow_file_store_holds_the_loss_curve(tiny_dir, recipe_file, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from blip2.training.trainer import train

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    path, root = recipe_file
    recipe = tiny_recipe(tiny_dir("opt", "base"), max_steps=STEPS, name="tiny_tracked")
    model, data = _model_and_data(tiny_dir("opt", "base"), root, recipe)
    train(recipe, model, data, tmp_path / "out", progress=False, log_with="mlflow")
    client = MlflowClient((tmp_path / "out/logs/mlruns").as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "tiny_tracked"]
    (run,) = client.search_runs([experiment.experiment_id])
    history = sorted(client.get_metric_history(run.info.run_id, "train/loss"), key=lambda m: m.step)
    assert [m.step for m in history] == list(range(1, STEPS + 1))
    np.testing.assert_allclose([m.value for m in history], _logged_losses(tmp_path / "out"), rtol=1e-12)
    assert run.data.params["lr"] == str(recipe.lr)


def test_a_tracker_that_is_not_installed_is_named_before_any_work(recipe_file, tmp_path, monkeypatch, capsys):
    real = tracking.importlib.util.find_spec
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else
                        real(name, *a))
    path, root = recipe_file
    out = tmp_path / "out"
    assert main(["train", "--recipe", str(path), "--data-root", str(root), "--output", str(out),
                 "--log-with", "mlflow"]) == 2
    assert "pip install mlflow-skinny" in capsys.readouterr().err
    assert not out.exists()
    assert main(["run", "--task", "gqa", "--model", "toy-opt", "--log-with", "mlflow"]) == 2
    assert "pip install mlflow-skinny" in capsys.readouterr().err


def test_the_default_is_tensorboard_when_installed(monkeypatch):
    assert tracking.choose_tracker(None) == "tensorboard"
    assert tracking.choose_tracker("none") is None
    real = tracking.importlib.util.find_spec
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else
                        real(name, *a))
    assert tracking.choose_tracker(None) is None


def test_bench_run_logs_each_runs_final_metrics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = tmp_path / "runs"
    folders = [write_run(runs, "m", "gqa", "test-dev", {"accuracy": 44.5}).parent,
               write_run(runs, "m", "nocaps", "val", {"CIDEr": 120.25, "SPICE": None,
                                                      "by_domain": {"in-domain": {"CIDEr": 110.0}}}).parent]
    (logs,) = log_final_metrics("tensorboard", folders)
    assert logs == runs / "m/logs"
    (events,) = {p.parent for p in logs.rglob("events.out.tfevents.*") if p.parent.name == "m"}
    reader = EventAccumulator(str(events))
    reader.Reload()
    found = {tag: reader.Scalars(tag)[0].value for tag in reader.Tags()["scalars"]}
    assert found == pytest.approx({"gqa-test-dev/accuracy": 44.5, "nocaps-val/CIDEr": 120.25,
                                   "nocaps-val/CIDEr/in-domain": 110.0})
