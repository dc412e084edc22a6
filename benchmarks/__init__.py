"""Benchmarks (`tox -e bench`): our evaluation paths timed beside the transformers path, quoted as ratios."""
