"""The toy BLIP-2 world: procedurally drawn shape scenes, written in every benchmark's official files.

``build(out, seed=0, size="default")`` writes a data root that the real task loaders and scorers read
unchanged (``python -m bench toy-data`` is its command line), so the whole harness can be exercised in
minutes on a laptop. ``training_corpus(root)`` gives the text-only data for the toy LLMs.
"""

from tasks.toy.config import DEFAULT_SEED, DEFAULT_SIZE, GENERATOR_VERSION, SIZE_PRESETS, ToySizes
from tasks.toy.language import training_corpus
from tasks.toy.writer import BuildResult, build, generate, read_manifest

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SIZE",
    "GENERATOR_VERSION",
    "SIZE_PRESETS",
    "BuildResult",
    "ToySizes",
    "build",
    "generate",
    "read_manifest",
    "training_corpus",
]
