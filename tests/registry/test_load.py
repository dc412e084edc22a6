"""Loading splits from a data root: what the runner gets, and the checks made before any model runs."""

from __future__ import annotations

import json
import shutil

import pytest

import tasks
from tasks import DataError, GenerationSplit, RetrievalSplit, TaskError
from tasks.formats import write_lavis_captions, write_vqa_annotations
from tests.registry.fixture_data import VQA_VAL, coco_image


def test_vqav2_val_samples_images_and_references(data_root):
    loaded = tasks.get("vqav2").load(data_root, "val")
    assert isinstance(loaded, GenerationSplit)
    assert (loaded.task, loaded.split, loaded.kind, loaded.total) == ("vqav2", "val", "vqa", 3)
    assert loaded.ids == [101, 102, 103]
    first = loaded.samples[0]
    assert (first.image_id, first.question) == (1, "Is there a dog?")
    assert first.image_path == data_root / "coco/images/val2014/COCO_val2014_000000000001.jpg"
    assert loaded.references[102]["answer_type"] == "number"
    assert loaded.files == (
        data_root / "vqav2/v2_OpenEnded_mscoco_val2014_questions.json",
        data_root / "vqav2/v2_mscoco_val2014_annotations.json",
    )


def test_vqav2_test_dev_uses_test2015_images_and_has_no_answers(data_root):
    loaded = tasks.get("vqav2").load(data_root, "test-dev")
    assert loaded.has_answers is False and loaded.references == {}
    assert loaded.samples[1].image_path == coco_image(data_root, "test2015", 12)


def test_every_task_loads_from_the_tiny_root(data_root):
    sizes = {
        ("okvqa", "test"): 2,
        ("gqa", "test-dev"): 2,
        ("nocaps", "val"): 6,
        ("coco_caption", "karpathy-test"): 2,
        ("coco_caption", "karpathy-val"): 1,
        ("flickr30k", "test"): 2,
        ("coco_retrieval", "test"): 2,
    }
    for (name, split), size in sizes.items():
        loaded = tasks.get(name).load(data_root, split)
        assert len(loaded) == size, (name, split)
        if isinstance(loaded, RetrievalSplit):
            paths = list(loaded.image_paths)
        else:
            paths = [sample.image_path for sample in loaded.samples]
        assert paths and all(path.is_file() for path in paths)


def test_gqa_nocaps_and_coco_caption_ids(data_root):
    gqa = tasks.get("gqa").load(data_root)
    assert gqa.ids == ["g1", "g2"] and gqa.references == {"g1": "left", "g2": "no"}
    assert gqa.samples[0].image_path == data_root / "gqa/images/n1.jpg"
    nocaps = tasks.get("nocaps").load(data_root)
    assert [s.domain for s in nocaps.samples] == [
        "in-domain",
        "in-domain",
        "near-domain",
        "near-domain",
        "out-domain",
        "out-domain",
    ]
    assert nocaps.samples[0].image_path == data_root / "nocaps/images/0001.jpg"
    coco = tasks.get("coco_caption").load(data_root, "karpathy-test")
    assert coco.ids == [1, 2]
    assert coco.references[2] == ("Two cats sleeping on a bed.", "Cats lying together on a blanket.")


def test_retrieval_split_links_images_and_texts(data_root):
    loaded = tasks.get("coco_retrieval").load(data_root)
    assert isinstance(loaded, RetrievalSplit)
    assert loaded.image_ids == (1, 2)
    assert loaded.texts[2] == "Two cats sleeping on a bed."
    assert loaded.img2txt == ((0, 1), (2, 3)) and loaded.txt2img == (0, 0, 1, 1)
    task = tasks.get("coco_retrieval")
    assert task.texts_for_model(loaded, task.settings())[0] == "a dog sitting on a couch"


def test_limit_keeps_the_first_samples_and_only_checks_their_images(data_root):
    coco_image(data_root, "val2014", 3).unlink()
    loaded = tasks.get("vqav2").load(data_root, "val", limit=2)
    assert loaded.ids == [101, 102] and loaded.total == 3 and list(loaded.references) == [101, 102]
    with pytest.raises(DataError):
        tasks.get("vqav2").load(data_root, "val")
    retrieval = tasks.get("flickr30k").load(data_root, limit=1)
    assert retrieval.texts == ("A child plays in the sand.", "A kid at the beach.") and retrieval.txt2img == (
        0,
        0,
    )
    with pytest.raises(TaskError, match="limit must be a positive integer"):
        tasks.get("vqav2").load(data_root, "val", limit=0)


def test_missing_image_names_the_path_and_where_to_get_it(data_root):
    coco_image(data_root, "val2014", 2).unlink()
    with pytest.raises(DataError) as err:
        tasks.get("okvqa").load(data_root)
    message = str(err.value)
    assert "okvqa test: 1 of 2 image file(s) missing" in message
    assert "COCO_val2014_000000000002.jpg" in message
    assert "https://cocodataset.org/#download" in message
    assert tasks.get("okvqa").load(data_root, check_images=False).ids == [301, 302]


def test_missing_annotation_file_names_file_layout_and_source(data_root):
    (data_root / "vqav2/v2_mscoco_val2014_annotations.json").unlink()
    with pytest.raises(DataError) as err:
        tasks.get("vqav2").load(data_root)
    message = str(err.value)
    assert f"missing file {data_root / 'vqav2/v2_mscoco_val2014_annotations.json'}" in message
    assert "visualqa.org/download.html" in message
    assert "--data-root" in message and "BLIP2_DATA" in message


def test_question_without_annotation_is_named(data_root):
    write_vqa_annotations(data_root / "vqav2/v2_mscoco_val2014_annotations.json", VQA_VAL[:2])
    with pytest.raises(DataError, match=r"no annotation for question_id\(s\) 103"):
        tasks.get("vqav2").load(data_root)


def test_malformed_split_file_names_field(data_root):
    path = data_root / "nocaps/nocaps_val_4500_captions.json"
    raw = json.loads(path.read_text())
    del raw["images"][4]["file_name"]
    path.write_text(json.dumps(raw))
    with pytest.raises(
        DataError, match=r"nocaps_val_4500_captions.json: images\[4\]: field 'file_name' is missing"
    ):
        tasks.get("nocaps").load(data_root)


def test_lavis_json_is_used_only_without_the_karpathy_file(data_root):
    lavis_path = data_root / "coco/annotations/coco_karpathy_test.json"
    write_lavis_captions(
        lavis_path, [{"image": "val2014/COCO_val2014_000000000003.jpg", "caption": ["lavis caption"]}]
    )
    preferred = tasks.get("coco_caption").load(data_root, "karpathy-test")
    assert preferred.ids == [1, 2] and preferred.notes == ()
    (data_root / "coco/annotations/dataset_coco.json").unlink()
    fallback = tasks.get("coco_caption").load(data_root, "karpathy-test")
    assert fallback.ids == [3] and fallback.references[3] == ("lavis caption",)
    assert fallback.files == (lavis_path,)
    assert "read the LAVIS annotation file" in fallback.notes[0]
    retrieval = tasks.get("coco_retrieval").load(data_root)
    assert retrieval.image_ids == (3,)


def test_flickr_lavis_image_paths_map_to_our_folder(data_root):
    (data_root / "flickr30k/dataset_flickr30k.json").unlink()
    write_lavis_captions(
        data_root / "flickr30k/flickr30k_test.json",
        [{"image": "flickr30k-images/101.jpg", "caption": ["x", "y", "z"]}],
    )
    loaded = tasks.get("flickr30k").load(data_root)
    assert loaded.image_paths == (data_root / "flickr30k/images/101.jpg",)
    assert loaded.img2txt == ((0, 1, 2),)


def test_neither_karpathy_nor_lavis_file_names_both(data_root):
    shutil.rmtree(data_root / "coco/annotations")
    with pytest.raises(DataError) as err:
        tasks.get("coco_caption").load(data_root, "karpathy-val")
    message = str(err.value)
    assert "dataset_coco.json" in message and "coco_karpathy_val.json" in message
    assert "karpathy/deepimagesent" in message


def test_data_root_defaults_to_environment(data_root, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BLIP2_DATA", str(data_root))
    assert tasks.get("gqa").load().data_root == data_root
