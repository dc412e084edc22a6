"""The committed toy checkpoints load from the clone by zoo name, and reproduce the committed numbers on a
--limit subset of the default toy root (the full numbers are in the toyworld/baseline bundle).

After `python -m bench train --recipe toy` re-exports the weights, refresh the expected numbers with
`python -m tests.toy_world.training.test_committed_models data/toy`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import blip2
from bench.runner.run import RunRequest, run_all
from blip2 import zoo
from toyworld import TOY_MODELS

EXPECTED = Path(__file__).with_name("expected_limit.json")
LIMIT = 6
CASES = [("toy-opt", "vqav2"), ("toy-t5", "vqav2"), ("toy-opt-coco", "coco_caption"),
         ("toy-qformer-coco", "coco_retrieval")]


def test_committed_weights_are_small_and_load_by_zoo_name(committed_toy_models):
    from safetensors.torch import load_file

    from toyworld.backbones import WEIGHTS_DIR

    total = sum(f.stat().st_size for f in WEIGHTS_DIR.rglob("*") if f.is_file())
    for name in TOY_MODELS:
        folder = zoo.get(name).local_dir
        total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        model = blip2.load_model(name)
        assert model.source["zoo"] == name and model.cfg == zoo.get(name).config()
        assert blip2.missing_weights(name) is None
        # a frozen backbone comes from its one committed file, not from a copy in the model's own file
        shared = [Path(f) for f in model.source["files"][1:]]
        assert all(f.is_relative_to(WEIGHTS_DIR.resolve()) for f in shared), shared
        own = load_file(str(folder / "model.safetensors"))
        assert not any(k.startswith("llm.") for k in own) or model.cfg.llm is None, name
    assert total <= 40 * 2**20  # the limit on committed toy weights, backbones included


@pytest.mark.parametrize(("model", "task"), CASES)
def test_committed_models_reproduce_their_numbers(model, task, default_root, tmp_path, committed_toy_models):
    if not EXPECTED.is_file():
        pytest.skip(f"{EXPECTED.name} not written yet: "
                    "python -m tests.toy_world.training.test_committed_models data/toy")
    expected = json.loads(EXPECTED.read_text())[f"{model}/{task}"]
    request = RunRequest(tasks=[task], model=model, data_root=str(default_root), output_dir=str(tmp_path),
                         batch_size=50, limit=LIMIT, quiet=True)
    (folder,) = run_all(request)
    metrics = json.loads((folder / "metrics.json").read_text())["metrics"]
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=1e-6), name


def write_expected(data_root: str) -> dict:
    """Evaluate the committed models on the --limit subset and store their metrics as the expectation. The runs
    go to a fresh temporary folder: a run folder left by older weights would be refused (other checkpoint)."""
    import tempfile

    expected = {}
    with tempfile.TemporaryDirectory() as out_dir:
        for model, task in CASES:
            request = RunRequest(tasks=[task], model=model, data_root=data_root, output_dir=out_dir, batch_size=50,
                                 limit=LIMIT, quiet=True)
            (folder,) = run_all(request)
            metrics = json.loads((folder / "metrics.json").read_text())["metrics"]
            expected[f"{model}/{task}"] = {k: v for k, v in metrics.items() if isinstance(v, float | int)}
    EXPECTED.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    return expected


if __name__ == "__main__":
    import sys

    print(write_expected(sys.argv[1] if len(sys.argv) > 1 else "data/toy"))
