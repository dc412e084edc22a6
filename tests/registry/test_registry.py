"""The registry's behaviour: every task loads and scores its fixture split, a split reads the files it
declares, a new task can be registered, and settings/lookups fail with messages that say what to do."""

from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tasks
from tasks import GenerationSettings, RetrievalSplit, Scored, Scorer, Task, TaskError
from tasks import loaders as task_loaders

# What results record as their "scorer", per task scorer: metrics.json, the leaderboard and the committed
# baselines read these strings, so they must not change.
RECORDED_SCORER = {
    "vqa": "lavis",
    "gqa": "gqa-exact-match-after-vqa-normalisation",
    "caption": "pycocoevalcap",
    "nocaps": "pycocoevalcap",
    "retrieval": "recall-at-k",
}


def _right_and_wrong(loaded):
    """Predictions that match the references, and predictions that match none of them."""
    if isinstance(loaded, RetrievalSplit):
        right = np.zeros((len(loaded.image_paths), len(loaded.texts)), dtype=np.float32)
        for image, texts in enumerate(loaded.img2txt):
            right[image, list(texts)] = 1.0
        return (right, right.T.copy()), (-right, -right.T.copy())
    right = {}
    for key in loaded.ids:
        reference = loaded.references[key]
        if isinstance(reference, dict):  # a VQA annotation: the annotators' most common answer
            reference = Counter(a["answer"] for a in reference["answers"]).most_common(1)[0][0]
        elif not isinstance(reference, str):  # reference captions
            reference = reference[0]
        right[key] = reference
    return right, {key: "zebra zebra zebra" for key in loaded.ids}


@pytest.mark.parametrize("name", tasks.names())
def test_every_task_loads_its_default_split_and_its_scorer_prefers_right_answers(data_root, name):
    task = tasks.get(name)
    loaded = task.load(data_root)
    assert loaded.task == name and len(loaded) > 0
    right, wrong = _right_and_wrong(loaded)
    good, bad = task.score(right, loaded), task.score(wrong, loaded)
    headline = task.metrics[0]
    assert good["metrics"][headline] > bad["metrics"][headline]
    assert good["scorer"] == RECORDED_SCORER[task.scorer.name]
    assert (good["task"], good["split"], good["n"]) == (name, loaded.split, len(loaded))
    # the fixture is far smaller than the paper's split, so the result is partial, and says so with counts
    assert good["partial"] is True and good["coverage"]["evaluated"] == len(loaded)
    assert good["coverage"]["official_size"] == task.split(loaded.split).official_size
    assert set(task.metrics) <= set(good["metrics"])


def _splits():
    return [(task.name, spec.name) for task in tasks.all_tasks() for spec in task.splits]


@pytest.mark.parametrize(("name", "split"), _splits())
def test_a_split_reads_exactly_the_files_it_declares(data_root, name, split):
    task = tasks.get(name)
    spec = task.split(split)
    loaded = task.load(data_root, split)
    assert loaded.files == tuple(data_root / rel for rel in spec.files.values())
    images = loaded.image_paths if isinstance(loaded, RetrievalSplit) else [s.image_path for s in loaded.samples]
    assert all(Path(p).is_relative_to(data_root / spec.image_folder) for p in images)
    for rel in spec.files.values():  # each declared file is needed, and its absence is named
        path = data_root / rel
        moved = path.rename(path.with_name(path.name + ".away"))
        with pytest.raises(tasks.DataError, match=str(path)):
            task.load(data_root, split)
        moved.rename(path)


def test_listing_is_json_and_records_each_scorer_by_name():
    listing = json.loads(json.dumps(tasks.listing()))
    assert [entry["name"] for entry in listing] == tasks.names()
    for entry, task in zip(listing, tasks.all_tasks(), strict=True):
        assert entry["scorer"] == task.scorer.name
        assert [s["files"] for s in entry["splits"]] == [list(s.files.values()) for s in task.splits]


def _exact_match(inputs) -> Scored:
    right = sum(inputs.candidates[key] == inputs.loaded.references[key] for key in inputs.ids)
    return Scored("exact-match", {"accuracy": 100 * right / len(inputs.ids)})


def test_a_new_task_is_its_definition_plus_one_registration(data_root, monkeypatch):
    monkeypatch.setattr(tasks, "_BY_NAME", dict(tasks._BY_NAME))  # leave the real registry as it was
    gqa_split = tasks.get("gqa").split()
    prompt = GenerationSettings(prompt="{}", image_size=224, num_beams=1, max_new_tokens=5, min_new_tokens=1,
                                length_penalty=1.0)
    task = Task(name="gqa-exact", kind="vqa", description="raw exact match on GQA", splits=(gqa_split,),
                default_split=gqa_split.name, image_size=224, metrics=("accuracy",),
                scorer=Scorer("exact", _exact_match), prediction_format="gqa", loader=task_loaders.load_gqa,
                variants={"default": {"opt": prompt, "t5": prompt}})
    assert tasks.register(task) is task
    assert tasks.get("gqa-exact") is task and tasks.names()[-1] == "gqa-exact"
    assert tasks.listing()[-1]["scorer"] == "exact"
    loaded = task.load(data_root)
    answers = dict(loaded.references)
    first = loaded.ids[0]
    result = task.score({**answers, first: answers[first] + "!"}, loaded)
    assert result["scorer"] == "exact-match"
    assert result["metrics"]["accuracy"] == pytest.approx(100 * (len(answers) - 1) / len(answers))
    with pytest.raises(TaskError, match="'gqa-exact' is already registered"):
        tasks.register(task)
    with pytest.raises(TaskError, match="lemmatizing answers applies to"):  # the scorer takes no lemmatize option
        task.score(answers, loaded, lemmatize=True)


def test_scoring_does_not_import_the_task_module():
    """task.py calls evaluation.py; evaluation.py and the scorers know a task only by its attributes."""
    package = Path(tasks.__file__).parent
    for module in ("evaluation.py", "scorers.py"):
        tree = ast.parse((package / module).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not imported & {"tasks.task", "tasks.registry", "tasks"}, module


def test_unknown_task_lists_the_known_names():
    with pytest.raises(TaskError) as err:
        tasks.get("vqa2")
    message = str(err.value)
    assert "'vqa2'" in message
    assert all(name in message for name in tasks.names())


def test_unknown_split_and_variant_list_the_valid_ones():
    with pytest.raises(TaskError, match=r"no split 'test'.*val, test-dev"):
        tasks.get("vqav2").split("test")
    with pytest.raises(TaskError, match="variants: zero-shot, finetuned"):
        tasks.get("vqav2").settings("opt", variant="few-shot")


def test_overrides_build_a_new_frozen_object_and_leave_the_registry_alone():
    task = tasks.get("okvqa")
    default = task.settings("opt")
    changed = task.settings("opt", {"num_beams": "3", "max_new_tokens": 20, "prompt": "Q: {} A:"})
    assert isinstance(changed, GenerationSettings)
    assert (changed.num_beams, changed.max_new_tokens, changed.prompt) == (3, 20, "Q: {} A:")
    assert task.settings("opt") == default
    with pytest.raises(AttributeError):
        changed.num_beams = 1  # type: ignore[misc]
    assert json.loads(json.dumps(changed.to_dict()))["num_beams"] == 3
    retrieval = tasks.get("coco_retrieval")
    k = retrieval.settings().k_test
    assert retrieval.settings(None, {"k_test": k + 1}).k_test == k + 1 and retrieval.settings().k_test == k


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
    sample = tasks.Sample(1, 1, Path("x.jpg"), 'What is "this" (thing)?!')
    settings = task.settings("t5", {"prompt": "Q: {} A:"})
    assert task.prompt_for(sample, settings) == "Q: what is this thing? A:"
    caption_task = tasks.get("coco_caption")
    caption_settings = caption_task.settings("opt")
    assert caption_task.prompt_for(sample, caption_settings) == caption_settings.prompt

