"""The toy world's data: procedurally drawn shape scenes, written in every benchmark's official files.

``build(out, seed=0, size="default")`` writes a data root that the real task loaders and scorers read
unchanged (``python -m bench toy-data`` is its command line), so the whole harness can be exercised in
minutes on a laptop.
"""

from toyworld.data.config import DEFAULT_ROOT, DEFAULT_SEED, DEFAULT_SIZE, GENERATOR_VERSION, SIZE_PRESETS, ToySizes
from toyworld.data.root import BuildResult, build, ensure_root, read_manifest, stale_root_message
from toyworld.data.writer import generate

__all__ = [
    "DEFAULT_ROOT",
    "DEFAULT_SEED",
    "DEFAULT_SIZE",
    "GENERATOR_VERSION",
    "SIZE_PRESETS",
    "BuildResult",
    "ToySizes",
    "build",
    "ensure_root",
    "generate",
    "read_manifest",
    "stale_root_message",
]
