"""The registry declares exactly the seven tasks, their splits and the paper's default settings."""

from __future__ import annotations

import json

import pytest

import tasks
from tasks import GenerationSettings, RetrievalSettings, TaskError

EXPECTED_SPLITS = {
    "vqav2": ("val", "test-dev"),
    "okvqa": ("test",),
    "gqa": ("test-dev",),
    "nocaps": ("val",),
    "coco_caption": ("karpathy-test", "karpathy-val"),
    "flickr30k": ("test",),
    "coco_retrieval": ("test",),
}
EXPECTED_KINDS = {
    "vqav2": "vqa",
    "okvqa": "vqa",
    "gqa": "vqa",
    "nocaps": "caption",
    "coco_caption": "caption",
    "flickr30k": "retrieval",
    "coco_retrieval": "retrieval",
}


def test_exactly_the_seven_tasks_with_their_splits_and_kinds():
    assert tasks.names() == list(EXPECTED_SPLITS)
    for name, splits in EXPECTED_SPLITS.items():
        task = tasks.get(name)
        assert task.name == name
        assert task.split_names == splits
        assert task.kind == EXPECTED_KINDS[name]
        assert task.default_split == splits[0]
        assert task.split().name == splits[0]
    assert [t.name for t in tasks.all_tasks()] == tasks.names()


def test_unknown_task_lists_the_known_names():
    with pytest.raises(TaskError) as err:
        tasks.get("vqa2")
    message = str(err.value)
    assert "'vqa2'" in message
    for name in EXPECTED_SPLITS:
        assert name in message


def test_unknown_split_lists_the_splits():
    with pytest.raises(TaskError, match=r"no split 'test'.*val, test-dev"):
        tasks.get("vqav2").split("test")


def test_listing_is_json_and_names_files_and_paper_rows():
    listing = json.loads(json.dumps(tasks.listing()))
    by_name = {entry["name"]: entry for entry in listing}
    vqav2_val = by_name["vqav2"]["splits"][0]
    assert vqav2_val["files"] == [
        "vqav2/v2_OpenEnded_mscoco_val2014_questions.json",
        "vqav2/v2_mscoco_val2014_annotations.json",
    ]
    assert vqav2_val["paper"] == [["Table 2", "VQAv2 val"]]
    assert by_name["vqav2"]["splits"][1]["has_answers"] is False
    assert by_name["coco_caption"]["splits"][0]["alternative_files"] == [
        "coco/annotations/coco_karpathy_test.json"
    ]
    assert by_name["flickr30k"]["splits"][0]["files"] == ["flickr30k/dataset_flickr30k.json"]
    assert by_name["gqa"]["metrics"] == ["accuracy"]
    assert by_name["nocaps"]["metrics"][-1] == "by_domain"
    assert by_name["coco_retrieval"]["settings"] == {
        "image_size": 364,
        "k_test": 128,
        "max_text_tokens": 35,
        "max_caption_words": 50,
    }


@pytest.mark.parametrize("name", ["vqav2", "okvqa", "gqa"])
def test_zero_shot_vqa_defaults(name):
    task = tasks.get(name)
    assert task.image_size == 224
    opt, t5 = task.settings("opt"), task.settings("t5")
    assert opt.prompt == "Question: {} Answer:"
    assert t5.prompt == "Question: {} Short answer:"
    for settings in (opt, t5):
        assert (
            settings.image_size,
            settings.num_beams,
            settings.max_new_tokens,
            settings.min_new_tokens,
        ) == (
            224,
            5,
            10,
            1,
        )
        assert settings.length_penalty == -1.0


def test_finetuned_vqa_variant():
    for family in ("opt", "t5"):
        settings = tasks.get("vqav2").settings(family, variant="finetuned")
        assert (settings.image_size, settings.prompt, settings.num_beams) == (490, "Question: {} Answer:", 5)
    with pytest.raises(TaskError, match="variants: zero-shot, finetuned"):
        tasks.get("vqav2").settings("opt", variant="few-shot")


@pytest.mark.parametrize("name", ["coco_caption", "nocaps"])
def test_caption_defaults(name):
    task = tasks.get(name)
    assert task.image_size == 364
    for family in ("opt", "t5"):
        s = task.settings(family)
        assert s.to_dict() == {
            "prompt": "a photo of",
            "image_size": 364,
            "num_beams": 5,
            "max_new_tokens": 30,
            "min_new_tokens": 8,
            "length_penalty": 1.0,
            "repetition_penalty": 1.0,
        }


@pytest.mark.parametrize("name", ["flickr30k", "coco_retrieval"])
def test_retrieval_defaults(name):
    settings = tasks.get(name).settings()
    assert isinstance(settings, RetrievalSettings)
    assert (settings.image_size, settings.k_test, settings.max_text_tokens) == (364, 128, 35)


def test_overrides_build_a_new_frozen_object_and_leave_the_registry_alone():
    task = tasks.get("okvqa")
    changed = task.settings("opt", {"num_beams": "3", "max_new_tokens": 20, "prompt": "Q: {} A:"})
    assert isinstance(changed, GenerationSettings)
    assert (changed.num_beams, changed.max_new_tokens, changed.prompt) == (3, 20, "Q: {} A:")
    assert task.settings("opt").num_beams == 5
    with pytest.raises(AttributeError):
        changed.num_beams = 1  # type: ignore[misc]
    assert json.loads(json.dumps(changed.to_dict()))["num_beams"] == 3
    retrieval = tasks.get("coco_retrieval").settings(None, {"k_test": 16})
    assert retrieval.k_test == 16 and tasks.get("coco_retrieval").settings().k_test == 128


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"beams": 3}, "unknown setting.*beams.*known settings: prompt"),
        ({"num_beams": "many"}, "num_beams must be an integer, got 'many'"),
        ({"num_beams": 0}, "num_beams must be an integer >= 1"),
        ({"min_new_tokens": 40}, "min_new_tokens=40 exceeds max_new_tokens=10"),
        ({"length_penalty": float("nan")}, "length_penalty must be a finite number"),
        ({"prompt": "Answer:"}, "exactly one '{}'"),
        ({"num_beams": True}, "booleans are not accepted"),
    ],
)
def test_bad_overrides_are_rejected(overrides, message):
    with pytest.raises(TaskError, match=message):
        tasks.get("vqav2").settings("opt", overrides)


def test_generation_tasks_need_a_known_family():
    with pytest.raises(TaskError, match="one of opt, t5; got 'llama'"):
        tasks.get("nocaps").settings("llama")


def test_prompt_for_preprocesses_the_question():
    task = tasks.get("vqav2")
    from tasks import Sample

    sample = Sample(1, 1, __import__("pathlib").Path("x.jpg"), 'What is "this" (thing)?!')
    assert task.prompt_for(sample, task.settings("t5")) == "Question: what is this thing? Short answer:"
    caption_task = tasks.get("coco_caption")
    assert caption_task.prompt_for(sample, caption_task.settings("opt")) == "a photo of"


def test_paper_rows():
    assert tasks.get("okvqa").split("test").paper == (("Table 2", "OK-VQA test"),)
    assert ("Table 3", "COCO Karpathy test") in tasks.get("coco_caption").split("karpathy-test").paper
    assert ("Table 5", "COCO fine-tuned 5K test") in tasks.get("coco_retrieval").split("test").paper
    assert ("Table 3", "NoCaps val") in tasks.get("nocaps").split("val").paper
