"""`python -m bench run` with no arguments: makes the toy root, evaluates every committed toy model on its
tasks, writes the runs and the leaderboard's Toy world section (here on a --limit subset)."""

from __future__ import annotations

import json

import pytest

from bench.cli import main
from bench.default_job import GENERATION_MODELS, RETRIEVAL_MODELS, task_names
from toyworld import TOY_MODELS


@pytest.fixture(scope="module")
def default_job(tmp_path_factory, committed_toy_models):
    here = tmp_path_factory.mktemp("fresh-clone")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(here)  # a fresh checkout: no data/toy, no results/
        assert main(["run", "--limit", "2", "--quiet"]) == 0
        assert not (here / "results/leaderboard.md").exists()  # a --limit run never rewrites the leaderboard
        assert main(["leaderboard", "--runs", "results/runs", "--out", "results"]) == 0
    return here


def test_it_generates_the_toy_root(default_job):
    assert (default_job / "data/toy/manifest.json").is_file()


def test_every_toy_model_runs_on_every_task_of_its_kind(default_job):
    runs = default_job / "results/runs"
    expected = {(m, t) for m in GENERATION_MODELS for t in task_names("generation")}
    expected |= {(m, t) for m in RETRIEVAL_MODELS for t in task_names("retrieval")}
    found = set()
    for path in runs.glob("*/*/metrics.json"):
        record = json.loads(path.read_text())
        found.add((record["model"], record["task"]))
        assert record["provenance"]["zoo"] == record["model"]
        assert record["settings"]["limit"] == 2
        assert record["metrics"], path
    assert found == expected
    assert len(task_names("generation")) == 5 and len(task_names("retrieval")) == 2


def test_the_leaderboard_of_its_runs_has_a_toy_section(default_job):
    board = (default_job / "results/leaderboard.md").read_text()
    toy = board.split("### Toy world", 1)[1].split("## Every number, one per row", 1)[0]  # its pivots
    for model in (*GENERATION_MODELS, *RETRIEVAL_MODELS):
        assert f"| {model} |" in toy
    assert "| task | split | model | accuracy | chance | reference |" in toy  # from bench/data/toy_references.json
    assert set(GENERATION_MODELS + RETRIEVAL_MODELS) <= set(TOY_MODELS)


def test_half_the_arguments_is_an_error(capsys):
    assert main(["run", "--task", "vqav2"]) == 2
    assert "--model" in capsys.readouterr().err


def test_it_writes_the_report_of_its_runs(default_job):
    report = default_job / "results/report"
    runs = [json.loads(p.read_text()) for p in (default_job / "results/runs").glob("*/*/metrics.json")]
    pages = sorted(p.name for p in (report / "runs").glob("*.html"))
    assert pages == sorted(f"{r['model']}--{r['task']}-{r['split']}.html" for r in runs)
    index = (report / "index.html").read_text()
    assert all(f'href="runs/{page}"' in index for page in pages)
    # the leaderboard's pivots: each toy number beside its chance level and its reference
    assert "<h3>Toy world: VQA (accuracy)</h3>" in index and "<th class=num>chance</th>" in index
    assert "<th class=num>reference</th>" in index
    # every pair of generative models gets a compare page per generation task
    assert len(list((report / "compare").glob("*.html"))) == 3 * len(task_names("generation"))


def test_every_page_of_the_toy_report_renders_in_chromium(default_job, chromium):
    from bench.report.chromium import wait_rendered

    report = default_job / "results/report"
    for page in sorted(report.glob("runs/*.html")) + sorted(report.glob("compare/*.html")):
        chromium.get(page.as_uri())
        wait_rendered(chromium, 1)
        rows = int(chromium.find_element("css selector", "section.browser").get_attribute("data-rows"))
        assert len(chromium.find_elements("css selector", ".cards .card")) == min(rows, 50), page
        assert not [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"], page
