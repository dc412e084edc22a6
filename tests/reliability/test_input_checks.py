"""Fault injection for bad values the reviewer found: each is exit 2 naming the flag or value, no traceback,
and where the check must come first, nothing is loaded, built, trained or written."""

from __future__ import annotations

import pytest

import blip2.api
import toyworld.data
from bench.cli import main
from blip2.errors import ModelInputError, ModelSourceError, UnknownModelError
from blip2.training import load_recipe
from blip2.training.recipe import RecipeError


@pytest.fixture
def nothing_loaded(monkeypatch):
    """Fail the test if a model is loaded or a toy root is built."""
    def forbidden(*args, **kwargs):
        raise AssertionError("loaded or built before the check")

    monkeypatch.setattr(blip2.api, "load_model", forbidden)
    monkeypatch.setattr(toyworld.data, "ensure_root", forbidden)


def refused(argv, capsys, *named: str) -> str:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for word in named:
        assert word in err, (word, err)
    return err


@pytest.mark.parametrize("argv,named", [
    (["toy-ceiling", "--model", "nosuch"], ["--model", "nosuch"]),
    (["toy-ceiling", "--model", ""], ["--model"]),
    (["toy-ceiling", "--model", "toy-qformer"], ["--model", "toy-qformer"]),
    (["toy-itm-negatives", "--model", "toy-qformr"], ["--model", "toy-qformr", "Did you mean 'toy-qformer'"]),
    (["toy-itm-negatives", "--model", "no/such/folder/"], ["--model", "no/such/folder"]),
    (["toy-itm-negatives", "--model", "toy-opt"], ["--model", "toy-opt"]),
    (["toy-itm-negatives", "--batches", "0"], ["--batches"]),
    (["toy-itm-negatives", "--seed", "-1"], ["--seed", "-1"]),
    (["toy-chance", "--seed", "-5"], ["--seed", "-5"]),
    (["toy-position-probe", "--model", "nosuch"], ["--model", "nosuch"]),
    (["toy-position-probe", "--model", "toy-qformer"], ["--model", "toy-qformer"]),
])
def test_toy_commands_check_before_building_or_loading(argv, named, nothing_loaded, capsys):
    refused(argv, capsys, *named)


def test_toy_data_refuses_a_negative_seed(tmp_path, capsys):
    refused(["toy-data", "--out", str(tmp_path / "toy"), "--seed", "-2"], capsys, "--seed", "-2")
    assert not (tmp_path / "toy").exists()


def test_model_source_errors_are_user_errors_and_keep_their_old_bases(tmp_path):
    with pytest.raises(UnknownModelError, match="Did you mean 'toy-qformer'") as caught:
        blip2.api.load_model("toy-qformr")
    assert isinstance(caught.value, (ModelInputError, FileNotFoundError))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSourceError) as caught:
        blip2.api.load_model(str(tmp_path / "empty"))
    assert isinstance(caught.value, ValueError) and str(tmp_path / "empty") in str(caught.value)
    (tmp_path / "x.pth").write_bytes(b"")
    with pytest.raises(ValueError, match="--arch"):
        blip2.api.load_model(str(tmp_path / "x.pth"))


@pytest.mark.parametrize("overrides,field", [
    ({"max_steps": "abc"}, "max_steps"), ({"max_steps": -1}, "max_steps"), ({"max_steps": 0}, "max_steps"),
    ({"batch_size": 0}, "batch_size"), ({"grad_accum": 0}, "grad_accum"), ({"lr": 0}, "lr"),
    ({"lr": float("nan")}, "lr"), ({"min_lr": -1e-5}, "min_lr"), ({"weight_decay": float("inf")}, "weight_decay"),
    ({"betas": [0.9, 1.0]}, "betas"), ({"betas": [0.9]}, "betas"), ({"warmup_steps": -1}, "warmup_steps"),
    ({"layer_decay": 0}, "layer_decay"), ({"drop_path": 1.0}, "drop_path"), ({"seed": 1.5}, "seed"),
    ({"image_size": True}, "image_size"), ({"precision": "fp8"}, "precision"), ({"log_every": 0}, "log_every"),
])
def test_recipe_values_are_checked(overrides, field):
    with pytest.raises(RecipeError, match=field):
        load_recipe("toy_stage1").with_overrides(overrides)


def test_recipe_good_overrides_still_pass():
    recipe = load_recipe("toy_stage1").with_overrides({"max_steps": 3, "batch_size": 4, "lr": 1e-3})
    assert (recipe.max_steps, recipe.batch_size, recipe.lr) == (3, 4, 1e-3)


@pytest.mark.parametrize("setting", ["max_steps=abc", "max_steps=-1", "batch_size=0"])
def test_train_refuses_bad_set_values_before_training(setting, tmp_path, capsys):
    refused(["train", "--recipe", "toy_stage1", "--output", str(tmp_path / "out"), "--set", setting], capsys,
            setting.split("=")[0])
    assert not (tmp_path / "out").exists()


def test_train_names_a_missing_data_file_before_building_the_model(tmp_path, capsys, nothing_loaded):
    """A recipe run against the wrong data root stops before any weights load, naming the file it looked for."""
    err = refused(["train", "--recipe", "toy_retrieval", "--data-root", str(tmp_path / "root"), "--output",
                   str(tmp_path / "out"), "--set", "max_steps=2", "--set", 'init_from="toy-qformer"'], capsys,
                  str(tmp_path / "root" / "coco" / "annotations" / "dataset_coco.json"), "--data-root", "data/toy")
    assert "toy_retrieval" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra", [["--seed", "0"], ["--seed", "1"], ["--name", "x"], ["--overwrite"]])
def test_default_job_refuses_a_typed_flag_even_at_its_default(extra, nothing_loaded, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(["run", *extra], capsys, extra[0])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("extra,named", [
    (["--expect-sha256", "abc"], "--expect-sha256"), (["--expect-sha256", "g" * 64], "--expect-sha256"),
    (["--output-dir", ""], "--output-dir"), (["--max-text-tokens", "100000"], "--max-text-tokens"),
])
def test_run_checks_formats_before_loading(extra, named, nothing_loaded, tmp_path, capsys, monkeypatch):
    import blip2.checkpoints.weights_io as weights_io

    monkeypatch.setattr(weights_io, "sha256_file", lambda *a: pytest.fail("hashed weights before the check"))
    monkeypatch.chdir(tmp_path)
    refused(["run", "--task", "flickr30k", "--model", "toy-qformer-coco", *extra], capsys, named)
    assert not any(tmp_path.iterdir())


def test_regress_model_typo_names_the_value_and_suggests(tmp_path, capsys):
    baseline = tmp_path / "b.csv"
    baseline.write_text("table,model,task,split,subset,metric,value\n,toy-opt,vqav2,val,,accuracy,1.0\n")
    refused(["regress", "--baseline", str(baseline), "--runs", str(tmp_path), "--model", "toy-opx"], capsys,
            "--model", "toy-opx", "Did you mean 'toy-opt'")


def test_output_file_that_is_a_folder_suggests_a_file_of_its_kind(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")  # a folder that is not a baseline bundle (those are replaced)
    err = refused(["regress", "--write-baseline", str(tmp_path), "--runs", str(tmp_path)], capsys,
                  "--write-baseline")
    assert "report.md" not in err and ".csv" in err
