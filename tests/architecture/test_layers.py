"""The layers point one way and no module imports itself round a cycle: read from the source, not run."""

from __future__ import annotations

from pathlib import Path

from tests.architecture.imports import LAYERS, cycles, layer_violations, read_imports

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_project_keeps_its_layers():
    imports = read_imports(REPO, LAYERS)
    assert len({i.source for i in imports}) > 50  # the reader does see the project
    assert layer_violations(imports) == []


def test_the_project_has_no_import_cycles():
    assert cycles(read_imports(REPO, LAYERS)) == []


def test_a_planted_upward_import_is_caught(tmp_path):
    """A synthetic tree: blip2 importing tasks (at module level, inside a function, and relatively from a
    package) and tasks importing bench are each reported; toyworld importing blip2 and tasks is allowed."""
    root = _tree(tmp_path, {
        "tasks/__init__.py": "", "tasks/errors.py": "",
        "tasks/bad.py": "from bench.cli import main\n",
        "blip2/__init__.py": "", "blip2/ok.py": "from . import sub\n", "blip2/sub.py": "",
        "blip2/late.py": "def f():\n    import tasks.errors\n",
        "blip2/direct.py": "from tasks import errors\n",
        "toyworld/__init__.py": "import blip2.ok\nfrom tasks.errors import X\n",
        "bench/__init__.py": "", "bench/cli.py": "import toyworld\n",
    })
    bad = layer_violations(read_imports(root, LAYERS))
    assert sorted(line.split(" ")[0] for line in bad) == ["blip2.direct:1", "blip2.late:2", "tasks.bad:1"]
    assert "blip2.direct:1 imports tasks.errors" in " ".join(bad)


def test_a_planted_cycle_is_caught_but_not_a_type_only_one(tmp_path):
    root = _tree(tmp_path, {
        "tasks/__init__.py": "",
        "tasks/task.py": "from tasks import evaluation\n",
        "tasks/evaluation.py": "def score():\n    from tasks.task import Task\n",
        "tasks/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tasks.b import B\n",
        "tasks/b.py": "from tasks import a\n",
    })
    assert cycles(read_imports(root, LAYERS)) == [["tasks.evaluation", "tasks.task"]]
