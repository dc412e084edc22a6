"""No flag is silently ignored: walked from the parsers themselves, so a new flag must be classified here.

For `bench run`, each flag on each task kind either changes what metrics.json records or exits 2 naming the
flag. The task-setting flags are checked through the functions that build the recorded settings (no model
runs); the others through a few real runs of a tiny model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import build_parser, main
from bench.commands.run import request_from_args
from bench.errors import BenchError
from bench.runner.checks import check_model_fits, check_request, recorded_settings
from blip2.checkpoints.peek import peek_config
from blip2.checkpoints.weights_io import sha256_file
from tasks import get as get_task


def subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if not isinstance(a, argparse._HelpAction)}


# bench run: a non-default value for every flag that sets a task setting or a recorded run setting
SETTING_FLAGS = {
    "batch_size": ["--batch-size", "3"], "num_workers": ["--num-workers", "1"], "seed": ["--seed", "7"],
    "limit": ["--limit", "1"], "image_size": ["--image-size", "42"], "vqa_scorer": ["--vqa-scorer", "official"],
    "skip_bad": ["--skip-bad"], "num_beams": ["--num-beams", "2"], "max_new_tokens": ["--max-new-tokens", "7"],
    "min_new_tokens": ["--min-new-tokens", "2"], "length_penalty": ["--length-penalty", "0.5"],
    "repetition_penalty": ["--repetition-penalty", "1.3"], "prompt": ["--prompt", "Q: {} A:"],
    "k_test": ["--k-test", "5"], "max_text_tokens": ["--max-text-tokens", "20"],
}
# the flags that say what to run, where, and how; each is checked by a real run below
RUN_FLAGS = {"task", "model", "arch", "split", "data_root", "output_dir", "name", "device", "precision", "quiet",
             "overwrite", "expect_sha256", "allow_outside_data_root", "bootstrap_iters", "bootstrap_seed",
             "log_with"}
KINDS = {"vqa": ("vqav2", "opt"), "caption": ("coco_caption", "opt"), "retrieval": ("flickr30k", "itm")}


def test_every_run_flag_is_classified():
    assert set(flags(subparsers()["run"])) == set(SETTING_FLAGS) | RUN_FLAGS


def test_every_flag_of_every_subcommand_shows_its_default():
    """Help text says the default (the formatter adds it, or the text gives it); required flags have none."""
    for name, parser in subparsers().items():
        formatter = parser._get_formatter()
        for dest, action in flags(parser).items():
            if action.required or any(action in g._group_actions and g.required
                                      for g in parser._mutually_exclusive_groups):
                continue
            assert action.help, f"bench {name}: {dest} has no help text"
            assert "default" in formatter._expand_help(action).lower(), f"bench {name}: {dest} shows no default"


def request_for(model_dir, task: str, extra: list[str], tmp_path):
    args = build_parser().parse_args(["run", "--task", task, "--model", str(model_dir), "--output-dir",
                                      str(tmp_path / "runs"), *extra])
    return request_from_args(args)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dest", list(SETTING_FLAGS))
def test_a_setting_flag_changes_the_record_or_is_refused(kind, dest, tiny_dir, tmp_path):
    task_name, family = KINDS[kind]
    model = tiny_dir(family, "base")
    cfg = peek_config(model)
    task = get_task(task_name)
    base = recorded_settings(request_for(model, task_name, [], tmp_path), task, cfg)
    request = request_for(model, task_name, SETTING_FLAGS[dest], tmp_path)
    try:
        check_request(request)
        check_model_fits(request, cfg, request.tasks)
    except BenchError as exc:
        assert SETTING_FLAGS[dest][0] in str(exc), str(exc)
        return
    assert recorded_settings(request, task, cfg) != base, f"{SETTING_FLAGS[dest][0]} is ignored on {task_name}"


REFUSED = [("vqa", "k_test"), ("caption", "max_text_tokens"), ("retrieval", "num_beams"), ("retrieval", "prompt"),
           ("caption", "prompt"), ("caption", "vqa_scorer"), ("retrieval", "skip_bad")]


@pytest.mark.parametrize("kind,dest", REFUSED)
def test_flags_a_task_does_not_use_are_refused(kind, dest, tiny_dir, tmp_path):
    """The walk above is not vacuous: these pairs must be refusals naming the flag and the task."""
    task_name, family = KINDS[kind]
    model = tiny_dir(family, "base")
    request = request_for(model, task_name, SETTING_FLAGS[dest], tmp_path)
    with pytest.raises(BenchError, match=SETTING_FLAGS[dest][0]) as caught:
        check_request(request)
        check_model_fits(request, peek_config(model), request.tasks)
    assert task_name in str(caught.value)


# --- the run flags, through real runs of a tiny model ------------------------------------------------------


def run(tmp_path, model, data_root, capsys, *extra, out="runs", task="vqav2"):
    capsys.readouterr()
    code = main(["run", "--task", task, "--model", str(model), "--data-root", str(data_root), "--output-dir",
                 str(tmp_path / out), "--limit", "2", "--batch-size", "2", "--max-new-tokens", "2", *extra])
    return code, capsys.readouterr().err


def record(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_run_flags_change_the_record_or_are_refused(tiny_dir, data_root, tmp_path, capsys):
    model = tiny_dir("opt", "base")
    code, err = run(tmp_path, model, data_root, capsys, "--quiet")
    assert code == 0, err
    assert "sample/s" not in err and "it/s" not in err  # --quiet: no progress bar
    base = record(tmp_path / "runs" / model.name / "vqav2-val")

    code, err = run(tmp_path, model, data_root, capsys, out="loud")  # without --quiet: a progress bar
    assert code == 0 and "sample" in err

    assert run(tmp_path, model, data_root, capsys, "--quiet", "--name", "other")[0] == 0
    assert record(tmp_path / "runs/other/vqav2-val")["model"] == "other" != base["model"]

    assert run(tmp_path, model, data_root, capsys, "--quiet", "--task", "okvqa")[0] == 0  # the later --task wins
    okvqa = f"okvqa-{get_task('okvqa').default_split}"
    assert record(tmp_path / "runs" / model.name / okvqa)["task"] == "okvqa"

    assert run(tmp_path, model, data_root, capsys, "--quiet", "--precision", "bf16", out="bf16")[0] == 0
    assert record(tmp_path / "bf16" / model.name / "vqav2-val")["provenance"]["precision"] != \
        base["provenance"]["precision"]

    digest = sha256_file(model / "model.safetensors")
    assert run(tmp_path, model, data_root, capsys, "--quiet", "--expect-sha256", digest, out="sha")[0] == 0
    assert record(tmp_path / "sha" / model.name / "vqav2-val")["provenance"]["checkpoint"]["expected_sha256"] == \
        digest
    code, err = run(tmp_path, model, data_root, capsys, "--quiet", "--expect-sha256", "0" * 64, out="badsha")
    assert code == 2 and "sha256" in err

    assert run(tmp_path, model, data_root, capsys, "--quiet", "--log-with", "tensorboard", out="tracked")[0] == 0
    assert list((tmp_path / "tracked" / model.name / "logs").rglob("events.out.tfevents.*"))
    assert not (tmp_path / "runs" / model.name / "logs").exists()

    assert run(tmp_path, model, data_root, capsys, "--quiet", "--allow-outside-data-root", out="outside")[0] == 0
    assert record(tmp_path / "outside" / model.name / "vqav2-val")["settings"]["allow_outside_data_root"] is True
    assert base["settings"]["allow_outside_data_root"] is False

    # the intervals: how many resamples, which seed, or none
    assert base["ci"]["resamples"] == 1000 and base["ci"]["seed"] == 0 and "ci95" in base
    assert run(tmp_path, model, data_root, capsys, "--quiet", "--bootstrap-iters", "0", out="noci")[0] == 0
    assert "ci95" not in record(tmp_path / "noci" / model.name / "vqav2-val")
    assert run(tmp_path, model, data_root, capsys, "--quiet", "--bootstrap-seed", "3", out="seed3")[0] == 0
    assert record(tmp_path / "seed3" / model.name / "vqav2-val")["ci"]["seed"] == 3
    code, err = run(tmp_path, model, data_root, capsys, "--quiet", "--bootstrap-iters", "-1", out="refused")
    assert code == 2 and "--bootstrap-iters" in err

    # --overwrite: another setting in the same folder is refused without it and replaces the run with it
    code, err = run(tmp_path, model, data_root, capsys, "--quiet", "--seed", "5")
    assert code == 2 and "--overwrite" in err
    assert run(tmp_path, model, data_root, capsys, "--quiet", "--seed", "5", "--overwrite")[0] == 0
    assert record(tmp_path / "runs" / model.name / "vqav2-val")["settings"]["seed"] == 5

    for extra, flag in ((["--arch", "vitg-opt2.7b"], "--arch"), (["--device", "nodevice"], "--device"),
                        (["--split", "nosuch"], "--split"), (["--data-root", str(tmp_path / "none")], "none")):
        code, err = run(tmp_path, model, data_root, capsys, "--quiet", *extra, out="refused")
        assert code == 2 and flag in err, (extra, err)


def test_other_data_root_and_split_are_recorded(tiny_dir, data_root, tmp_path, capsys):
    model = tiny_dir("opt", "base")
    assert run(tmp_path, model, data_root, capsys, "--quiet", "--split", "val")[0] == 0
    rec = record(tmp_path / "runs" / model.name / "vqav2-val")
    assert rec["split"] == "val" and rec["provenance"]["data_root"] == str(data_root)


# --- bench score: a scorer flag on a task whose scorer does not use it is refused --------------------------

SCORE_TASK_FLAGS = {"vqa_scorer": (["--vqa-scorer", "official"], {"vqa"}), "lemmatize": (["--lemmatize"], {"vqa"}),
                    "itc_only": (["--itc-only"], {"retrieval"}),
                    "allow_partial": (["--allow-partial"], {"vqa", "caption"}),
                    "allow_empty": (["--allow-empty"], {"vqa", "caption"})}
SCORE_OTHER_FLAGS = {"task", "split", "predictions", "data_root", "output", "samples", "bootstrap_iters",
                     "bootstrap_seed"}


def test_every_score_flag_is_classified():
    assert set(flags(subparsers()["score"])) == set(SCORE_TASK_FLAGS) | SCORE_OTHER_FLAGS


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dest", list(SCORE_TASK_FLAGS))
def test_score_flag_on_a_task_that_does_not_use_it_is_refused(kind, dest, tmp_path, capsys):
    argv, applies = SCORE_TASK_FLAGS[dest]
    if kind in applies:
        return  # scored for real in tests/registry/test_score_cli.py
    code = main(["score", "--task", KINDS[kind][0], "--predictions", str(tmp_path / "p.json"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and argv[0] in err and KINDS[kind][0] in err


# --- every other subcommand: each flag changes what the command does or says, or is refused naming it ----------
# The functions doing the work are replaced by recorders, so a flag "changes the record" when the calls they get
# (or the printed output) differ from the base command's; nothing trains, generates or loads a model.

BASELINE = pd.DataFrame({"model": ["toy-opt", "toy-t5"], "task": "vqav2", "split": "val", "subset": "",
                         "metric": "accuracy", "value": [10.0, 20.0]})
CURRENT = BASELINE.rename(columns={"model": "run"})
WALK = {  # command: (base argv, {dest: argv added to the base})
    "regress": (["--baseline", "b.csv"], {
        "runs": ["--runs", "other"], "tolerance": ["--tolerance", "accuracy=1"], "model": ["--model", "toy-opt"],
        "run": ["--run", "toy-t5"], "output": ["--output", "report.md"], "allow_partial": ["--allow-partial"],
        "alpha": ["--alpha", "0.01"], "correction": ["--correction", "none"], "format": ["--format", "json"],
        "write_baseline": None, "baseline": None}),
    "regress --write-baseline": (["--write-baseline", "w.csv"], {
        "runs": ["--runs", "other"], "model": ["--model", "toy-opt"], "run": ["--run", "toy-t5"],
        "tolerance": ["--tolerance", "accuracy=1"], "output": ["--output", "report.md"],
        "allow_partial": ["--allow-partial"], "alpha": ["--alpha", "0.05"], "correction": ["--correction", "holm"],
        "format": ["--format", "md"], "write_baseline": None, "baseline": None}),
    "compare": (["a", "b"], {
        "format": ["--format", "json"], "output": ["--output", "c.md"], "bootstrap_iters": ["--bootstrap-iters", "5"],
        "bootstrap_seed": ["--bootstrap-seed", "3"], "top": ["--top", "2"], "run_a": None, "run_b": None}),
    "report": (["runs"], {
        "runs": ["other"], "output": ["--output", "o"], "data_root": ["--data-root", "."],
        "compare": ["--compare", "a", "b"], "no_compare": ["--no-compare"],
        "thumbnail_budget_mb": ["--thumbnail-budget-mb", "5"], "bootstrap_iters": ["--bootstrap-iters", "5"],
        "bootstrap_seed": ["--bootstrap-seed", "3"]}),
    "train": (["--recipe", "toy_stage1"], {
        "recipe": ["--recipe", "toy_stage2_opt"], "data_root": ["--data-root", "d"], "output": ["--output", "o"],
        "set": ["--set", "max_steps=3"], "quiet": ["--quiet"], "log_with": ["--log-with", "none"],
        "allow_pipe_shards": ["--allow-pipe-shards"]}),
    "card": (["--model-id", "me/m", "runs/m"], {
        "runs": ["other"], "model_id": ["--model-id", "me/other"], "source_url": ["--source-url", "https://x.org"],
        "output": ["--output", "CARD.md"], "allow_partial": ["--allow-partial"], "allow_toy": ["--allow-toy"]}),
    "cost": (["--task", "coco_caption", "--model", "vitg-opt2.7b"], {
        "task": ["--task", "nocaps"], "model": ["--model", "vitg-opt6.7b"], "split": ["--split", "test"],
        "gpu": ["--gpu", "H100-80GB"], "utilization": ["--utilization", "0.5"], "data_root": ["--data-root", "d"]}),
    "leaderboard": ([], {"runs": ["--runs", "other"], "out": ["--out", "o"],
                         "tolerance": ["--tolerance", "default=1"]}),
    "list": ([], {"what": ["tasks"]}),
    "paper": ([], {"format": ["--format", "csv"], "table": ["--table", "2"], "blip2_only": ["--blip2-only"]}),
    "toy-data": ([], {"out": ["--out", "o"], "seed": ["--seed", "1"], "size": ["--size", "small"],
                      "overwrite": ["--overwrite"]}),
    "toy-chance": ([], {"data_root": ["--data-root", "d"], "seed": ["--seed", "1"]}),
    "toy-ceiling": ([], {"data_root": ["--data-root", "d"], "model": ["--model", "toy-opt"],
                         "scene": ["--scene", "captions"], "write": ["--write", "refs.json"]}),
    "toy-itm-negatives": ([], {"data_root": ["--data-root", "d"], "model": ["--model", "toy-qformer-coco"],
                               "batches": ["--batches", "2"], "seed": ["--seed", "1"]}),
    "toy-position-probe": ([], {"data_root": ["--data-root", "d"], "model": ["--model", "toy-opt"]}),
}


@pytest.fixture
def recorders(monkeypatch, tmp_path):
    """Replace each command's working function by one that records its arguments; returns the record."""
    import bench.card as card
    import bench.card_file as card_file
    import bench.commands.compare as compare_command
    import bench.commands.cost as cost
    import bench.commands.leaderboard as leaderboard
    import bench.commands.regress as regress
    import bench.commands.toy_data as toy_data
    import bench.report as report
    import bench.toy_references as toy_references
    import blip2.training.run as training_run
    import toyworld.analyses.ceiling as ceiling
    import toyworld.analyses.chance as chance
    import toyworld.analyses.itm_negatives as itm_negatives
    import toyworld.analyses.position_probe as position_probe
    import toyworld.data as toy_root

    calls: list = []

    def rec(name, result):
        return lambda *a, **k: calls.append((name, [str(x) for x in a], {k: str(v) for k, v in k.items()})) or result

    class Trained:
        steps, losses, output_dir, samples_read, bad_samples = 3, [1.0], tmp_path, None, None

    patches = [
        (regress, "collect_runs", rec("collect", [])), (regress, "results_frame", lambda runs: CURRENT),
        (regress, "load_baseline", lambda path, models=None: calls.append(("baseline", models)) or BASELINE),
        (regress, "write_baseline", lambda frame, path: calls.append(("write", frame.to_dict())) or len(frame)),
        (regress, "compare", lambda b, c, t, **k: calls.append(("compare", b.to_dict(), t, k)) or type(
            "Result", (), {"exit_code": 0})()), (regress, "to_markdown", lambda *a: "report\n"),
        (regress, "to_json", lambda *a: "{}\n"),
        (compare_command, "compare_runs", rec("compare", {"metrics": {}})),
        (compare_command, "to_markdown", lambda report: "report\n"),
        (training_run, "run_recipe", lambda r, d, o, progress, log_with=None, allow_pipe_shards=False: calls.append(
            (r.to_dict(), str(d), str(o), progress, log_with, allow_pipe_shards)) or Trained()),
        (card, "read_runs", rec("read", [])), (card, "eval_results", rec("results", ["result"])),
        (card_file, "update_card", rec("update", "card\n")), (card_file, "model_index_name", lambda c, w: None),
        (cost, "estimate_for", rec("estimate", None)), (cost, "format_estimate", rec("format", "")),
        (leaderboard, "collect_runs", rec("collect", [])), (leaderboard, "results_frame", lambda runs: CURRENT),
        (leaderboard, "load_paper_results", lambda: None),
        (leaderboard, "build_leaderboard", lambda p, c, t: calls.append(("build", t)) or pd.DataFrame(
            {"status": ["ok"]})), (leaderboard, "write_leaderboard", rec("write", [])),
        (report, "build_report", rec("report", type("Summary", (), {
            "notes": [], "runs": 1, "comparisons": 0, "bytes": 0, "output": tmp_path, "index": tmp_path / "i"})())),
        (toy_data, "build", rec("build", type("Built", (), {"manifest": {"counts": {"images": 1}}, "written": True,
                                                              "root": tmp_path})()))]
    patches += [(toy_root, "ensure_root", rec("root", tmp_path)), (chance, "chance_metrics", rec("chance", {})),
                (ceiling, "ceiling_metrics", rec("ceiling", {})),
                (toy_references, "build", rec("references", toy_references.ToyReferences((), (), {}))),
                (toy_references, "write", rec("write", tmp_path / "refs.json")),
                (ceiling, "retrieval_ceiling", rec("oracle", {"TR@1": 0.0, "IR@1": 0.0, "ambiguous_texts": 0.0})),
                (itm_negatives, "measure", rec("measure", dict.fromkeys(
                    ("pairs", "negative_text_true", "negative_image_true", "random_text_true", "itm_loss"), 0))),
                (position_probe, "probe_model", rec("probe", dict.fromkeys(position_probe.CONDITIONS, dict.fromkeys(
                    ("questions", "accuracy", "true_axis", "axis_its_preposition_names", "right_side_given_axis",
                     "one_object_accuracy"), 0))))]
    for module, name, fake in patches:
        monkeypatch.setattr(module, name, fake)
    monkeypatch.chdir(tmp_path)
    return calls


def outcome(command: str, argv: list[str], calls: list, capsys) -> tuple[int, str, str, list]:
    calls.clear()
    capsys.readouterr()
    code = main([command.split()[0], *argv])
    out, err = capsys.readouterr()
    return code, out, err, [*calls, sorted(p.name for p in Path().iterdir())]  # the files it wrote too


@pytest.mark.parametrize("command", list(WALK))
def test_every_flag_of_the_other_subcommands_is_classified(command):
    assert set(flags(subparsers()[command.split()[0]])) == set(WALK[command][1])


@pytest.mark.parametrize("command,dest", [(c, d) for c, (_, extras) in WALK.items() for d, x in extras.items() if x])
def test_a_flag_changes_what_the_command_does_or_is_refused(command, dest, recorders, capsys):
    base_argv, extras = WALK[command]
    base = outcome(command, base_argv, recorders, capsys)
    assert base[0] == 0, base[2]
    code, out, err, calls = outcome(command, [*base_argv, *extras[dest]], recorders, capsys)
    assert "Traceback" not in err
    if code == 2:
        assert extras[dest][0] in err, err
        return
    assert code == 0, err
    assert (out, calls) != (base[1], base[3]), f"{command}: {dest} is ignored"


def test_write_baseline_refuses_the_comparison_flags(recorders, capsys):
    """The walk is not vacuous: these must be refusals, and --model must narrow the snapshot."""
    for extra in (["--tolerance", "accuracy=1"], ["--output", "r.md"], ["--allow-partial"], ["--alpha", "0.05"],
                  ["--correction", "holm"], ["--format", "md"]):
        code, _, err, calls = outcome("regress", ["--write-baseline", "w.csv", *extra], recorders, capsys)
        assert code == 2 and extra[0] in err and "Traceback" not in err
        assert calls == [[]]  # refused before reading any run: no call, no file
    code, _, err, calls = outcome("regress", ["--write-baseline", "w.csv", "--model", "toy-t5"], recorders, capsys)
    assert code == 0, err
    assert list(calls[-2][1]["run"].values()) == ["toy-t5"]
