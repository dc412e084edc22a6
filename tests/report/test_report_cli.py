"""`bench report`'s command line: what it accepts, and bad input as one clear line with exit 2 (no traceback)."""

from __future__ import annotations

import pytest

from bench.report.build import MARKER
from tests.bench.helpers import bench, bench_here


def _refused(result, *words: str) -> None:
    assert result.returncode == 2, result
    err = result.stderr
    assert err.startswith("error: "), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)


def test_it_takes_a_runs_directory_a_run_or_one_task_folder(world, tmp_path):
    one = bench_here("report", str(world.folder("model-a", "flickr30k", "test")), "--output", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr
    assert [p.name for p in (tmp_path / "one" / "runs").iterdir()] == ["model-a--flickr30k-test.html"]
    assert f"open {(tmp_path / 'one' / 'index.html').resolve().as_uri()}" in one.stdout
    run = bench_here("report", str(world.runs / "model-b"), "--output", str(tmp_path / "run"), "--no-compare")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "run" / "runs").iterdir()) == [
        "model-b--coco_caption-karpathy-test.html", "model-b--vqav2-val.html"]
    assert not (tmp_path / "run" / "compare").exists()


def test_compare_asks_for_exactly_the_pairs_named(world, tmp_path):
    a, b = world.folder("model-a", "vqav2", "val"), world.folder("model-b", "vqav2", "val")
    done = bench_here("report", str(world.runs), "--output", str(tmp_path / "r"), "--compare", str(b), str(a),
                      "--bootstrap-iters", "20")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "r" / "compare").iterdir()] == [
        "model-b--vqav2-val--vs--model-a--vqav2-val.html"]


def test_a_second_report_replaces_the_first_and_nothing_else(world, tmp_path):
    out = tmp_path / "r"
    assert bench_here("report", str(world.runs), "--output", str(out), "--no-compare").returncode == 0
    assert (out / MARKER).is_file() and (out / "runs" / "model-a--vqav2-val.html").is_file()
    again = bench_here("report", str(world.runs / "model-b"), "--output", str(out), "--no-compare")
    assert again.returncode == 0, again.stderr
    assert not (out / "runs" / "model-a--vqav2-val.html").exists()  # the earlier report's pages are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no building or old folder left behind


def test_a_thumbnail_budget_stops_thumbnails_with_a_note(world, tmp_path):
    small = bench_here("report", str(world.folder("model-a", "vqav2", "val")), "--output", str(tmp_path / "small"),
                       "--thumbnail-budget-mb", "0.002")
    assert small.returncode == 0, small.stderr
    written = list((tmp_path / "small" / "thumbs").glob("*.jpg"))
    assert 0 < len(written) and sum(p.stat().st_size for p in written) <= 0.002 * 2**20
    assert "have no thumbnail: the thumbnails reached their budget" in small.stdout
    assert "--thumbnail-budget-mb" in (tmp_path / "small" / "index.html").read_text(encoding="utf-8")
    off = bench_here("report", str(world.folder("model-a", "vqav2", "val")), "--output", str(tmp_path / "off"),
                     "--thumbnail-budget-mb", "0")
    assert off.returncode == 0 and "thumbnails are off" in off.stdout
    assert not list((tmp_path / "off").glob("thumbs/*"))


@pytest.mark.parametrize("case", ["missing", "no-metrics", "output-file", "output-foreign", "compare-other-task",
                                  "compare-outside", "compare-same", "no-compare-iters", "budget", "data-root",
                                  "data-root-empty"])
def test_bad_input_is_one_line_and_exit_2(case, world, tmp_path):
    runs = str(world.runs)
    vqa_a = str(world.folder("model-a", "vqav2", "val"))
    out = str(tmp_path / "out")
    args, words = {
        "missing": ([str(tmp_path / "nowhere"), "--output", out], ["no such folder", "nowhere"]),
        "no-metrics": ([str(tmp_path), "--output", out], ["holds no metrics.json"]),
        "output-file": ([runs, "--output", str(world.runs / "model-a" / "vqav2-val" / "metrics.json")],
                        ["--output", "is a file"]),
        "output-foreign": ([runs, "--output", str(world.root)], ["--output", "holds other files"]),
        "compare-other-task": ([runs, "--output", out, "--compare", vqa_a,
                                str(world.folder("model-a", "flickr30k", "test"))], ["--compare", "same task"]),
        "compare-outside": ([str(world.runs / "model-b"), "--output", out, "--compare", vqa_a,
                             str(world.folder("model-b", "vqav2", "val"))], ["not among the report's RUN_FOLDERS"]),
        "compare-same": ([runs, "--output", out, "--compare", vqa_a, vqa_a], ["same run"]),
        "no-compare-iters": ([runs, "--output", out, "--no-compare", "--bootstrap-iters", "10"],
                             ["--bootstrap-iters", "--no-compare"]),
        "budget": ([runs, "--output", out, "--thumbnail-budget-mb", "-1"], ["--thumbnail-budget-mb"]),
        "data-root": ([runs, "--output", out, "--data-root", str(tmp_path / "nowhere")], ["--data-root"]),
        "data-root-empty": ([vqa_a, "--output", out, "--data-root", str(tmp_path)], ["--data-root", "cannot read"]),
    }[case]
    _refused(bench_here("report", *args), *words)
    assert not (tmp_path / "out").exists()  # nothing written


def test_the_installed_entry_point_refuses_bad_input_the_same_way(tmp_path):
    _refused(bench("report", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out")), "no such folder")
