"""`bench train --recipe toy-backbones` trains the frozen backbones; `--recipe toy` runs the BLIP-2 chain on the
committed ones (stage 1 -> stage 2 -> fine-tuning). Its outputs are ordinary blip2 models of the toy
architecture, stage 2 really starts from stage 1, and the exported models store each frozen backbone once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import blip2
import tasks
from bench.cli import main
from blip2 import zoo
from blip2.training import load_recipe
from blip2.training.init import from_stage1
from blip2.training.objectives import stage1_loss
from toyworld import TOY_MODELS
from toyworld.backbones import FOLDERS, WEIGHTS_DIR
from toyworld.build import EXPORTS, RECIPES, build_backbones, export_models, shown_path
from toyworld.errors import ToyError


@pytest.fixture(scope="module")
def backbones_build(small_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("toy-backbones")
    code = main(["train", "--recipe", "toy-backbones", "--data-root", str(small_root), "--output", str(out),
                 "--quiet", "--set", "scale=0.004", "--set", "export=false"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def toy_build(small_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("toy-train")
    code = main(["train", "--recipe", "toy", "--data-root", str(small_root), "--output", str(out), "--quiet",
                 "--set", "scale=0.004", "--set", "export=false"])
    assert code == 0
    return out


def test_the_backbones_train_log_and_save(backbones_build):
    report = json.loads((backbones_build / "toy_backbones_build.json").read_text())
    assert {"backbone_vit", "backbone_opt", "backbone_t5", "text_reference_opt",
            "text_reference_t5"} == set(report["seconds"])
    for family in ("opt", "t5"):  # each LLM's text reference, scored on the VQA-kind tasks' default splits
        reference = report["backbones"][family]["text_reference"]
        assert set(reference) == {"vqav2 val", "okvqa test", "gqa test-dev"}
        assert all(0 <= v <= 100 for v in reference.values())
    backbone_log = (backbones_build / "toy_backbones" / "log.jsonl").read_text().splitlines()
    assert {json.loads(x)["backbone"] for x in backbone_log} == {"vit", "OPT", "T5"}
    assert all((backbones_build / "toy_backbones" / name).is_dir() for name in FOLDERS)
    vit = json.loads((backbones_build / "toy_backbones" / "vit" / "metrics.json").read_text())
    assert vit["fresh_scenes"] == 64  # 16000 scaled by 0.004
    assert set(vit["held_out"]) == {"all", "shape", "colour", "size", "empty", "background_colour",
                                    "background_style", "layout_from_pooled"}
    assert all(0 <= v <= 100 for v in vit["held_out"].values())
    assert set(report["losses"]) == {"backbone_vit", "backbone_opt", "backbone_t5"}
    assert len(report["losses"]["backbone_vit"]) == sum(json.loads(x)["backbone"] == "vit" for x in backbone_log)


def test_only_the_named_backbone_is_retrained_and_the_others_kept_with_their_record(backbones_build, small_root,
                                                                                   tmp_path):
    """`--set only=vit`, then `--set only=opt`, each exporting where the next keeps from (as with the committed
    weights): the kept backbones are the earlier files byte for byte, their text references carried over, and
    their times listed under `kept`, outside this build's own seconds; a backbone kept twice keeps the word of
    the build that trained it."""
    exported = tmp_path / "weights"
    shutil.copytree(backbones_build / "toy_backbones", exported)
    first = json.loads((backbones_build / "toy_backbones_build.json").read_text())
    (exported / "backbones_build.json").write_text(json.dumps(first))
    llm_bytes = {f: f.read_bytes() for family in ("opt", "t5") for f in (exported / family).iterdir()}

    build_backbones(small_root, tmp_path / "a", scale=0.004, progress=False, only=("vit",), kept_from=exported,
                    export_root=exported)
    second = json.loads((exported / "backbones_build.json").read_text())
    assert set(second["seconds"]) == {"backbone_vit"} and second["total_seconds"] == second["seconds"]["backbone_vit"]
    assert set(second["kept"]) == {"opt", "t5"}
    for family in ("opt", "t5"):
        assert second["backbones"][family] == first["backbones"][family]
        assert second["kept"][family]["seconds"] == {k: v for k, v in first["seconds"].items() if family in k}
    assert list(second["backbones"]) == list(first["backbones"])  # a full build's order, kept or not
    assert all(f.read_bytes() == data for f, data in llm_bytes.items())
    log = (tmp_path / "a" / "toy_backbones" / "log.jsonl").read_text().splitlines()
    logged = {json.loads(x)["backbone"] for x in log}
    assert logged == {"vit"}

    build_backbones(small_root, tmp_path / "b", scale=0.004, progress=False, only=("opt",), kept_from=exported,
                    export_root=exported)
    third = json.loads((exported / "backbones_build.json").read_text())
    assert set(third["seconds"]) == {"backbone_opt", "text_reference_opt"}
    assert third["kept"]["t5"] == second["kept"]["t5"]  # still the first build's word and time
    assert third["kept"]["vit"]["seconds"] == second["seconds"]
    assert third["backbones"]["vit"] == second["backbones"]["vit"]


@pytest.mark.parametrize("flags, named", [
    (["--set", "only=vitt"], "--set only='vitt'"),
    (["--set", "only=[]"], "--set only=[]"),
    (["--set", "only=vit", "--set", "scale=0.004"], "built at scale 1"),  # the committed LLMs are full scale
    (["--recipe", "toy", "--set", "only=vit"], "got ['only']"),
])
def test_a_wrong_only_is_refused_before_any_training(flags, named, small_root, tmp_path, capsys):
    recipe = [] if "--recipe" in flags else ["--recipe", "toy-backbones"]
    code = main(["train", *recipe, *flags, "--data-root", str(small_root), "--output", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and named in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("broken, named", [
    ("no record", r"backbones_build\.json: cannot read"),
    ("no folder", r"has no built t5 to keep"),
])
def test_a_kept_backbone_without_its_record_or_folder_is_named_before_any_training(broken, named, small_root,
                                                                                   tmp_path):
    kept = tmp_path / "kept"
    shutil.copytree(WEIGHTS_DIR, kept)
    if broken == "no record":
        (kept / "backbones_build.json").unlink()
    else:
        shutil.rmtree(kept / "t5")
    with pytest.raises(ToyError, match=named):
        build_backbones(small_root, tmp_path / "out", scale=0.004, progress=False, only=("vit",), kept_from=kept)
    assert not (tmp_path / "out").exists()


def test_every_step_trains_logs_and_saves_on_the_committed_backbones(toy_build):
    report = json.loads((toy_build / "toy_build.json").read_text())
    assert set(report["seconds"]) == set(RECIPES)  # the backbones are not trained again
    for name in FOLDERS:  # but copied, whole, for the recipes' run:toy_backbones/... paths
        for file in (WEIGHTS_DIR / name).iterdir():
            assert (toy_build / "toy_backbones" / name / file.name).read_bytes() == file.read_bytes()
    for name in RECIPES:
        log = [json.loads(x) for x in (toy_build / name / "log.jsonl").read_text().splitlines()]
        assert log and all("loss" in r and r["loss"] == r["loss"] for r in log), name
        assert (toy_build / name / "model" / "model.safetensors").is_file()
        # every step's loss, so that a rebuild can be compared with the committed build step by step
        assert report["losses"][name] == [r["loss"] for r in log], name
    assert set(report["losses"]) == set(RECIPES)


def test_exported_models_are_the_zoo_architectures_in_fp16(toy_build, tmp_path):
    first, again = {}, {}
    exported = export_models(toy_build, tmp_path, first)
    assert set(first.values()) == {"new"}
    export_models(toy_build, tmp_path, again)  # the same weights over themselves
    assert all(v.startswith("identical") for v in again.values()), again
    assert set(exported) == set(EXPORTS)
    assert exported["toy-opt"] == str(tmp_path / "toy-opt")  # outside the working directory: absolute
    shared = {}
    for name, folder in exported.items():
        model = blip2.load_model(folder)
        assert model.cfg == zoo.get(name).config(), name
        tensors = load_file(f"{folder}/model.safetensors")
        assert all(t.dtype == torch.float16 for t in tensors.values() if t.is_floating_point())
        assert model.tokenizer is not None
        trained = load_file(str(toy_build / EXPORTS[name] / "model" / "model.safetensors"))
        for key, value in model.state_dict().items():  # own tensors as fp16, frozen backbones exactly
            if key in trained:
                assert torch.equal(value, trained[key].half().float() if key in tensors else trained[key]), key
        shared[name] = {Path(f).relative_to(WEIGHTS_DIR).as_posix() for f in model.source["files"][1:]}
        assert not any(k.startswith(("llm.", "vision.trunk.")) for k in tensors) or name.endswith("-coco"), name
    # each frozen backbone is stored once, in its committed file; a fine-tuned ViT stays with its model
    assert shared == {"toy-qformer": {"vit/vision.safetensors"},
                      "toy-opt": {"opt/model.safetensors", "vit/vision.safetensors"},
                      "toy-t5": {"t5/model.safetensors", "vit/vision.safetensors"},
                      "toy-opt-coco": {"opt/model.safetensors"}, "toy-qformer-coco": set()}


def test_stage2_starts_from_the_stage1_qformer(toy_build):
    stage1 = blip2.load_model(toy_build / "toy_stage1" / "model")
    stage2 = from_stage1(stage1, zoo.get("toy-opt").config())
    s1, s2 = stage1.qformer.state_dict(), stage2.qformer.state_dict()
    assert s2.keys() < s1.keys()  # the text branch is dropped
    assert all(torch.equal(s1[k], s2[k]) for k in s2)
    assert all(torch.equal(v, stage2.vision.state_dict()[k]) for k, v in stage1.vision.state_dict().items())


def test_frozen_backbones_are_loaded_into_the_recipes(toy_build):
    stage1 = blip2.load_model(toy_build / "toy_stage1" / "model")
    vit = load_file(str(toy_build / "toy_backbones" / "vit" / "vision.safetensors"))
    trunk = {k.removeprefix("trunk."): v for k, v in vit.items() if k.startswith("trunk.")}
    assert all(torch.equal(stage1.vision.trunk.state_dict()[k], v) for k, v in trunk.items())  # stayed frozen
    opt = blip2.load_model(toy_build / "toy_stage2_opt" / "model")
    from transformers import AutoModelForCausalLM

    llm = AutoModelForCausalLM.from_pretrained(toy_build / "toy_backbones" / "opt")
    assert all(torch.equal(opt.llm.state_dict()[k], v) for k, v in llm.state_dict().items())


def test_itc_itm_objectives_drop_the_itg_loss(toy_build, small_root):
    from blip2.training.run import recipe_dataset
    from blip2.training.trainer import collate

    model = blip2.load_model(toy_build / "toy_stage1" / "model")
    recipe = load_recipe("toy_stage1")
    batch = collate([recipe_dataset(recipe, small_root, model)[i] for i in range(4)])
    torch.manual_seed(0)
    full, parts = stage1_loss(model, batch, recipe)
    torch.manual_seed(0)
    ablated, _ = stage1_loss(model, batch, recipe.with_overrides({"objectives": ["itc", "itm"]}))
    assert full.item() == pytest.approx(parts["itc"] + parts["itm"] + parts["itg"], rel=1e-5)
    assert ablated.item() == pytest.approx(parts["itc"] + parts["itm"], rel=1e-5)


def test_toy_recipes_are_the_paper_recipes_scaled_down():
    for name in RECIPES:
        recipe = load_recipe(name)
        assert recipe.weight_decay == 0.05 and recipe.model in TOY_MODELS
        assert recipe.freeze_vit is (recipe.stage in ("stage1", "stage2"))
        assert recipe.betas == ((0.9, 0.98) if recipe.stage in ("stage1", "stage2") else (0.9, 0.999))
    assert load_recipe("toy_stage2_opt").min_lr == load_recipe("toy_stage2_opt").lr / 2
    with pytest.raises(ValueError, match="objectives"):
        load_recipe("toy_stage1").with_overrides({"objectives": ["itc", "mlm"]})


def test_findings_train_the_ablations_and_write_both_tables(toy_build, small_root, tmp_path, monkeypatch):
    """`bench train --recipe toy-findings` (tiny scale): Figure 5's stage 2 from a fresh Q-Former and
    Table 6's ITC+ITM-only stage 1 + retrieval are trained under their own names, evaluated beside the
    reference models, and written as JSON and Markdown."""
    from bench.commands.train import compare_folders, evaluate_folder
    from toyworld.analyses.findings import FIG5_TASKS, TABLE5_METRICS, TABLE6_METRICS, TABLE6_TASKS, run_findings

    monkeypatch.setenv("BLIP2_DATA", str(small_root))  # run_findings only sets it when unset
    findings = run_findings(small_root, toy_build, evaluate_folder, compare_folders, scale=0.004, progress=False,
                            results=tmp_path)
    runs = toy_build / "findings-runs"
    for family in ("opt", "t5"):
        assert set(findings["figure5"][family]) == set(FIG5_TASKS)
        for task, metrics in findings["figure5"][family].items():
            # A = without stage 1, B = with stage 1, each the run's own accuracy (the same samples on both sides)
            cells = metrics["accuracy"]
            folder = runs / f"toy-{family}-no-stage1" / f"{task}-{tasks.get(task).default_split}"
            without = json.loads((folder / "metrics.json").read_text())
            assert cells["a"] == pytest.approx(without["metrics"]["accuracy"], abs=0.01)
            assert cells["delta"] == pytest.approx(cells["b"] - cells["a"])
            low, high = cells["ci95"]
            assert low <= cells["delta"] <= high and 0 <= cells["p_value"] <= 1
        ablated = blip2.load_model(toy_build / f"toy_stage2_{family}_no_stage1" / "model")
        reference = blip2.load_model(toy_build / f"toy_stage2_{family}" / "model")
        assert not torch.equal(ablated.qformer.query_tokens, reference.qformer.query_tokens)
    assert set(findings["table6"]) == set(TABLE6_TASKS)
    assert all(set(by_metric) == set(TABLE6_METRICS) for by_metric in findings["table6"].values())
    # Table 5's mechanism: one model, ITC's top 1 (k=1) against k=128 re-ranking, each side its run's own R@1
    for task in TABLE6_TASKS:
        assert set(findings["table5"][task]) == set(TABLE5_METRICS)
        split = tasks.get(task).default_split
        itc = json.loads((runs / "toy-qformer-coco-itc-only" / f"{task}-{split}" / "metrics.json").read_text())
        reranked = json.loads((runs / "toy-qformer-coco" / f"{task}-{split}" / "metrics.json").read_text())
        assert itc["settings"]["k_test"] == 1 and reranked["settings"]["k_test"] == 128
        for metric in TABLE5_METRICS:
            assert findings["table5"][task][metric]["a"] == pytest.approx(itc["metrics"][metric], abs=0.01)
            assert findings["table5"][task][metric]["b"] == pytest.approx(reranked["metrics"][metric], abs=0.01)
    assert findings["training_seeds"] == 1 and "training seeds" in findings["note"]
    assert (toy_build / "toy_stage1_no_itg" / "model").is_dir()
    assert (toy_build / "toy_retrieval_no_itg" / "model").is_dir()
    assert json.loads((tmp_path / "toy-findings.json").read_text())["table6"] == findings["table6"]
    markdown = (tmp_path / "toy-findings.md").read_text()
    assert "## Figure 5" in markdown and "## Table 6" in markdown and "## Table 5" in markdown and "95% CI" in markdown
    assert "| coco_retrieval | IR@1 |" in markdown and "**Training seeds.**" in markdown


def test_a_rebuild_retraces_the_recorded_build_step_by_step(toy_build, small_root, tmp_path, monkeypatch, capsys):
    """The same tiny build again, compared with the first one's record (one step altered on purpose):
    every other backbone and recipe retraces it loss for loss."""
    record = json.loads((toy_build / "toy_build.json").read_text())
    record["losses"]["toy_stage1"][1] += 1.0
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "toy_build.json").write_text(json.dumps(record))
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--recipe", "toy", "--data-root", str(small_root), "--output", "again", "--quiet",
                 "--set", "scale=0.004", "--set", "export=false"])
    assert code == 0
    lines = {line.split(":")[0].strip(): line for line in capsys.readouterr().out.splitlines()
             if "loss trace vs" in line}
    assert set(lines) == set(record["losses"])
    assert "first differs at step 2" in lines["toy_stage1"]
    assert all("identical" in line for name, line in lines.items() if name != "toy_stage1"), lines


def test_build_records_show_paths_under_the_working_directory_relative(tmp_path, monkeypatch):
    """A committed build record must read the same from every clone, not name the machine that built it."""
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "toyworld" / "models" / "toy-opt") == "toyworld/models/toy-opt"
    assert shown_path(Path("toyworld/models")) == "toyworld/models"
    elsewhere = tmp_path.parent / "elsewhere"
    assert shown_path(elsewhere) == str(elsewhere)
