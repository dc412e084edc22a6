"""`bench report`'s files, read without a browser: escaping, the filter counts, the data chunks, thumbnails,
compare pages and retrieval's top-5 lists, each checked against the run folders themselves."""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter

import numpy as np
from PIL import Image

from bench.compare_report import compare_runs
from tests.report.conftest import chunk_rows, facet_counts
from tests.report.synthetic import BIG, XSS, read_records


def test_every_page_escapes_the_texts_of_data_and_models(report):
    pages = list(report.rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        assert XSS not in page.read_text(encoding="utf-8"), page
    index = (report / "index.html").read_text(encoding="utf-8")
    assert html.escape(XSS) in index  # the run named XSS is listed, as text
    # In the data files the XSS texts are JSON strings, which the page sets with textContent (tested in Chromium).
    rows = chunk_rows(report, "model-a--vqav2-val")
    assert rows[0]["q"] == XSS and rows[1]["p"] == XSS
    assert chunk_rows(report, "model-a--coco_caption-karpathy-test")[0]["p"] == XSS


def test_the_filter_counts_are_the_run_folders_own(report, world):
    vqa = read_records(world.folder("model-a", "vqav2", "val"))
    facets = facet_counts(report / "runs" / "model-a--vqav2-val.html")
    assert facets["score"][0][1] == len(vqa)
    assert facets["score"][1] == (f"wrong (accuracy 0) ({sum(r['accuracy'] == 0 for r in vqa)})",
                                  sum(r["accuracy"] == 0 for r in vqa))
    assert sum(count for _, count in facets["score"][1:]) == len(vqa)
    by_type = Counter(r["answer_type"] for r in vqa)
    assert {label.rsplit(" (", 1)[0]: count for label, count in facets["answer_type"][1:]} == by_type

    captions = read_records(world.folder("model-a", "coco_caption", "karpathy-test"))
    cider = np.sort([r["CIDEr"] for r in captions])
    edge = cider[int(np.ceil(len(cider) / 10)) - 1]
    caption_facets = facet_counts(report / "runs" / "model-a--coco_caption-karpathy-test.html")
    assert caption_facets["score"][1][1] == int(np.sum(cider <= edge)) >= math.ceil(len(cider) / 10)

    ranks = read_records(world.folder("model-a", "flickr30k", "test"))
    retrieval = facet_counts(report / "runs" / "model-a--flickr30k-test.html")
    assert 0 < retrieval["score"][1][1] == sum(r["rank"] > 1 for r in ranks) < len(ranks)
    assert [c for _, c in retrieval["query"][1:]] == [sum(r["query"] == q for r in ranks) for q in ("image", "text")]


def test_the_data_chunks_hold_every_sample_once_in_order(report, world):
    rows = chunk_rows(report, "model-big--vqav2-val")
    records = read_records(world.folder("model-big", "vqav2", "val"))
    assert len(list((report / "data" / "model-big--vqav2-val").glob("chunk-*.js"))) == math.ceil(BIG / 1000)
    assert [row["id"] for row in rows] == [f"question {r['id']}" for r in records]
    assert [row["p"] for row in rows] == [r["prediction"] for r in records]
    facets = (report / "data" / "model-big--vqav2-val" / "facets.js").read_text(encoding="utf-8")
    codes = json.loads(re.fullmatch(r'window\.__reportFacets\("[^"]*",(.*)\);\n', facets, re.DOTALL).group(1))
    assert [c == 0 for c in codes["score"]] == [r["accuracy"] == 0 for r in records]


def test_a_run_without_its_data_root_still_shows_its_records_and_says_why(report):
    page = (report / "runs" / "model-big--vqav2-val.html").read_text(encoding="utf-8")
    assert "questions and images are not shown" in page and "--data-root" in page
    rows = chunk_rows(report, "model-big--vqav2-val")
    assert "q" not in rows[0] and rows[0].get("th") is None and rows[0]["ans"] == [["other", 7], ["answer 0", 3]]


def test_each_image_gets_one_small_thumbnail_shared_by_every_run(report, world):
    import tasks

    thumbs = list((report / "thumbs").glob("*.jpg"))
    images = {s.image_path for s in tasks.get("vqav2").load(world.root, "val").samples}
    images |= {s.image_path for s in tasks.get("coco_caption").load(world.root, "karpathy-test").samples}
    images |= {s.image_path for s in tasks.get("gqa").load(world.root, "test-dev").samples}
    images |= set(tasks.get("flickr30k").load(world.root, "test").image_paths)
    assert len(thumbs) == len(images)  # VQAv2's images, shown by two runs and by COCO captioning, once each
    for path in thumbs:
        with Image.open(path) as image:
            assert image.format == "JPEG" and max(image.size) <= 96
    shown = {row["th"] for row in chunk_rows(report, "model-a--vqav2-val")}
    assert shown == {row["th"] for row in chunk_rows(report, "model-b--vqav2-val")}
    assert all((report / name).is_file() for name in shown)


def test_the_compare_page_lists_the_samples_whose_score_changed(report, world):
    a, b = world.folder("model-a", "vqav2", "val"), world.folder("model-b", "vqav2", "val")
    slug = "model-a--vqav2-val--vs--model-b--vqav2-val"
    rows = chunk_rows(report, slug)
    by_id_b = {r["id"]: r for r in read_records(b)}
    changed = [r for r in read_records(a) if by_id_b[r["id"]]["accuracy"] != r["accuracy"]]
    assert [row["id"] for row in rows] == [f"question {r['id']}" for r in changed]
    assert len(rows) == compare_runs(a, b, 50, 0, 0)["changed"]["right_to_wrong"]["count"] + compare_runs(
        a, b, 50, 0, 0)["changed"]["wrong_to_right"]["count"]
    fell = sum(by_id_b[r["id"]]["accuracy"] < r["accuracy"] for r in changed)
    assert [c for _, c in facet_counts(report / "compare" / f"{slug}.html")["change"][1:]] == [fell, len(rows) - fell]
    first = rows[0]
    assert first["A"]["p"] == changed[0]["prediction"] and first["B"]["p"] == by_id_b[changed[0]["id"]]["prediction"]


def test_retrieval_top5_lists_put_the_true_match_at_the_recorded_rank(report, world):
    records = read_records(world.folder("model-a", "flickr30k", "test"))
    rows = chunk_rows(report, "model-a--flickr30k-test")
    assert len(rows) == len(records)
    seen = 0
    for record, row in zip(records, rows, strict=True):
        top = row["top_t"] if record["query"] == "image" else row["top_i"]
        marks = [item[2] for item in top]
        assert len(top) == 5 and [item[3] for item in top] == sorted((item[3] for item in top), reverse=True)
        if record["rank"] <= 5:
            assert marks.index(True) == record["rank"] - 1
            seen += 1
        else:
            assert not any(marks)
    assert 0 < seen < len(records)  # both cases were checked
