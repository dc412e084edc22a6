"""The leaderboard's pivots: a row per task-split and model with the headline metrics, each beside what it is
read against (the paper, or the toy chance level and reference), and every run in exactly one pivot."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from bench import toy_references
from bench.leaderboard import build_leaderboard, to_markdown
from bench.leaderboard_pivot import HEADLINE, pivot_tables, table_markdown
from bench.paper import load_paper_results
from bench.run_folders import collect_runs, results_frame
from bench.tolerance import parse_tolerances
from bench.toy_references import ReferencesError, ToyReferences
from tests.bench.helpers import REPO_ROOT, write_run

TOLERANCES = parse_tolerances(None, 0.5)
RETRIEVAL = {"TR@1": 85.0, "TR@5": 97.0, "TR@10": 98.5, "IR@1": 68.0, "IR@5": 87.7, "IR@10": 92.6, "TR_mean": 93.5,
             "IR_mean": 82.77, "R_mean": 88.13}
VQAV2 = {"task": "vqav2", "split": "val", "subset": "all", "metric": "accuracy"}
TR1 = {"task": "coco_retrieval", "split": "test", "subset": "all", "metric": "TR@1"}
REFERENCES = ToyReferences(
    chance=({**VQAV2, "value": 37.47}, {**TR1, "value": 1.0}),
    reference=({**VQAV2, "llm": "toy-opt", "value": 64.2}, {**VQAV2, "llm": "toy-t5", "value": 61.0},
               {**TR1, "llm": None, "value": 100.0}),
    toy_root={"seed": 0, "size": "default"})


@pytest.fixture
def frame(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "vitg-flant5xl", "vqav2", "val", {"accuracy": 63.13, "accuracy_by_answer_type": {"yes/no": 84.0}},
              ci95={"accuracy": [62.93, 63.33]})
    write_run(root, "vitg-qformer-coco", "coco_retrieval", "test", RETRIEVAL, n=5000)
    domains = {d: {"CIDEr": 120.0, "SPICE": 15.0, "BLEU-4": 30.0} for d in ("in-domain", "near-domain", "out-domain")}
    write_run(root, "vitg-opt2.7b-coco", "nocaps", "val", {"CIDEr": 119.5, "SPICE": None, "BLEU-4": 31.0,
                                                           "METEOR": 20.0, "by_domain": domains}, n=4500)
    write_run(root, "my-finetune", "okvqa", "test", {"accuracy": 40.0})
    for model, accuracy in (("toy-opt", 54.37), ("toy-t5", 39.27), ("toy-opt-coco", 56.13)):
        write_run(root, model, "vqav2", "val", {"accuracy": accuracy}, against="toy root",
                  ci95={"accuracy": [accuracy - 5, accuracy + 5]})
    write_run(root, "toy-qformer-coco", "coco_retrieval", "test", RETRIEVAL, against="toy root")
    write_run(root, "toy-opt", "coco_caption", "karpathy-test", {"CIDEr": 106.0, "BLEU-4": 50.0, "SPICE": None},
              against="toy root")
    return build_leaderboard(load_paper_results(), results_frame(collect_runs(root)), TOLERANCES)


def _row(tables, title_start, **keys):
    hits = [row for t in tables if t.title.startswith(title_start) for row in t.rows
            if all(getattr(row, k) == v for k, v in keys.items())]
    assert len(hits) == 1, hits
    return hits[0]


def test_paper_pivots_set_the_paper_and_delta_beside_ours(frame):
    tables = pivot_tables(frame)
    vqa = _row(tables, "Table 2", task="vqav2", split="val", model="vitg-flant5xl")
    cell = vqa.cells["accuracy"]
    assert (cell.ours, cell.paper, cell.delta, cell.status, vqa.status) == (63.13, 63.1, 0.03, "reproduced",
                                                                            "reproduced")
    assert cell.text(None) == "63.13 ± 0.20" and cell.text("Δ") == "+0.03"
    # a paper row nobody ran keeps its paper value and says so
    unrun = _row(tables, "Table 2", task="gqa", split="test-dev", model="vitg-flant5xxl")
    assert unrun.run == "" and unrun.cells["accuracy"].ours is None and unrun.status == "not run"
    # NoCaps' domains are rows; a headline number the paper lacks (BLEU-4) sits beside the others, without paper
    nocaps = _row(tables, "Table 3", task="nocaps", subset="out-domain", model="vitg-opt2.7b-coco")
    assert nocaps.cells["CIDEr"].paper == 123.4 and nocaps.cells["BLEU-4"].ours == 30.0
    assert nocaps.cells["BLEU-4"].paper is None
    everything = _row(tables, "Table 3", task="nocaps", subset="all", model="vitg-opt2.7b-coco")
    assert everything.cells["SPICE"].status == "not scored"
    assert everything.status == "CIDEr: reproduced; SPICE: not scored"


def test_the_papers_r_mean_is_derived_from_its_six_recalls(frame):
    tables = pivot_tables(frame)
    row = _row(tables, "Table 5", task="coco_retrieval", model="vitg-qformer-coco")
    r_mean = row.cells["R_mean"]
    assert r_mean.derived and r_mean.paper == pytest.approx((85.4 + 97.0 + 98.5 + 68.3 + 87.7 + 92.6) / 6)
    assert r_mean.delta == pytest.approx(88.13 - r_mean.paper, abs=1e-4) and r_mean.status is None
    assert r_mean.text("paper") == "88.25†"
    table = next(t for t in tables if t.title.startswith("Table 5"))
    assert "the paper prints no R_mean" in table_markdown(table)
    # Table 6 gives only R@1 and R@5: no R_mean of the paper to derive
    ablation = _row(tables, "Table 6", task="coco_retrieval", model="vitg-qformer-coco-no-itg")
    assert ablation.cells["R_mean"].paper is None


def test_every_run_sits_in_one_pivot_and_answer_types_stay_long(frame):
    tables = pivot_tables(frame)
    seen = Counter((row.task, row.split, row.subset, row.run) for t in tables for row in t.rows if row.run)
    # vqav2, nocaps (all and 3 domains), coco retrieval, okvqa; the toy vqav2 x 3, retrieval and captioning
    assert len(seen) == 1 + 4 + 1 + 1 + 3 + 1 + 1
    assert {key: n for key, n in seen.items() if n > 1} == {("coco_retrieval", "test", "all", "vitg-qformer-coco"): 2}
    assert not any(row.subset == "yes/no" for t in tables for row in t.rows)
    other = [t for t in tables if t.section == "other"]
    assert [t.title for t in other] == ["Other runs: VQA (accuracy)"]
    assert [(r.model, r.task) for r in other[0].rows] == [("my-finetune", "okvqa")]
    for table in tables:  # only the headline metrics, in their order
        metrics = [c.metric for c in table.columns if c.side is None]
        assert metrics == [m for m in HEADLINE[table.kind] if m in metrics]


def test_toy_pivots_show_chance_and_reference(frame):
    tables = pivot_tables(frame, REFERENCES)
    vqa = next(t for t in tables if t.title == "Toy world: VQA (accuracy)")
    assert vqa.headers == ["task", "split", "model", "accuracy", "chance", "reference"]
    assert vqa.text_rows == [["vqav2", "val", "toy-opt", "54.37 ± 5.00", "37.47", "64.20"],
                             ["vqav2", "val", "toy-t5", "39.27 ± 5.00", "37.47", "61.00"],
                             ["vqav2", "val", "toy-opt-coco", "56.13 ± 5.00", "37.47", "64.20"]]  # toy-opt's LLM
    retrieval = next(t for t in tables if t.title.startswith("Toy world: retrieval"))
    assert retrieval.headers == ["task", "split", "model", "TR@1", "chance", "reference", "IR@1", "R_mean"]
    captions = next(t for t in tables if t.title.startswith("Toy world: captioning"))
    assert captions.title == "Toy world: captioning (CIDEr, BLEU-4)"  # SPICE is null: no column
    without = next(t for t in pivot_tables(frame) if t.title == "Toy world: VQA (accuracy)")
    assert without.headers == ["task", "split", "model", "accuracy"]


def test_markdown_opens_with_the_pivots(frame):
    text = to_markdown(frame, TOLERANCES, REFERENCES)
    glance = text.index("## At a glance")
    assert glance < text.index("### Table 2: zero-shot VQA") < text.index("### Toy world")
    assert text.index("### Toy world") < text.index("### Other runs: VQA") < text.index("## Every number, one per row")
    assert "<summary>Table 4: fine-tuned VQAv2: 6 rows, none run</summary>" in text
    assert "| vqav2 | val | toy-t5 | 39.27 ± 5.00 | 37.47 | 61.00 |" in text
    assert toy_references.WRITE_COMMAND in text
    long = text[text.index("## Every number, one per row"):]
    assert long.count("<details>") == long.count("</details>") == 7  # Tables 2-6, the toy world, the others


def test_the_pivots_need_no_plotting_library():
    code = ("import sys; sys.modules['matplotlib'] = None; import bench.leaderboard_pivot, bench.leaderboard; "
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_the_committed_references_cover_the_default_jobs_headline_numbers():
    references = toy_references.load()
    assert references.toy_root["seed"] == 0 and references.toy_root["size"] == "default"
    for task, split, metric in (("vqav2", "val", "accuracy"), ("okvqa", "test", "accuracy"),
                                ("gqa", "test-dev", "accuracy"), ("nocaps", "val", "CIDEr"),
                                ("coco_caption", "karpathy-test", "BLEU-4"), ("flickr30k", "test", "R_mean")):
        assert references.lookup("toy-opt", task, split, "all", metric)[0] is not None, (task, metric)
    for model in ("toy-opt", "toy-t5"):
        for task, split in (("vqav2", "val"), ("okvqa", "test"), ("gqa", "test-dev")):
            assert references.lookup(model, task, split, "all", "accuracy")[1] is not None
    assert references.lookup("toy-qformer-coco", "coco_retrieval", "test", "all", "IR@1")[1] is not None
    assert references.lookup("toy-qformer-coco", "vqav2", "val", "all", "accuracy")[1] is None  # no LLM


def test_references_round_trip_and_a_broken_file_names_the_fix(tmp_path):
    path = toy_references.write(REFERENCES, tmp_path / "refs.json")
    again = toy_references.load(path)
    assert again.lookup("toy-t5", "vqav2", "val", "all", "accuracy") == (37.47, 61.0)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["command"] == toy_references.WRITE_COMMAND and document["toy_root"]["seed"] == 0
    del document["chance"][0]["metric"]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ReferencesError, match=r"refs.json: malformed .*toy-ceiling --write"):
        toy_references.load(path)
    with pytest.raises(ReferencesError, match="cannot read it"):
        toy_references.load(tmp_path / "missing.json")


def test_build_flattens_the_measurements_and_names_the_root(tmp_path):
    manifest = {"generator": "g", "version": "1", "seed": 3, "size": "small", "sha256": {"b": "2", "a": "1"}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    vqa = {("vqav2", "val"): {"accuracy": 64.23, "accuracy_by_answer_type": {"yes/no": 90.0}}}
    built = toy_references.build(tmp_path, {"toy-t5": vqa}, {"flickr30k": {"TR@1": 100.0, "IR@1": 81.93,
                                                                           "ambiguous_texts": 27.6}},
                                 {("nocaps", "val"): {"CIDEr": 33.97, "SPICE": None,
                                                      "by_domain": {"in-domain": {"CIDEr": 31.97, "n": 50}}}})
    assert built.lookup("toy-t5", "vqav2", "val", "yes/no", "accuracy") == (None, 90.0)
    assert built.lookup("toy-opt", "vqav2", "val", "all", "accuracy") == (None, None)  # another LLM's reference
    assert built.lookup("toy-opt", "flickr30k", "test", "all", "IR@1") == (None, 81.93)
    assert built.lookup("toy-opt", "nocaps", "val", "in-domain", "CIDEr") == (31.97, None)
    assert {r["metric"] for r in built.chance} == {"CIDEr"}  # SPICE null and the domain's n are no chance levels
    assert built.toy_root == {"generator": "g", "version": "1", "seed": 3, "size": "small",
                              "manifest_sha256": toy_references.manifest_digest({"a": "1", "b": "2"})}
