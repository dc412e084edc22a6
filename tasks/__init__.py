"""The benchmark registry: ``tasks.get(name)``, ``tasks.names()``, ``tasks.all_tasks()``, ``tasks.register``.

A runner does::

    task = tasks.get("nocaps")
    loaded = task.load(data_root, split=None, limit=None)   # checks files, ids and images first
    settings = task.settings("opt", overrides)              # frozen, JSON-serialisable (to_dict)
    ... generate one text per loaded.samples[i] (prompt: task.prompt_for(sample, settings)) ...
    result = task.score({sample_id: text}, loaded)          # {"task","split","scorer","n","metrics",...}
"""

from __future__ import annotations

import difflib

from tasks.data_root import resolve_data_root
from tasks.errors import DataError, PredictionError, TaskError, TaskInputError
from tasks.registry import TASKS
from tasks.scorers import DEFAULT_VQA_SCORER, VQA_SCORERS, Scored, ScoreInput, Scorer
from tasks.settings import LLM_FAMILIES, GenerationSettings, RetrievalSettings
from tasks.splits import GenerationSplit, LoadedSplit, RetrievalSplit, Sample
from tasks.task import SplitSpec, Task
from tasks.text import preprocess_caption, preprocess_question

_BY_NAME: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add ``task`` to the registry (after the seven paper tasks); a name already taken is an error.

    A task is data plus its loader and scorer (:class:`Task`, :mod:`tasks.scorers`); registering it
    makes ``tasks.get``, ``bench list``, ``bench run --task`` and ``bench score --task`` know it.
    """
    if not isinstance(task, Task):
        raise TaskError(f"tasks.register needs a tasks.Task, got {type(task).__name__}")
    if task.name in _BY_NAME:
        raise TaskError(f"a task named {task.name!r} is already registered; choose another name")
    _BY_NAME[task.name] = task
    return task


for _task in TASKS:
    register(_task)


def names() -> list[str]:
    """Registered task names, in the paper's order."""
    return list(_BY_NAME)


def all_tasks() -> list[Task]:
    """Every registered task, in the paper's order."""
    return list(_BY_NAME.values())


def get(name: str) -> Task:
    """The task called ``name``; an unknown name is an error listing the known ones."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(_BY_NAME), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(_BY_NAME)}{hint}") from None


def listing() -> list[dict]:
    """JSON-ready description of every task (splits, files, defaults, paper rows)."""
    return [task.to_dict() for task in _BY_NAME.values()]


__all__ = [
    "DEFAULT_VQA_SCORER",
    "LLM_FAMILIES",
    "VQA_SCORERS",
    "ScoreInput",
    "Scored",
    "Scorer",
    "TaskInputError",
    "DataError",
    "GenerationSettings",
    "GenerationSplit",
    "LoadedSplit",
    "PredictionError",
    "RetrievalSettings",
    "RetrievalSplit",
    "Sample",
    "SplitSpec",
    "Task",
    "TaskError",
    "all_tasks",
    "get",
    "listing",
    "names",
    "register",
    "preprocess_caption",
    "preprocess_question",
    "resolve_data_root",
]
